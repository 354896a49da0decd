"""Timestamps and durations between protobuf and Python (always timezone-aware UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def from_timestamp(message: object, field: str) -> datetime | None:
    """The field's time, or None when unset (proto3 message fields track presence)."""
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    value: datetime = getattr(message, field).ToDatetime(tzinfo=UTC)
    return value


def duration(value: timedelta | None) -> Duration | None:
    if value is None:
        return None
    d = Duration()
    d.FromTimedelta(value)
    return d


def from_duration(message: object, field: str) -> timedelta | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    value: timedelta = getattr(message, field).ToTimedelta()
    return value
