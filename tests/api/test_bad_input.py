"""The requests that once answered INTERNAL (or echoed themselves into an oversized
error) now answer INVALID_ARGUMENT naming the field, with bounded details; the fuzz
suite (tests/fuzz) covers every RPC, these pin the cases seen."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_status import rpc_status
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mgrpc
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sgrpc

from services.settlement import app as settlement_app
from tests.api.market import Market, start_metering
from tests.conftest import OPERATOR_KEY, Client, error_reason, field_violations, start_service


def refused(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None and len(status.SerializeToString()) < 2_000
    return error


def test_values_no_store_can_hold_are_refused_naming_the_field(market: Market) -> None:
    catalog = market.pa.account.client
    far = Timestamp(seconds=253_402_300_800)  # the year 10000
    error = refused(
        lambda: catalog.ListWorks(
            capi.ListWorksRequest(parent="publishers/pa", published_after=far)
        )
    )
    assert (error_reason(error), field_violations(error)) == (
        "TIME_OUT_OF_RANGE",
        ["published_after"],
    )
    operator = Client(market.catalog.channel, OPERATOR_KEY)
    error = refused(
        lambda: operator.CreatePublisher(
            capi.CreatePublisherRequest(
                publisher=cres.Publisher(display_name="P"), request_id="r" * 129
            )
        )
    )
    assert field_violations(error) == ["request_id"]
    error = refused(lambda: catalog.GetWork(capi.GetWorkRequest(name="x" * 9_000)))
    assert len(error.details()) <= 400
    error = refused(
        lambda: catalog.UpdateWork(
            capi.UpdateWorkRequest(work=cres.Work(name=market.works_a[0], title="t" * 5_000))
        )
    )
    assert field_violations(error) == ["work.title"]


def test_unknown_enums_and_numbers_out_of_range(market: Market) -> None:
    metering = start_metering(market)
    settlement = start_service(settlement_app, metering.settings)
    try:
        meter = Client(metering.channel, OPERATOR_KEY, mgrpc.MeteringServiceStub)
        hour = Timestamp(seconds=1_800_000_000 // 3600 * 3600)
        later = Timestamp(seconds=hour.seconds + 3600)
        error = refused(
            lambda: meter.GetUsageSummary(
                mapi.GetUsageSummaryRequest(start_time=hour, end_time=later, granularity=99)  # type: ignore[arg-type]
            )
        )
        assert (error_reason(error), field_violations(error)) == (
            "UNKNOWN_ENUM_VALUE",
            ["granularity"],
        )
        error = refused(
            lambda: meter.GetUsageSummary(
                mapi.GetUsageSummaryRequest(start_time=hour, end_time=later, group_by=[99])  # type: ignore[list-item]
            )
        )
        assert field_violations(error) == ["group_by[0]"]
        error = refused(
            lambda: list(
                meter.ListBillableUsage(
                    mapi.ListBillableUsageRequest(end_time=later, late_seal=2**31)
                )
            )
        )
        assert field_violations(error) == ["late_seal"]
        settle = Client(settlement.channel, OPERATOR_KEY, sgrpc.SettlementServiceStub)
        for name in ("settlementPeriods/2147483648", "settlementPeriods/\u00b2"):
            request = sapi.GetSettlementPeriodRequest(name=name)
            refused(lambda r=request: settle.GetSettlementPeriod(r))  # type: ignore[misc]
    finally:
        for harness in (settlement, metering):
            harness.channel.close()
            harness.server.stop(0)
