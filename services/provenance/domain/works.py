"""What provenance knows of works and their licences, as plain values: changes from the
catalog's feed, texts to index, the indexed state of a work, a licence answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DELETED = "DELETED"


@dataclass(frozen=True)
class WorkChange:
    sequence: int
    kind: str  # REGISTERED, UPDATED or DELETED
    work: str
    version: int
    occur_time: datetime | None


@dataclass(frozen=True)
class FeedPage:
    """Changes after a position, and the newest position the feed holds now."""

    changes: list[WorkChange]
    head_sequence: int


@dataclass(frozen=True)
class WorkText:
    work: str
    version: int
    body: str


@dataclass(frozen=True)
class WorkState:
    """The version indexed now (document_id) or a tombstone (deleted, final)."""

    work: str
    version: int
    document_id: int | None
    deleted: bool


@dataclass(frozen=True)
class LicenseAnswer:
    # None: licensing could not answer (the match is still reported).
    allowed: bool | None
    license: str = ""
    explanation: str = ""
