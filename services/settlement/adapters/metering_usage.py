"""Settlement's view of metering: seal a period's usage, read what to bill."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import grpc
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from licentia.metering.v1 import resources_pb2 as res

from services.runtime.proto_time import from_timestamp, timestamp
from services.runtime.upstream import upstream
from services.settlement.domain.billing import UsageRow


class MeteringUsage:
    def __init__(self, channel: grpc.Channel, timeout_seconds: float = 300.0) -> None:
        self._stub = api_grpc.MeteringServiceStub(channel)
        self._timeout = timeout_seconds

    def seal(self, seal: int, end: datetime) -> None:
        with upstream("metering"):
            self._stub.SealUsage(api.SealUsageRequest(seal=seal, end_time=timestamp(end)))

    def billable(
        self, start: datetime | None, end: datetime, late_seal: int, vendor: str = ""
    ) -> Iterator[UsageRow]:
        request = api.ListBillableUsageRequest(
            start_time=timestamp(start),
            end_time=timestamp(end),
            late_seal=late_seal,
            vendor=vendor,
        )
        with upstream("metering"):
            for page in self._stub.ListBillableUsage(request, timeout=self._timeout):
                for u in page.usage:
                    yield UsageRow(
                        vendor=u.vendor,
                        license=u.license,
                        work=u.work,
                        use=u.use,
                        unit=res.Unit.Name(u.unit).removeprefix("UNIT_").lower(),
                        quantity=u.quantity,
                        hour=from_timestamp(u, "hour"),
                    )
