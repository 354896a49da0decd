"""Usage events and the answers they get: plain Python, no storage, no gRPC.

An event's digest covers everything the vendor sent but the id: two events with the same
id are the same event (DUPLICATE) exactly when their digests agree.

Digest versions: a stored digest is kept with its version (a byte before it wherever it
is compared). Version 2 encodes every field with its length before it and the time to
the nanosecond, so no two payloads share an encoding. Version 1 (events accepted before
it) joined fields with a separator a value could contain and cut times to the
microsecond; a key stored under it is compared with the event's version-1 digest, so
its retries keep their answers until it ages out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from hashlib import blake2b

from services.runtime import resource_names
from services.runtime.uses import CONCRETE_USES

MAX_ID = 128
MAX_NAME = 256  # a license's or a work's resource name
MAX_SOURCE = 128
MAX_ATTRIBUTES = 16
MAX_QUANTITY = 10**12
MAX_BATCH = 5_000
DIGEST_SIZE = 16  # bytes
DIGEST_VERSION = 2
_BLAKE2B = blake2b(digest_size=DIGEST_SIZE)
_TAG = bytes([DIGEST_VERSION])
# Ids of events Licentia's services record for a vendor (content deliveries, provenance
# attributions): reserved, so a vendor can never take one first.
SERVICE_ID_PREFIX = "licentia:"
# Valid in protobuf text, but PostgreSQL's text type cannot hold it: refused in every field
# so that both stores keep the same events.
NUL = "\x00"


def is_reserved(event_id: str, from_service: bool) -> bool:
    """Whether the id is one of Licentia's own, which only its services may record under."""
    return not from_service and event_id.startswith(SERVICE_ID_PREFIX)


def is_storable_id(event_id: str) -> bool:
    return 1 <= len(event_id) <= MAX_ID and NUL not in event_id


class Unit(Enum):
    USES = "uses"
    TOKENS = "tokens"
    CRAWLS = "crawls"
    ATTRIBUTION = "attribution"


class Correction(Enum):
    VOID = "void"
    AMEND = "amend"


