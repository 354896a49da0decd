"""Catalog domain: plain Python, no gRPC, no SQLAlchemy."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from services.runtime.urls import canonical_url

FULL_SHARE_BPS = 10_000
_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")  # keeps it's and well-known as one word
# ASCII text (most bodies) is counted without the regex, ten times faster (counting was
# a tenth of the catalog's CPU during a bulk import): each byte becomes w (a word
# character), j (' or -, which joins two words into one) or a space.
_ASCII_CLASSES = (
    bytes(
        ord("w") if chr(c).isalnum() or c == ord("_") else ord("j") if c in b"'-" else ord(" ")
        for c in range(128)
    )
    + b" " * 128
)
_W, _J = ord("w"), ord("j")


@dataclass(frozen=True)
class Publisher:
    id: str
    display_name: str
    contact_email: str
    create_time: datetime

    @property
    def name(self) -> str:
        return f"publishers/{self.id}"


@dataclass(frozen=True)
class Vendor:
    id: str
    display_name: str
    contact_email: str
    create_time: datetime

    @property
    def name(self) -> str:
        return f"vendors/{self.id}"


@dataclass(frozen=True)
class ApiKey:
    id: str
    account: str  # `publishers/{p}` or `vendors/{v}`
    display_name: str
    key_hash: str
    create_time: datetime
    revoke_time: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.account}/apiKeys/{self.id}"


@dataclass(frozen=True)
class OAuthClient:
    """Client credentials for the license server: `client_id` (this id) and a secret
    whose SHA-256 is kept."""

    id: str
    account: str  # `publishers/{p}` or `vendors/{v}`
    display_name: str
    secret_hash: str
    create_time: datetime
    revoke_time: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.account}/oauthClients/{self.id}"


@dataclass(frozen=True)
class RightsHolder:
    party: str
    display_name: str
    share_bps: int


@dataclass(frozen=True)
class WorkFields:
    """What a publisher supplies for a work; everything else is derived."""

    external_id: str = ""
    title: str = ""
    authors: tuple[str, ...] = ()
    language: str = ""
    section: str = ""
    tags: tuple[str, ...] = ()
    canonical_url: str = ""
    publish_time: datetime | None = None
    body: str = ""
    rights_holders: tuple[RightsHolder, ...] = ()


MUTABLE_FIELDS = frozenset(WorkFields.__dataclass_fields__)


@dataclass(frozen=True)
class Work:
    publisher_id: str
    id: str
    fields: WorkFields
    content_hash: str
    word_count: int
    version: int
    create_time: datetime
    update_time: datetime
    etag: str
    # Internal, stable ordering key assigned by storage (0 until stored).
    seq: int = field(default=0, compare=False)

    @property
    def name(self) -> str:
        return f"publishers/{self.publisher_id}/works/{self.id}"

    @property
    def publisher_name(self) -> str:
        return f"publishers/{self.publisher_id}"


@dataclass(frozen=True)
class WorkFilter:
    """Which works a listing returns; all that are set must hold."""

    publisher_id: str | None = None  # None: every publisher
    section: str = ""
    tag: str = ""
    published_after: datetime | None = None
    published_before: datetime | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class WorkVersion:
    version: int
    content_hash: str
    word_count: int
    title: str
    create_time: datetime


def content_hash(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def count_words(body: str) -> int:
    """Words as `_WORD` finds them: runs of word characters, a single ' or - between two
    of them joining them into one word."""
    if not body.isascii():
        return len(_WORD.findall(body))
    if not body:
        return 0
    classes = np.frombuffer(body.encode("ascii").translate(_ASCII_CLASSES), dtype=np.uint8)
    word = classes == _W
    runs = int(np.count_nonzero(word[1:] & ~word[:-1])) + int(word[0])
    joins = int(np.count_nonzero((classes[1:-1] == _J) & word[:-2] & word[2:]))
    return runs - joins


def new_etag() -> str:
    return secrets.token_hex(8)


def default_rights_holders(publisher: str) -> tuple[RightsHolder, ...]:
    return (RightsHolder(publisher, "", FULL_SHARE_BPS),)


@dataclass(frozen=True)
class Measure:
    """What a body's text gives a work: computed before its transaction, where it can."""

    content_hash: str
    word_count: int


def measure(body: str) -> Measure:
    return Measure(content_hash(body), count_words(body))


def register_work(
    publisher_id: str,
    work_id: str,
    fields: WorkFields,
    now: datetime,
    measured: Measure | None = None,
) -> Work:
    measured = measured or measure(fields.body)
    fields = replace(fields, canonical_url=canonical_url(fields.canonical_url))
    if not fields.rights_holders:
        fields = replace(
            fields, rights_holders=default_rights_holders(f"publishers/{publisher_id}")
        )
    return Work(
        publisher_id=publisher_id,
        id=work_id,
        fields=fields,
        content_hash=measured.content_hash,
        word_count=measured.word_count,
        version=1,
        create_time=now,
        update_time=now,
        etag=new_etag(),
    )


def revise_work(
    work: Work,
    changes: WorkFields,
    paths: frozenset[str],
    now: datetime,
    measured: Measure | None = None,
) -> Work | None:
    """Apply the fields named in `paths`; None when nothing actually changes.

    A changed body makes a new version; metadata-only changes keep the version.
    `measured`: the new body's measure, when the caller already has it.
    """
    updated = replace(work.fields, **{p: getattr(changes, p) for p in paths})
    updated = replace(updated, canonical_url=canonical_url(updated.canonical_url))
    if not updated.rights_holders:
        updated = replace(updated, rights_holders=default_rights_holders(work.publisher_name))
    if updated == work.fields:
        return None
    body_changed = updated.body != work.fields.body
    if body_changed:
        measured = measured or measure(updated.body)
    else:
        measured = Measure(work.content_hash, work.word_count)
    return replace(
        work,
        fields=updated,
        content_hash=measured.content_hash,
        word_count=measured.word_count,
        version=work.version + 1 if body_changed else work.version,
        update_time=now,
        etag=new_etag(),
    )
