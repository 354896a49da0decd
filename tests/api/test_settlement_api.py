"""Settlement through the real gRPC servers (catalog, licensing, metering, settlement),
SQLite and PostgreSQL: close a period, invoices and statements that reconcile, late
usage billed as an adjustment, statements verified, running charges, payouts, access."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mapi_grpc
from licentia.metering.v1 import resources_pb2 as mres
from licentia.settlement.v1 import resources_pb2 as res
from licentia.settlement.v1 import settlement_service_pb2 as api
from licentia.settlement.v1 import settlement_service_pb2_grpc as api_grpc
from sqlalchemy import update

from services.runtime.proto_time import timestamp
from services.settlement import app as settlement_app
from services.settlement.adapters import tables
from tests.api.helpers import article
from tests.api.market import Market, start_metering, terms
from tests.conftest import OPERATOR_KEY, Client, ServiceHarness, error_reason, start_service

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
P1_START, P1_END, P2_END = (
    HOUR - timedelta(hours=3),
    HOUR - timedelta(hours=2),
    HOUR - timedelta(hours=1),
)


@dataclass
class Marketplace:
    market: Market
    metering: ServiceHarness
    settlement: ServiceHarness

    def settle(self, key: str) -> Client:
        return Client(self.settlement.channel, key, api_grpc.SettlementServiceStub)

    def meter(self, key: str) -> Client:
        return Client(self.metering.channel, key, mapi_grpc.MeteringServiceStub)

    @property
    def operator(self) -> Client:
        return self.settle(OPERATOR_KEY)


@pytest.fixture
def place(market: Market) -> Iterator[Marketplace]:
    metering = start_metering(market)
    settlement = start_service(settlement_app, metering.settings)
    yield Marketplace(market, metering, settlement)
    for harness in (settlement, metering):
        harness.channel.close()
        harness.server.stop(0)


def usage(
    event_id: str, license_name: str, work: str, at: datetime, quantity: int
) -> mres.UsageEvent:
    return mres.UsageEvent(
        id=event_id, license=license_name, work=work, use="ai-input", unit=mres.UNIT_USES,
        quantity=quantity, occur_time=timestamp(at), source="answers",
    )  # fmt: skip


def licensed(place: Marketplace) -> str:
    """Vendor A licenses publisher A's first two works at $0.50 per answer (ai-input),
    from before the first period; work 0 is co-owned with a freelancer (30%)."""
    m = place.market
    m.pa.account.client.UpdateWork(
        capi.UpdateWorkRequest(
            work=cres.Work(
                name=m.works_a[0],
                rights_holders=[
                    cres.RightsHolder(party="publishers/pa", share_bps=7_000),
                    cres.RightsHolder(party="people/jane", share_bps=3_000),
                ],
            ),
            update_mask=FieldMask(paths=["rights_holders"]),
        )
    )
    offer = m.offer(
        m.pa,
        terms(
            scope=lres.Scope(works=m.works_a[:2]),
            price=lres.Price(model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=500_000),
            start_time=timestamp(HOUR - timedelta(hours=4)),
        ),
    )
    return m.license(m.va, offer).name


def record(place: Marketplace, *events: mres.UsageEvent) -> list[int]:
    meter = place.meter(place.market.va.account.key)
    response = meter.RecordUsage(mapi.RecordUsageRequest(events=list(events)))
    return [r.status for r in response.results]


def close(place: Marketplace, end: datetime, start: datetime | None = None) -> res.SettlementPeriod:
    return place.operator.CloseSettlementPeriod(
        api.CloseSettlementPeriodRequest(start_time=timestamp(start), end_time=timestamp(end))
    )


def test_a_closed_period_reconciles_to_the_cent(place: Marketplace) -> None:
    m = place.market
    lic = licensed(place)
    at = P1_START + timedelta(minutes=20)
    batch = [usage("e1", lic, m.works_a[0], at, 10), usage("e2", lic, m.works_a[1], at, 4)]
    assert record(place, *batch) == [mres.EventResult.STATUS_ACCEPTED] * 2
    assert record(place, *batch) == [mres.EventResult.STATUS_DUPLICATE] * 2  # a retry

    period = close(place, P1_END, P1_START)
    assert (period.name, period.state) == ("settlementPeriods/1", res.SettlementPeriod.STATE_CLOSED)

    vendor = place.settle(m.va.account.key)
    [summary] = vendor.ListInvoices(api.ListInvoicesRequest()).invoices
    invoice = vendor.GetInvoice(api.GetInvoiceRequest(name=summary.name))
    # 10 + 4 uses at $0.50, one line per work, in cents.
    assert invoice.total == 700 and invoice.currency == "USD"
    assert sorted((line.work, line.quantity, line.amount) for line in invoice.lines) == sorted(
        [(m.works_a[0], 10, 500), (m.works_a[1], 4, 200)]
    )
    statements = {
        s.party: place.operator.GetStatement(api.GetStatementRequest(name=s.name))
        for s in place.operator.ListStatements(api.ListStatementsRequest()).statements
    }
    assert set(statements) == {"publishers/pa", "people/jane"}
    # 15% commission on the license's 700, once: 105. Work 0 is split 70/30, so Jane's
    # gross is 150 and the publisher's 350 + 200; the commission 105 splits 22.5 / 82.5
    # and the equal halves go to the first party id ("people/jane" < "publishers/pa").
    jane, publisher = statements["people/jane"], statements["publishers/pa"]
    assert (jane.gross, jane.commission, jane.net) == (150, 23, 127)
    assert (publisher.gross, publisher.commission, publisher.net) == (550, 82, 468)
    assert all(line.commission_bps == 1_500 for line in jane.lines)
    assert jane.net + publisher.net + jane.commission + publisher.commission == invoice.total

    verdict = place.operator.VerifyStatement(api.VerifyStatementRequest(name=jane.name))
    assert verdict.valid and verdict.recomputed_digest == jane.digest
    [usd] = place.operator.GetTrialBalance(api.GetTrialBalanceRequest()).currencies
    assert usd.balanced and usd.total_debits == 700
    balances = {a.account: a.balance for a in usd.accounts}
    assert balances["marketplace/revenue"] == -105 and balances["people/jane/payable"] == -127

    again = close(place, P1_END)
    assert again.close_time == period.close_time  # the same period, nothing issued twice
    assert len(place.operator.ListInvoices(api.ListInvoicesRequest()).invoices) == 1


def test_sub_cent_prices_bill_the_exact_total_with_the_commission_rounded_once(
    place: Marketplace,
) -> None:
    """200 works used twice at $0.004: $1.60 (rounding each line's $0.008 bills $2.00,
    each use's $0.004 bills nothing), and a 15% commission of it: $0.24."""
    m = place.market
    pa = m.pa.account
    imported = pa.client.ImportWorks(
        iter(
            [capi.ImportWorksRequest(parent=pa.name, works=[article(100 + i) for i in range(200)])]
        )
    )
    works = [r.work for response in imported for r in response.results]
    offer = m.offer(
        m.pa,
        terms(
            price=lres.Price(model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=4_000),
            start_time=timestamp(HOUR - timedelta(hours=4)),
        ),
    )
    lic = m.license(m.va, offer).name
    at = P1_START + timedelta(minutes=5)
    events = [usage(f"s{i}", lic, work, at, 2) for i, work in enumerate(works)]
    assert set(record(place, *events)) == {mres.EventResult.STATUS_ACCEPTED}
    close(place, P1_END, P1_START)
    [summary] = place.operator.ListInvoices(api.ListInvoicesRequest()).invoices
    assert summary.total == 160
    [statement] = place.operator.ListStatements(api.ListStatementsRequest()).statements
    assert (statement.gross, statement.commission, statement.net) == (160, 24, 136)


def test_tampered_totals_and_balances_are_detected(place: Marketplace) -> None:
    m = place.market
    lic = licensed(place)
    at = P1_START + timedelta(minutes=20)
    record(place, usage("e1", lic, m.works_a[0], at, 10), usage("e2", lic, m.works_a[1], at, 4))
    close(place, P1_END, P1_START)
    statements = place.operator.ListStatements(api.ListStatementsRequest()).statements
    jane = next(s for s in statements if s.party == "people/jane")
    [clean] = place.operator.GetTrialBalance(api.GetTrialBalanceRequest(recompute=True)).currencies
    assert clean.recomputed and not clean.problems

    database = settlement_app.open_database(place.settlement.settings)
    try:
        with database.engine.begin() as conn:
            conn.execute(
                update(tables.statements)
                .where(tables.statements.c.id == jane.name.split("/")[-1])
                .values(
                    gross=tables.statements.c.gross + 1_000, net=tables.statements.c.net + 1_000
                )
            )
            conn.execute(
                update(tables.balance_snapshots)
                .where(tables.balance_snapshots.c.account == "people/jane/payable")
                .values(balance=tables.balance_snapshots.c.balance - 1_000)
            )
    finally:
        database.dispose()

    verdict = place.operator.VerifyStatement(api.VerifyStatementRequest(name=jane.name))
    assert not verdict.valid
    failed = {c.name: c.detail for c in verdict.checks if not c.passed}
    assert set(failed) == {"totals"}
    assert "gross is 1150 but its lines sum to 150" in failed["totals"]
    [saved] = place.operator.GetTrialBalance(api.GetTrialBalanceRequest()).currencies
    assert {a.account: a.balance for a in saved.accounts}["people/jane/payable"] == -1_127
    [usd] = place.operator.GetTrialBalance(api.GetTrialBalanceRequest(recompute=True)).currencies
    assert {a.account: a.balance for a in usd.accounts}["people/jane/payable"] == -127
    assert usd.problems == ["people/jane/payable: saved balance -1127, entries sum to -127"]


def test_late_usage_is_billed_next_period_as_an_adjustment(place: Marketplace) -> None:
    m = place.market
    lic = licensed(place)
    record(place, usage("a1", lic, m.works_a[1], P1_START + timedelta(minutes=5), 2))
    close(place, P1_END, P1_START)
    late = usage("late", lic, m.works_a[1], P1_START + timedelta(minutes=50), 3)
    own = usage("own", lic, m.works_a[1], P1_END + timedelta(minutes=10), 1)
    assert record(place, late, own) == [mres.EventResult.STATUS_ACCEPTED] * 2
    exported = place.meter(m.va.account.key).ExportUsageEvents(
        mapi.ExportUsageEventsRequest(
            license=lic, start_time=timestamp(P1_START), end_time=timestamp(HOUR)
        )
    )
    flags = {e.event.id: e.late_seal for page in exported for e in page.events}
    assert flags == {"a1": 0, "late": 1, "own": 0}

    close(place, P2_END)
    second = place.settle(m.va.account.key).GetInvoice(
        api.GetInvoiceRequest(name="invoices/p2-vendors-va-usd")
    )
    lines = sorted(
        (line.for_period, line.adjustment, line.quantity, line.amount) for line in second.lines
    )
    assert lines == [(1, True, 3, 150), (2, False, 1, 50)]


def test_running_charges_budget_and_payouts(place: Marketplace) -> None:
    m = place.market
    lic = licensed(place)
    record(place, usage("b1", lic, m.works_a[0], P1_START + timedelta(minutes=1), 10))
    close(place, P1_END, P1_START)
    record(place, usage("b2", lic, m.works_a[1], P2_END + timedelta(minutes=1), 3))
    vendor = place.settle(m.va.account.key)
    vendor.SetBudget(
        api.SetBudgetRequest(
            budget=res.Budget(
                vendor="vendors/va", currency="USD", amount=160, alert_threshold_bps=8_000
            )
        )
    )
    charges = vendor.GetRunningCharges(api.GetRunningChargesRequest())
    [usd] = charges.totals
    assert (usd.total, usd.alert, usd.over_budget) == (150, True, False)
    assert [(line.work, line.amount) for line in charges.lines] == [(m.works_a[1], 150)]

    jane = place.operator.ListStatements(api.ListStatementsRequest(party="people/jane")).statements[
        0
    ]
    payout = place.operator.CreatePayout(
        api.CreatePayoutRequest(party="people/jane", currency="USD", request_id="pay-1")
    )
    assert (payout.amount, payout.state) == (jane.net, res.Payout.STATE_PENDING)
    retried = place.operator.CreatePayout(
        api.CreatePayoutRequest(party="people/jane", currency="USD", request_id="pay-1")
    )
    assert retried.name == payout.name
    with pytest.raises(grpc.RpcError) as empty:
        place.operator.CreatePayout(
            api.CreatePayoutRequest(
                party="people/jane", currency="USD", amount=1, request_id="pay-2"
            )
        )
    assert error_reason(empty.value) == "INSUFFICIENT_BALANCE"
    paid = place.operator.ConfirmPayout(
        api.ConfirmPayoutRequest(
            name=payout.name,
            outcome=api.ConfirmPayoutRequest.OUTCOME_PAID,
            external_reference="wire-77",
        )
    )
    assert paid.state == res.Payout.STATE_PAID
    [usd_balance] = place.operator.GetTrialBalance(
        api.GetTrialBalanceRequest(currency="USD")
    ).currencies
    balances = {a.account: a.balance for a in usd_balance.accounts}
    assert balances["people/jane/payable"] == 0 and balances["payouts/paid"] == -jane.net
    assert balances.get("payouts/in-transit", 0) == 0 and usd_balance.balanced
    rows = list(
        csv.DictReader(io.StringIO(place.operator.ExportPayouts(api.ExportPayoutsRequest()).csv))
    )
    assert [(r["party"], r["state"], r["external_reference"]) for r in rows] == [
        ("people/jane", "PAID", "wire-77")
    ]


def test_each_party_sees_only_its_own_documents(place: Marketplace) -> None:
    m = place.market
    lic = licensed(place)
    record(place, usage("c1", lic, m.works_a[0], P1_START + timedelta(minutes=1), 1))
    close(place, P1_END, P1_START)
    invoice = place.operator.ListInvoices(api.ListInvoicesRequest()).invoices[0].name
    statement = (
        place.operator.ListStatements(api.ListStatementsRequest(party="publishers/pa"))
        .statements[0]
        .name
    )
    other_vendor = place.settle(m.vb.account.key)
    other_publisher = place.settle(m.pb.account.key)
    denied = [
        lambda: other_vendor.GetInvoice(api.GetInvoiceRequest(name=invoice)),
        lambda: other_publisher.GetStatement(api.GetStatementRequest(name=statement)),
        lambda: other_publisher.ListStatements(api.ListStatementsRequest(party="publishers/pa")),
        lambda: place.settle(m.va.account.key).CloseSettlementPeriod(
            api.CloseSettlementPeriodRequest(end_time=timestamp(P2_END))
        ),
        lambda: other_vendor.GetTrialBalance(api.GetTrialBalanceRequest()),
    ]
    for call in denied:
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert other_vendor.ListInvoices(api.ListInvoicesRequest()).invoices == []
    assert place.settle(m.pa.account.key).GetStatement(api.GetStatementRequest(name=statement))


@pytest.mark.parametrize(
    ("start", "end", "code", "reason"),
    [
        (None, P1_END, grpc.StatusCode.FAILED_PRECONDITION, "FIRST_PERIOD_NEEDS_START"),
        (
            P1_START,
            P1_END + timedelta(minutes=30),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_FIELDS",
        ),
        (P1_START, HOUR + timedelta(hours=2), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELDS"),
        (P1_END, P1_START, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELDS"),
    ],
)
def test_bad_closes_are_refused_and_change_nothing(
    place: Marketplace, start: datetime | None, end: datetime, code: grpc.StatusCode, reason: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        close(place, end, start)
    assert (refused.value.code(), error_reason(refused.value)) == (code, reason)
    assert place.operator.ListSettlementPeriods(api.ListSettlementPeriodsRequest()).periods == []


def test_a_void_of_billed_usage_becomes_a_reversing_line(place: Marketplace) -> None:
    m = place.market
    lic = licensed(place)
    record(place, usage("v1", lic, m.works_a[0], P1_START + timedelta(minutes=5), 10))
    close(place, P1_END, P1_START)
    void = mres.UsageEvent(id="v1-void", correction=mres.CORRECTION_VOID, corrects="v1")
    again = mres.UsageEvent(id="v1-again", correction=mres.CORRECTION_VOID, corrects="v1")
    nothing = mres.UsageEvent(id="v9-void", correction=mres.CORRECTION_VOID, corrects="v9")
    meter = place.meter(m.va.account.key)
    results = meter.RecordUsage(mapi.RecordUsageRequest(events=[void, again, nothing])).results
    assert [(r.status, r.reason) for r in results] == [
        (mres.EventResult.STATUS_ACCEPTED, 0),
        (mres.EventResult.STATUS_REJECTED, mres.EventResult.REASON_ALREADY_CORRECTED),
        (mres.EventResult.STATUS_REJECTED, mres.EventResult.REASON_NO_SUCH_EVENT),
    ]
    exported = meter.ExportUsageEvents(
        mapi.ExportUsageEventsRequest(
            license=lic, start_time=timestamp(P1_START), end_time=timestamp(HOUR)
        )
    )
    recorded = {e.event.id: e for page in exported for e in page.events}
    assert recorded["v1-void"].counted_quantity == -10
    assert recorded["v1-void"].event.corrects == "v1" and recorded["v1-void"].late_seal == 1

    close(place, P2_END)
    second = place.settle(m.va.account.key).GetInvoice(
        api.GetInvoiceRequest(name="invoices/p2-vendors-va-usd")
    )
    assert [
        (line.for_period, line.adjustment, line.quantity, line.amount) for line in second.lines
    ] == [(1, True, -10, -500)]
    assert second.total == -500  # a credit note
    [usd] = place.operator.GetTrialBalance(api.GetTrialBalanceRequest()).currencies
    assert (
        usd.balanced and {a.account: a.balance for a in usd.accounts}["vendors/va/receivable"] == 0
    )


def test_usage_past_a_cap_is_flagged_when_reported_and_never_billed(place: Marketplace) -> None:
    m = place.market
    capped = lres.Price(
        model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=1_000_000,
        period_cap_micros=5_000_000,
    )  # fmt: skip
    offer = m.offer(m.pa, terms(price=capped, start_time=timestamp(HOUR - timedelta(hours=4))))
    lic = m.license(m.va, offer).name
    meter = place.meter(m.va.account.key)
    at = P1_START + timedelta(minutes=10)
    first = meter.RecordUsage(
        mapi.RecordUsageRequest(events=[usage("k1", lic, m.works_a[0], at, 3)])
    ).results
    second = meter.RecordUsage(
        mapi.RecordUsageRequest(
            events=[usage("k2", lic, m.works_a[1], at, 1), usage("k3", lic, m.works_a[1], at, 4)]
        )
    ).results
    assert [list(r.flags) for r in [*first, *second]] == [[], [], ["OVER_CAP"]]
    assert all(r.status == mres.EventResult.STATUS_ACCEPTED for r in [*first, *second])
    close(place, P1_END, P1_START)
    [invoice] = place.settle(m.va.account.key).ListInvoices(api.ListInvoicesRequest()).invoices
    assert invoice.total == 500  # 8 uses at $1.00, capped at $5.00


def test_concurrent_budget_changes_each_apply_and_one_stays(place: Marketplace) -> None:
    """Sixteen callers setting the same budget at once: every call answers (none is an
    internal error from two inserts racing), and the budget left is one of theirs."""
    vendor = place.settle(place.market.va.account.key)
    amounts = [1_000 + n for n in range(16)]
    errors: list[BaseException] = []

    def set_budget(amount: int) -> None:
        try:
            vendor.SetBudget(
                api.SetBudgetRequest(
                    budget=res.Budget(currency="USD", amount=amount, alert_threshold_bps=9_000)
                )
            )
        except grpc.RpcError as error:
            errors.append(error)

    threads = [threading.Thread(target=set_budget, args=(a,)) for a in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    [usd] = vendor.GetRunningCharges(api.GetRunningChargesRequest()).totals
    assert usd.budget.amount in amounts