class Status(Enum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    REJECTED = "REJECTED"


class Reason(Enum):
    INVALID_EVENT = "INVALID_EVENT"
    BAD_QUANTITY = "BAD_QUANTITY"
    TOO_FAR_IN_FUTURE = "TOO_FAR_IN_FUTURE"
    TOO_OLD = "TOO_OLD"
    NO_SUCH_LICENSE = "NO_SUCH_LICENSE"
    LICENSE_NOT_ACTIVE = "LICENSE_NOT_ACTIVE"
    USE_NOT_PERMITTED = "USE_NOT_PERMITTED"
    WORK_OUT_OF_SCOPE = "WORK_OUT_OF_SCOPE"
    LICENSING_UNAVAILABLE = "LICENSING_UNAVAILABLE"
    NO_SUCH_EVENT = "NO_SUCH_EVENT"
    ALREADY_CORRECTED = "ALREADY_CORRECTED"


# Events and results are never changed once made, but are not frozen dataclasses: a frozen
# dataclass sets each field through object.__setattr__, 5 µs per event of thirteen fields,
# a large share of what ingestion spends per event.
@dataclass(slots=True, eq=False)
class UsageEvent:
    id: str
    license: str
    work: str
    use: str
    unit: Unit | None
    quantity: int
    occur_time: datetime | None
    source: str = ""
    attributes: tuple[tuple[str, str], ...] = ()
    # A correction of an event already recorded (`corrects` names it): a void cancels
    # it, an amend replaces its quantity.
    correction: Correction | None = None
    corrects: str = ""
    # What a correction counts (the difference it makes); None: `quantity`.
    counted: int | None = field(default=None, compare=False)
    # The nanoseconds below `occur_time`'s microsecond (0..999), which a datetime cannot
    # hold: part of the payload, so two times 1 ns apart are two payloads.
    occur_nanos: int = field(default=0, compare=False)

    # 16 bytes identifying the payload (the id aside), computed once; `tagged`: the same
    # with its version byte before it, as stored digests are compared.
    payload_digest: bytes = field(init=False, repr=False, compare=False)
    tagged: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Each field as its length, a colon and its text, then the attribute count and
        # each key and value the same way: no value can pass for a separator. Written out
        # in one f-string because this runs for every event received (pinned by a test).
        # (`_value_`: the enum's value without the descriptor `.value` goes through.)
        unit, occur, correction = self.unit, self.occur_time, self.correction
        u = unit._value_ if unit else ""
        t = f"{_isoformat(occur)}{self.occur_nanos:03d}" if occur else ""
        c = correction._value_ if correction else ""
        lic, work, use, source, corrects = (
            self.license, self.work, self.use, self.source, self.corrects
        )  # fmt: skip
        q = str(self.quantity)
        payload = (
            f"{len(lic)}:{lic}{len(work)}:{work}{len(use)}:{use}{len(u)}:{u}{len(q)}:{q}"
            f"{len(t)}:{t}{len(source)}:{source}{len(c)}:{c}{len(corrects)}:{corrects}"
            f"{len(self.attributes)}:"
        )
        if self.attributes:
            payload += "".join([f"{len(k)}:{k}{len(v)}:{v}" for k, v in self.attributes])
        digest = _BLAKE2B.copy()  # a copy: half the cost of a new hash with its parameters
        digest.update(payload.encode())
        self.payload_digest = digest.digest()
        self.tagged = _TAG + self.payload_digest

    def legacy_digest(self) -> bytes:
        """The version-1 digest (fields joined by \\x1f, times to the microsecond): only
        to compare with keys stored before version 2."""
        unit, occur, correction = self.unit, self.occur_time, self.correction
        payload = (
            f"{self.license}\x1f{self.work}\x1f{self.use}\x1f{unit._value_ if unit else ''}"
            f"\x1f{self.quantity}\x1f{_isoformat(occur) if occur else ''}\x1f{self.source}"
            f"\x1f{correction._value_ if correction else ''}\x1f{self.corrects}"
        )
        if self.attributes:
            payload += "".join([f"\x1f{k}={v}" for k, v in self.attributes])
        return blake2b(payload.encode(), digest_size=DIGEST_SIZE).digest()

    @property
    def counted_quantity(self) -> int:
        return self.quantity if self.counted is None else self.counted

    @property
    def publisher(self) -> str:
        return self.work.split("/works/")[0]

    def digest(self) -> bytes:
        """What is stored (under DIGEST_VERSION)."""
        return self.payload_digest

    def same_payload(self, stored: bytes | None) -> bool:
        """Whether a stored digest (its version byte first) is this event's payload."""
        if stored is None:
            return False
        if stored == self.tagged:
            return True
        return stored[0] == 1 and stored[1:] == self.legacy_digest()


@dataclass(slots=True)
class Result:
    id: str
    status: Status
    reason: Reason | None = None
    message: str = ""
    # Warnings on an accepted event: OVER_CAP (the license's cap for the period is
    # reached: settlement bills no more than the cap).
    flags: tuple[str, ...] = ()

    @staticmethod
    def rejected(event_id: str, reason: Reason, message: str) -> Result:
        return Result(event_id, Status.REJECTED, reason, message)


@dataclass(frozen=True)
class TimeWindow:
    """How far from now an event's time may be."""

    ahead: timedelta = timedelta(minutes=5)
    back: timedelta = timedelta(days=35)


def check_event(
    event: UsageEvent, now: datetime, window: TimeWindow, from_service: bool = False
) -> Result | None:
    """The rejection of a malformed event, or None when it is well formed."""
    if is_reserved(event.id, from_service):
        return Result.rejected(
            event.id, Reason.INVALID_EVENT, f"id: {SERVICE_ID_PREFIX!r} ids are Licentia's own"
        )
    problem = _unstorable(event)
    if problem:
        return Result.rejected(event.id, Reason.INVALID_EVENT, problem)
    if event.correction is not None:
        return _check_correction(event)
    problem = _malformed(event)
    if problem:
        return Result.rejected(event.id, Reason.INVALID_EVENT, problem)
    if not 1 <= event.quantity <= MAX_QUANTITY:
        return Result.rejected(
            event.id, Reason.BAD_QUANTITY, f"quantity must be 1..{MAX_QUANTITY:,}"
        )
    assert event.occur_time is not None
    if event.occur_time > now + window.ahead:
        return Result.rejected(
            event.id, Reason.TOO_FAR_IN_FUTURE, f"occur_time is more than {window.ahead} ahead"
        )
    if event.occur_time < now - window.back:
        return Result.rejected(
            event.id, Reason.TOO_OLD, f"occur_time is older than {window.back.days} days"
        )
    return None


def _malformed(event: UsageEvent) -> str:
    if not is_storable_id(event.id):
        return f"id: 1..{MAX_ID} characters"
    if not _is_license_name(event.license):
        return "license: must be licenses/{license}"
    if not _is_work_name(event.work):
        return "work: must be publishers/{publisher}/works/{work}"
    if event.use not in CONCRETE_USES:
        return f"use: must be one of {', '.join(CONCRETE_USES)}"
    if event.unit is None:
        return "unit: required"
    if event.occur_time is None:
        return "occur_time: required"
    if len(event.source) > MAX_SOURCE:
        return f"source: at most {MAX_SOURCE} characters"
    return ""


def _unstorable(event: UsageEvent) -> str:
    """What no event may hold, correction or not."""
    texts = f"{event.id}{event.license}{event.work}{event.use}{event.source}{event.corrects}"
    if NUL in texts or any(NUL in key or NUL in value for key, value in event.attributes):
        return "text fields cannot hold NUL characters"
    if len(event.corrects) > MAX_ID:
        return f"corrects: at most {MAX_ID} characters"
    if max(len(event.license), len(event.work)) > MAX_NAME:
        return f"license and work: at most {MAX_NAME} characters"
    if len(event.attributes) > MAX_ATTRIBUTES:
        return f"attributes: at most {MAX_ATTRIBUTES}"
    for key, value in event.attributes:
        if not 1 <= len(key) <= 64 or len(value) > 256:
            return "attributes: keys 1..64 characters, values up to 256"
    return ""


# Every event has its own time, to the microsecond, and datetime's isoformat() and
# replace() cost about 1 µs each: the text and the hour come from caches keyed by the
# second and the hour, which a stream of events shares.
def _isoformat(moment: datetime) -> str:
    """moment.isoformat() in UTC (what the digest has always held; pinned by tests)."""
    if moment.tzinfo is None:
        return moment.isoformat()
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    second = _iso_second(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
    )
    micros = moment.microsecond
    return f"{second}.{micros:06d}+00:00" if micros else f"{second}+00:00"


@lru_cache(maxsize=1 << 12)
def _iso_second(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    return datetime(year, month, day, hour, minute, second).isoformat()


# A vendor's events name the same few licenses and works over and over: each name is
# checked once, not once per event.
@lru_cache(maxsize=1 << 16)
def _is_license_name(name: str) -> bool:
    return resource_names.matches(name, ("licenses",))


@lru_cache(maxsize=1 << 16)
def _is_work_name(name: str) -> bool:
    return resource_names.matches(name, ("publishers", "works"))


def hour_of(moment: datetime) -> datetime:
    """The start of the moment's hour, in UTC."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return _hour(moment.year, moment.month, moment.day, moment.hour)


@lru_cache(maxsize=1 << 12)
def _hour(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a correction needs of the event it names."""

    license: str
    work: str
    use: str
    unit: Unit
    occur_time: datetime
    # The quantity the vendor stated for it (0 for a void, the new one for an amend).
    stated_quantity: int


def stated_quantity(event: UsageEvent) -> int:
    return 0 if event.correction is Correction.VOID else event.quantity


def as_counted(event: UsageEvent, original: Recorded) -> UsageEvent:
    """The correction as it is counted: the original's license, work, use, unit and time,
    and the difference it makes (minus the original for a void, the change for an
    amend). It keeps the payload digest of what the vendor sent, so a retry of the
    correction is still recognised as the same event."""
    counted = replace(
        event,
        license=original.license,
        work=original.work,
        use=original.use,
        unit=original.unit,
        occur_time=original.occur_time,
        counted=stated_quantity(event) - original.stated_quantity,
    )
    counted.payload_digest = event.payload_digest
    counted.tagged = event.tagged
    return counted


def _check_correction(event: UsageEvent) -> Result | None:
    problem = ""
    if not is_storable_id(event.id):
        problem = f"id: 1..{MAX_ID} characters"
    elif not is_storable_id(event.corrects) or event.corrects == event.id:
        problem = "corrects: the id of an earlier event (1..128 characters, not its own)"
    elif len(event.source) > MAX_SOURCE:
        problem = f"source: at most {MAX_SOURCE} characters"
    if problem:
        return Result.rejected(event.id, Reason.INVALID_EVENT, problem)
    if event.correction is Correction.VOID and event.quantity:
        return Result.rejected(event.id, Reason.BAD_QUANTITY, "a void carries no quantity")
    if event.correction is Correction.AMEND and not 1 <= event.quantity <= MAX_QUANTITY:
        return Result.rejected(
            event.id, Reason.BAD_QUANTITY, f"an amend's quantity must be 1..{MAX_QUANTITY:,}"
        )
    return None
