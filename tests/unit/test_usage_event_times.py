"""Event times are handled per event, so their helpers take shortcuts (per-second and
per-hour caches, timedelta arithmetic): each must agree with the plain datetime way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from services.metering.domain.events import _isoformat, hour_of
from services.metering.entrypoints.converters import _time

ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-8)),
    ]
)
MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES
)


@given(MOMENTS)
def test_the_digest_spells_a_time_as_isoformat_in_utc(moment: datetime) -> None:
    assert _isoformat(moment) == moment.astimezone(UTC).isoformat()


@given(st.datetimes())
def test_a_naive_time_is_spelt_as_it_is(moment: datetime) -> None:
    assert _isoformat(moment) == moment.isoformat()


@given(MOMENTS)
def test_the_hour_of_a_time_is_its_utc_hour(moment: datetime) -> None:
    expected = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    assert hour_of(moment) == expected and hour_of(moment).tzinfo is UTC


@given(
    st.integers(min_value=-62_135_596_800, max_value=253_402_300_799),
    st.integers(min_value=0, max_value=999_999_999),
)
def test_a_timestamp_becomes_its_exact_utc_microsecond(seconds: int, nanos: int) -> None:
    stamp = Timestamp(seconds=seconds, nanos=nanos)
    expected = stamp.ToDatetime(tzinfo=UTC)  # protobuf's own conversion, truncating nanos
    assert _time(stamp) == expected


def test_a_timestamp_no_datetime_can_hold_is_the_farthest_one() -> None:
    assert _time(Timestamp(seconds=10**13)) == datetime.max.replace(tzinfo=UTC)
    assert _time(Timestamp(seconds=-(10**13))) == datetime.min.replace(tzinfo=UTC)
