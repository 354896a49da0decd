"""Limits every request is held to before a handler runs: one place per kind of value.

The generated code accepts what protobuf can carry; Licentia stores less. Every text
field has a length limit, every repeated field a count limit, every enum only its known
numbers, every Timestamp the range a date can hold (years 1 to 9999) and every Duration
protobuf's own range (10,000 years). These are ceilings that keep bad input out of the
database and the error path; services keep their own, finer rules inside them (a
work's title, an offer's terms) and answer per item where a method judges items alone.
A request over a ceiling is refused whole as INVALID_ARGUMENT naming the field.

Limits are by field name (names mean the same thing in every service): `TEXT_LIMITS`
and `ITEM_LIMITS` list the exceptions to the defaults, and the protos' comments state
them for callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

DEFAULT_TEXT = 1_024  # characters
DEFAULT_ITEMS = 1_000
NAME_TEXT = 256  # resource names and ids built from them
TEXT_LIMITS = {
    **dict.fromkeys(
        ("name", "parent", "names", "work", "works", "license", "offer", "vendor",
         "publisher", "party", "period", "account", "corrects", "key"),
        NAME_TEXT,
    ),
    **dict.fromkeys(
        ("request_id", "id", "batch_id", "client_ref", "etag", "offer_id", "publisher_id",
         "vendor_id", "work_id", "source", "content_hash"),
        128,
    ),
    **dict.fromkeys(
        ("currency", "use", "user_type", "territory", "permitted_uses", "prohibited_uses",
         "permitted_user_types", "prohibited_user_types", "permitted_territories",
         "prohibited_territories", "language"),
        32,
    ),
    "display_name": 200,
    "contact_email": 254,
    "external_reference": 255,
    "value": 256,
    **dict.fromkeys(("note", "reason", "failure_reason"), 2_000),
    **dict.fromkeys(("site_url", "page_token"), 2_048),
    "token": 16_384,
    "rsl_xml": 1_000_000,
    # A work's fields: the catalog answers per work within these (a title over 1,000
    # characters fails that work alone), so the ceilings are well above its rules.
    **dict.fromkeys(("section", "sections", "tag", "tags", "authors", "external_id"), 1_024),
    "title": 4_000,
    "canonical_url": 8_192,
    "text": 1_000_000,  # provenance answers per text over its own limit
    "body": 2_000_000,
}  # fmt: skip
ITEM_LIMITS = {
    "attributes": 16,
    "tiers": 20,
    "group_by": 8,
    # Lists the services limit themselves with their own reasons (BATCH_TOO_LARGE...).
    **dict.fromkeys(("works", "names", "requests", "events"), 10_000),
    **dict.fromkeys(("authors", "tags", "rights_holders"), 1_000),
}
# Integers stored in 32-bit columns.
INT_LIMITS = {"late_seal": (0, 2**31 - 1), "seal": (0, 2**31 - 1)}

# google.protobuf.Timestamp: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z.
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799
MAX_DURATION_SECONDS = 315_576_000_000
_TIMESTAMP, _DURATION = "google.protobuf.Timestamp", "google.protobuf.Duration"


@dataclass(frozen=True)
class Violation:
    field: str
    reason: str
    description: str


def first_violation(message: Message, prefix: str = "") -> Violation | None:
    """The first field of `message` (and the messages it holds) over a limit."""
    for field, kind, limit in _checks(message.DESCRIPTOR):
        if field.is_repeated:
            values = getattr(message, field.name)
            count = len(values)
            if count == 0:
                continue
            path = prefix + field.name
            if count > (limit_items := ITEM_LIMITS.get(field.name, DEFAULT_ITEMS)):
                return Violation(path, "TOO_MANY_ITEMS", f"at most {limit_items:,} items")
            if kind == "map":
                found = _map_violation(values, path, limit)
            else:
                found = next(
                    (
                        v
                        for i, item in enumerate(values)
                        if (v := _one(kind, limit, item, f"{path}[{i}]", field))
                    ),
                    None,
                )
            if found:
                return found
        elif kind == "message":
            if message.HasField(field.name):
                found = _one(kind, limit, getattr(message, field.name), prefix + field.name, field)
                if found:
                    return found
        else:
            found = _one(kind, limit, getattr(message, field.name), prefix + field.name, field)
            if found:
                return found
    return None


def _one(
    kind: str, limit: object, value: object, path: str, field: FieldDescriptor
) -> Violation | None:
    if kind == "text":
        assert isinstance(value, str) and isinstance(limit, int)
        if len(value) > limit:
            return Violation(path, "TEXT_TOO_LONG", f"at most {limit:,} characters")
    elif kind == "enum":
        assert field.enum_type is not None
        if value not in field.enum_type.values_by_number:
            return Violation(path, "UNKNOWN_ENUM_VALUE", f"{value} is not a known value")
    elif kind == "int":
        assert isinstance(limit, tuple) and isinstance(value, int)
        low, high = limit
        if not low <= value <= high:
            return Violation(path, "NUMBER_OUT_OF_RANGE", f"must be {low}..{high:,}")
    elif kind == "timestamp":
        seconds, nanos = value.seconds, value.nanos  # type: ignore[attr-defined]
        if not (MIN_SECONDS <= seconds <= MAX_SECONDS and 0 <= nanos < 1_000_000_000):
            return Violation(
                path, "TIME_OUT_OF_RANGE", "must be a time from year 1 to 9999 (nanos 0..999999999)"
            )
    elif kind == "duration":
        seconds, nanos = value.seconds, value.nanos  # type: ignore[attr-defined]
        if not (
            abs(seconds) <= MAX_DURATION_SECONDS
            and abs(nanos) < 1_000_000_000
            and (seconds == 0 or nanos == 0 or (seconds > 0) == (nanos > 0))
        ):
            return Violation(path, "DURATION_OUT_OF_RANGE", "must be within 10,000 years")
    elif kind == "message":
        assert isinstance(value, Message)
        return first_violation(value, path + ".")
    return None


def _map_violation(values: object, path: str, limit: object) -> Violation | None:
    for key, item in values.items():  # type: ignore[attr-defined]
        here = f"{path}[{str(key)[:32]!r}]"
        if isinstance(key, str) and len(key) > TEXT_LIMITS.get("key", DEFAULT_TEXT):
            return Violation(here, "TEXT_TOO_LONG", "keys: at most 256 characters")
        if isinstance(item, str) and len(item) > TEXT_LIMITS.get("value", DEFAULT_TEXT):
            return Violation(here, "TEXT_TOO_LONG", "values: at most 256 characters")
        if isinstance(item, Message) and (found := first_violation(item, here + ".")):
            return found
    return None


@cache
def _checks(descriptor: Descriptor) -> tuple[tuple[FieldDescriptor, str, object], ...]:
    """What to check in a message type, worked out once per type."""
    checks: list[tuple[FieldDescriptor, str, object]] = []
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_STRING:
            checks.append((field, "text", TEXT_LIMITS.get(field.name, DEFAULT_TEXT)))
        elif field.type == FieldDescriptor.TYPE_ENUM:
            checks.append((field, "enum", None))
        elif field.name in INT_LIMITS:
            checks.append((field, "int", INT_LIMITS[field.name]))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            entry = field.message_type
            assert entry is not None
            if entry.GetOptions().map_entry:
                checks.append((field, "map", None))
            elif entry.full_name == _TIMESTAMP:
                checks.append((field, "timestamp", None))
            elif entry.full_name == _DURATION:
                checks.append((field, "duration", None))
            elif not entry.full_name.startswith("google.protobuf."):
                checks.append((field, "message", None))
        elif field.is_repeated:
            checks.append((field, "other", None))
    return tuple(checks)
