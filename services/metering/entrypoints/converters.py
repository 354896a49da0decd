"""Protobuf to domain and back."""

from __future__ import annotations

from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import resources_pb2 as res

from services.metering.domain.events import Result, Unit, UsageEvent
from services.metering.service_layer.summaries import DIMENSIONS, StoredEvent, SummaryRow
from services.runtime.proto_time import from_timestamp, timestamp

_UNITS = {
    res.UNIT_USES: Unit.USES,
    res.UNIT_TOKENS: Unit.TOKENS,
    res.UNIT_CRAWLS: Unit.CRAWLS,
    res.UNIT_ATTRIBUTION: Unit.ATTRIBUTION,
}
_UNIT_OUT = {unit: number for number, unit in _UNITS.items()}


def event_in(e: res.UsageEvent) -> UsageEvent:
    return UsageEvent(
        id=e.id,
        license=e.license,
        work=e.work,
        use=e.use,
        unit=_UNITS.get(e.unit),
        quantity=e.quantity,
        occur_time=from_timestamp(e, "occur_time"),
        source=e.source,
        attributes=tuple(sorted(e.attributes.items())),
    )


def result_out(r: Result) -> res.EventResult:
    return res.EventResult(
        id=r.id,
        status=res.EventResult.Status.Value(f"STATUS_{r.status.value}"),
        reason=res.EventResult.Reason.Value(f"REASON_{r.reason.value}")
        if r.reason
        else res.EventResult.REASON_UNSPECIFIED,
        message=r.message,
    )


def dimensions_in(values: list[res.Dimension.ValueType]) -> tuple[str, ...]:
    names = [res.Dimension.Name(v).removeprefix("DIMENSION_").lower() for v in values]
    return tuple(n for n in names if n in DIMENSIONS)


def granularity_in(value: res.Granularity.ValueType) -> str:
    if value == res.GRANULARITY_UNSPECIFIED:
        return ""
    return res.Granularity.Name(value).removeprefix("GRANULARITY_").lower()


def row_out(row: SummaryRow) -> res.UsageRow:
    return res.UsageRow(
        vendor=row.vendor,
        publisher=row.publisher,
        license=row.license,
        work=row.work,
        use=row.use,
        unit=_UNIT_OUT[Unit(row.unit)],
        bucket_start=timestamp(row.bucket_start),
        quantity=row.quantity,
        events=row.events,
    )


def stored_out(e: StoredEvent) -> res.RecordedEvent:
    return res.RecordedEvent(
        event=res.UsageEvent(
            id=e.event_id,
            license=e.license,
            work=e.work,
            use=e.use,
            unit=_UNIT_OUT[Unit(e.unit)],
            quantity=e.quantity,
            occur_time=timestamp(e.occur_time),
            source=e.source,
            attributes=e.attributes,
        ),
        vendor=e.vendor,
        publisher=e.publisher,
        record_time=timestamp(e.record_time),
    )


def results_response(results: list[Result]) -> api.RecordUsageResponse:
    return api.RecordUsageResponse(results=[result_out(r) for r in results])
