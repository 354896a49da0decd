"""Recording usage a Licentia service saw for a vendor (content deliveries, provenance
attributions) through metering's own ingestion: the same deduplication, the same
rollups. Event ids start with `licentia:`, which vendors cannot use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import grpc
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from licentia.metering.v1 import resources_pb2 as res

from services.runtime.proto_time import timestamp
from services.runtime.upstream import upstream


def service_event_id(kind: str, *parts: str) -> str:
    """`licentia:{kind}:{parts...}`, within metering's 128 characters."""
    return ":".join(("licentia", kind, *parts))[:128]


@dataclass(frozen=True)
class ServiceUsage:
    id: str
    license: str
    work: str
    use: str
    unit: str  # uses, tokens, crawls, attribution
    quantity: int
    occur_time: datetime
    source: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UsageAnswer:
    status: str  # ACCEPTED, DUPLICATE, CONFLICT, REJECTED
    reason: str = ""
    message: str = ""

    @property
    def recorded(self) -> bool:
        """Counted, now or before."""
        return self.status in ("ACCEPTED", "DUPLICATE")

    @property
    def retry_later(self) -> bool:
        """Metering could not judge it now (licensing unavailable): send it again."""
        return self.reason == "LICENSING_UNAVAILABLE"


class UsageRecorder(Protocol):
    """What services that record usage depend on (UsageReporter, or a fake in tests)."""

    def record(self, vendor: str, events: Sequence[ServiceUsage]) -> list[UsageAnswer]: ...


class UsageReporter:
    def __init__(self, channel: grpc.Channel, timeout_seconds: float = 5.0) -> None:
        self._stub = api_grpc.MeteringServiceStub(channel)
        self._timeout = timeout_seconds

    def record(self, vendor: str, events: Sequence[ServiceUsage]) -> list[UsageAnswer]:
        """One answer per event; Unavailable when metering does not answer (retry)."""
        if not events:
            return []
        request = api.RecordUsageRequest(events=[_event(e) for e in events], vendor=vendor)
        with upstream("metering"):
            response = self._stub.RecordUsage(request, timeout=self._timeout)
        return [
            UsageAnswer(
                res.EventResult.Status.Name(r.status).removeprefix("STATUS_"),
                res.EventResult.Reason.Name(r.reason).removeprefix("REASON_") if r.reason else "",
                r.message,
            )
            for r in response.results
        ]


def _event(e: ServiceUsage) -> res.UsageEvent:
    return res.UsageEvent(
        id=e.id,
        license=e.license,
        work=e.work,
        use=e.use,
        unit=res.Unit.Value(f"UNIT_{e.unit.upper()}"),
        quantity=e.quantity,
        occur_time=timestamp(e.occur_time),
        source=e.source,
        attributes=e.attributes,
    )
