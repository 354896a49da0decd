"""Input rules for works, reporting every violation with its field path."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from services.catalog.domain.model import FULL_SHARE_BPS, WorkFields
from services.runtime.errors import Violations

MAX_TITLE_CHARS = 1_000
MAX_BODY_CHARS = 500_000
MAX_AUTHORS = 50
MAX_TAGS = 50
MAX_LABEL_CHARS = 200  # section, tag, author, display names
MAX_EXTERNAL_ID_CHARS = 255
MAX_URL_CHARS = 2_048
MAX_RIGHTS_HOLDERS = 50
# BCP-47, simplified: a 2-3 letter primary language and optional subtags.
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_PARTY = re.compile(r"^[a-z][a-zA-Z]*/[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_work(
    fields: WorkFields, v: Violations, prefix: str = "work", paths: frozenset[str] | None = None
) -> None:
    """Validate the fields in `paths` (all when None)."""

    def want(path: str) -> bool:
        return paths is None or path in paths

    if want("title"):
        _text(v, f"{prefix}.title", fields.title, MAX_TITLE_CHARS, required=True)
    if want("body"):
        _text(v, f"{prefix}.body", fields.body, MAX_BODY_CHARS, required=True)
    if want("external_id"):
        _text(v, f"{prefix}.external_id", fields.external_id, MAX_EXTERNAL_ID_CHARS)
    if want("language") and not _LANGUAGE.match(fields.language):
        v.add(f"{prefix}.language", "must be a BCP-47 language tag such as 'en' or 'en-GB'")
    if want("section"):
        _text(v, f"{prefix}.section", fields.section, MAX_LABEL_CHARS)
    if want("canonical_url") and fields.canonical_url:
        _url(v, f"{prefix}.canonical_url", fields.canonical_url)
    if want("authors"):
        _labels(v, f"{prefix}.authors", fields.authors, MAX_AUTHORS)
    if want("tags"):
        _labels(v, f"{prefix}.tags", fields.tags, MAX_TAGS)
    if want("rights_holders") and fields.rights_holders:
        _rights_holders(v, f"{prefix}.rights_holders", fields)


def check_display_name(v: Violations, field: str, value: str) -> None:
    _text(v, field, value, MAX_LABEL_CHARS, required=True)


def check_email(v: Violations, field: str, value: str) -> None:
    if value and not _EMAIL.match(value):
        v.add(field, "must be an email address")


def _text(v: Violations, field: str, value: str, limit: int, required: bool = False) -> None:
    if required and not value.strip():
        v.add(field, "must not be empty")
    elif len(value) > limit:
        v.add(field, f"must be at most {limit:,} characters (got {len(value):,})")


def _url(v: Violations, field: str, value: str) -> None:
    parts = urlsplit(value)
    if len(value) > MAX_URL_CHARS or parts.scheme not in ("http", "https") or not parts.netloc:
        v.add(field, "must be an absolute http(s) URL")


def check_lookup_url(v: Violations, field: str, value: str) -> None:
    if not value:
        v.add(field, "required: an absolute http(s) URL")
    else:
        _url(v, field, value)


def _labels(v: Violations, field: str, values: tuple[str, ...], limit: int) -> None:
    if len(values) > limit:
        v.add(field, f"at most {limit} entries")
    for i, value in enumerate(values):
        if not value.strip() or len(value) > MAX_LABEL_CHARS:
            v.add(f"{field}[{i}]", f"must be 1..{MAX_LABEL_CHARS} characters")
    if len(set(values)) != len(values):
        v.add(field, "must not repeat entries")


def _rights_holders(v: Violations, field: str, fields: WorkFields) -> None:
    holders = fields.rights_holders
    if len(holders) > MAX_RIGHTS_HOLDERS:
        v.add(field, f"at most {MAX_RIGHTS_HOLDERS} rights holders")
    for i, holder in enumerate(holders):
        if not _PARTY.match(holder.party):
            v.add(f"{field}[{i}].party", "must be a resource name such as 'people/jane-doe'")
        if not 0 < holder.share_bps <= FULL_SHARE_BPS:
            v.add(f"{field}[{i}].share_bps", f"must be between 1 and {FULL_SHARE_BPS}")
    if len({h.party for h in holders}) != len(holders):
        v.add(field, "must not name a party twice")
    total = sum(h.share_bps for h in holders)
    if total != FULL_SHARE_BPS:
        v.add(field, f"shares must sum to {FULL_SHARE_BPS} basis points (got {total})")
