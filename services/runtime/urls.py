"""URLs as works are found by them, the same in the catalog (which stores them) and at
the edge (which looks crawled URLs up)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, no fragment, an empty path as `/`."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))
