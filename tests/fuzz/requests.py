"""Hypothesis strategies for any request message, built from its descriptor: every RPC
is fuzzed by construction, and a new field is fuzzed without anyone writing a test.

Each field gets valid-looking values (names of resources that exist in the marketplace
under test) and hostile ones: empty, huge, NUL characters, unknown enum numbers,
extreme and negative integers, Timestamps and Durations out of range, malformed
resource names, garbage page tokens, repeated fields with thousands of items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

F = FieldDescriptor
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_EDGE_INTS = [
    0,
    1,
    -1,
    2,
    7,
    100,
    1_000,
    1_001,
    2**31 - 1,
    -(2**31),
    2**31,
    2**53,
    2**63 - 1,
    -(2**63),
]
_HOSTILE_TEXT = [
    "",
    "x" * 129,
    "x" * 257,
    "y" * 5_000,
    "a\x00b",
    "publishers/",
    "publishers//works/",
    "../../etc/passwd",
    "settlementPeriods/2147483648",
    "settlementPeriods/-1",
    "licenses/" + "l" * 300,
    "'; DROP TABLE works; --",
    "\u202e\ufeff\u0301",
    "%00%ff",
    "!!not-a-token!!",
    "eyJhZnRlciI6IC0xfQ",  # base64 of a page token shape with a negative position
    "2026-13-45T99:99:99Z",
    "ai-train",
    "USD",
    "-",
]
_SECONDS = [0, 1_700_000_000, 1_800_000_000, 253_402_300_799, 253_402_300_800, -62_135_596_800,
            -62_135_596_801, 2**63 - 1, -(2**63)]  # fmt: skip
_NANOS = [0, 999_999_999, 1_000_000_000, -1, 2**31 - 1, -(2**31)]


def text_values(known: Sequence[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(list(known) or [""]),
        st.sampled_from(_HOSTILE_TEXT),
        st.text(max_size=40),
    )


def message_strategy(
    descriptor: Descriptor, known: Sequence[str], depth: int = 0
) -> st.SearchStrategy[Message]:
    """Requests of this type: each field set or not, to a valid-looking or hostile value."""
    from google.protobuf import message_factory

    cls = message_factory.GetMessageClass(descriptor)
    fields = {}
    for field in descriptor.fields:
        value = _field_strategy(field, known, depth)
        if value is not None:
            fields[field.name] = st.one_of(st.none(), value)

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        message = cls()
        for name, strategy in fields.items():
            value = draw(strategy)
            if value is not None:
                _assign(message, descriptor.fields_by_name[name], value)
        return message

    return build()


def _field_strategy(field: FieldDescriptor, known: Sequence[str], depth: int) -> Any:
    single = _single(field, known, depth)
    if single is None:
        return None
    if _is_map(field):
        return st.dictionaries(st.text(max_size=70), st.text(max_size=300), max_size=20)
    if field.is_repeated:
        many = single.flatmap(lambda v: st.just([v] * 5_001))
        return (
            st.one_of(st.lists(single, max_size=3), many)
            if depth == 0
            else st.lists(single, max_size=2)
        )
    return single


def _single(field: FieldDescriptor, known: Sequence[str], depth: int) -> Any:
    kind = field.type
    if kind == F.TYPE_STRING:
        return text_values(known)
    if kind == F.TYPE_BYTES:
        return st.binary(max_size=40)
    if kind == F.TYPE_BOOL:
        return st.booleans()
    if kind in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return st.one_of(
            st.sampled_from([i for i in _EDGE_INTS if INT32[0] <= i <= INT32[1]]),
            st.integers(*INT32),
        )
    if kind in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return st.one_of(st.sampled_from(_EDGE_INTS), st.integers(*INT64))
    if kind in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if kind in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if kind in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.floats(allow_nan=True, width=32 if kind == F.TYPE_FLOAT else 64)
    if kind == F.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return st.sampled_from([*numbers, 99, -1, 2**31 - 1])
    if kind == F.TYPE_MESSAGE:
        name = field.message_type.full_name
        if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
            return st.tuples(st.sampled_from(_SECONDS), st.sampled_from(_NANOS))
        if name == "google.protobuf.FieldMask":
            return st.lists(
                text_values(["title", "body", "display_name", "*", "terms"]), max_size=3
            )
        if _is_map(field):
            return st.just(None)
        if name.startswith("google.protobuf.") or depth >= 3:
            return None
        return message_strategy(field.message_type, known, depth + 1)
    return None


def _assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    if _is_map(field):
        target = getattr(message, field.name)
        for k, v in value.items():
            if isinstance(target[k], Message):  # type: ignore[index]
                continue
            target[k] = v  # type: ignore[index]
        return
    if field.type == F.TYPE_MESSAGE:
        items = value if field.is_repeated else [value]
        container = getattr(message, field.name)
        for item in items:
            target = container.add() if field.is_repeated else container
            name = field.message_type.full_name
            if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
                target.seconds, target.nanos = item
            elif name == "google.protobuf.FieldMask":
                target.paths.extend(item)
            else:
                target.CopyFrom(item)
        return
    if field.is_repeated:
        getattr(message, field.name).extend(value)
    else:
        setattr(message, field.name, value)


def _is_map(field: FieldDescriptor) -> bool:
    entry = field.message_type
    return field.type == F.TYPE_MESSAGE and entry is not None and bool(entry.GetOptions().map_entry)
