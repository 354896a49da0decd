"""The gRPC adapter: protobuf in, use cases, protobuf out. No logic of its own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from licentia.metering.v1 import resources_pb2 as res

from services.metering.domain.events import Result
from services.metering.entrypoints import converters as cv
from services.metering.service_layer.billing import BillingService
from services.metering.service_layer.ingest import IngestService
from services.metering.service_layer.summaries import SummaryQuery, SummaryService
from services.runtime.lenient_decoding import reject_undecodable
from services.runtime.metrics import USAGE_EVENTS
from services.runtime.principal import current_principal
from services.runtime.proto_time import from_timestamp

Context = Any


def count_results(results: list[Result]) -> None:
    """The ingest rate by answer, for Prometheus."""
    # Counted by the statuses' values: a str hashes in C, an Enum member in Python.
    for status, count in Counter([r.status._value_ for r in results]).items():
        USAGE_EVENTS.labels(status).inc(count)


class MeteringServicer(api_grpc.MeteringServiceServicer):
    def __init__(
        self, ingest: IngestService, summaries: SummaryService, billing: BillingService
    ) -> None:
        self._ingest = ingest
        self._summaries = summaries
        self._billing = billing

    def RecordUsage(
        self, request: api.RecordUsageRequest, context: Context
    ) -> api.RecordUsageResponse:
        reject_undecodable(request)  # judged per event: NUL characters in the domain
        events = [cv.event_in(e) for e in request.events]
        results = self._ingest.record(current_principal(), events, request.vendor)
        count_results(results)
        return cv.results_response(results)

    def StreamUsage(
        self, requests: Iterator[api.StreamUsageRequest], context: Context
    ) -> Iterator[api.StreamUsageResponse]:
        principal = current_principal()
        for request in requests:
            reject_undecodable(request)
            results = self._ingest.record(principal, [cv.event_in(e) for e in request.events])
            count_results(results)
            yield cv.stream_response(request.batch_id, results)

    def GetUsageSummary(
        self, request: api.GetUsageSummaryRequest, context: Context
    ) -> api.GetUsageSummaryResponse:
        query = SummaryQuery(
            start=from_timestamp(request, "start_time"),
            end=from_timestamp(request, "end_time"),
            group_by=cv.dimensions_in(list(request.group_by)),
            granularity=cv.granularity_in(request.granularity),
            vendor=request.vendor,
            publisher=request.publisher,
            license=request.license,
            work=request.work,
            use=request.use,
        )
        rows = self._summaries.summary(current_principal(), query)
        return api.GetUsageSummaryResponse(rows=[cv.row_out(r) for r in rows])

    def ExportUsageEvents(
        self, request: api.ExportUsageEventsRequest, context: Context
    ) -> Iterator[api.ExportUsageEventsResponse]:
        pages = self._summaries.export(
            current_principal(),
            request.license,
            from_timestamp(request, "start_time"),
            from_timestamp(request, "end_time"),
        )
        for page in pages:
            yield api.ExportUsageEventsResponse(events=[cv.stored_out(e) for e in page])

    def SealUsage(self, request: api.SealUsageRequest, context: Context) -> res.UsageSeal:
        seal = self._billing.seal(
            current_principal(), request.seal, from_timestamp(request, "end_time")
        )
        return cv.seal_out(seal)

    def ListBillableUsage(
        self, request: api.ListBillableUsageRequest, context: Context
    ) -> Iterator[api.ListBillableUsageResponse]:
        pages = self._billing.billable(
            current_principal(),
            from_timestamp(request, "start_time"),
            from_timestamp(request, "end_time"),
            request.late_seal,
            request.vendor,
        )
        for page in pages:
            yield api.ListBillableUsageResponse(usage=[cv.billable_out(r) for r in page])
