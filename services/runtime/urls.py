"""URLs as works are found by them, the same in the catalog (which stores them) and at
the edge (which looks crawled URLs up)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, no fragment, an empty path as `/`."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def url_matches(pattern: str, url: str) -> bool:
    """Whether a URL falls under an RSL content URL pattern: `*` matches anything, a
    trailing `$` ends the URL; otherwise the pattern matches the URLs it begins."""
    if not url:
        return False
    exact = pattern.endswith("$")
    body = pattern[:-1] if exact else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.fullmatch(regex if exact else regex + ".*", url, re.DOTALL) is not None
