"""The gRPC adapter: protobuf in, use cases, protobuf out. No logic of its own."""

from __future__ import annotations

from typing import Any

from licentia.settlement.v1 import resources_pb2 as res
from licentia.settlement.v1 import settlement_service_pb2 as api
from licentia.settlement.v1 import settlement_service_pb2_grpc as api_grpc

from services.runtime.principal import current_principal
from services.runtime.proto_time import from_timestamp, timestamp
from services.settlement.entrypoints import converters as cv
from services.settlement.service_layer.charges import ChargesService
from services.settlement.service_layer.closing import ClosingService
from services.settlement.service_layer.documents import Document, DocumentService
from services.settlement.service_layer.payouts import PayoutService

Context = Any
_OUTCOMES = {
    api.ConfirmPayoutRequest.OUTCOME_PAID: True,
    api.ConfirmPayoutRequest.OUTCOME_FAILED: False,
}


class SettlementServicer(api_grpc.SettlementServiceServicer):
    def __init__(
        self,
        closing: ClosingService,
        documents: DocumentService,
        charges: ChargesService,
        payouts: PayoutService,
    ) -> None:
        self._closing = closing
        self._documents = documents
        self._charges = charges
        self._payouts = payouts

    def CloseSettlementPeriod(
        self, request: api.CloseSettlementPeriodRequest, context: Context
    ) -> res.SettlementPeriod:
        period = self._closing.close(
            current_principal(),
            from_timestamp(request, "start_time"),
            from_timestamp(request, "end_time"),
            request.request_id,
        )
        return cv.period_out(period)

    def GetSettlementPeriod(
        self, request: api.GetSettlementPeriodRequest, context: Context
    ) -> res.SettlementPeriod:
        return cv.period_out(self._documents.period(current_principal(), request.name))

    def ListSettlementPeriods(
        self, request: api.ListSettlementPeriodsRequest, context: Context
    ) -> api.ListSettlementPeriodsResponse:
        page = self._documents.periods(current_principal(), request.page_size, request.page_token)
        return api.ListSettlementPeriodsResponse(
            periods=[cv.period_out(p) for p in page.items], next_page_token=page.next_page_token
        )

    def GetInvoice(self, request: api.GetInvoiceRequest, context: Context) -> res.Invoice:
        return cv.invoice_out(self._documents.invoice(current_principal(), request.name))

    def ListInvoices(
        self, request: api.ListInvoicesRequest, context: Context
    ) -> api.ListInvoicesResponse:
        page = self._documents.invoices(
            current_principal(),
            request.vendor,
            request.period,
            request.page_size,
            request.page_token,
        )
        return api.ListInvoicesResponse(
            invoices=[cv.invoice_out(Document(r)) for r in page.items],
            next_page_token=page.next_page_token,
        )

    def GetStatement(self, request: api.GetStatementRequest, context: Context) -> res.Statement:
        return cv.statement_out(self._documents.statement(current_principal(), request.name))

    def ListStatements(
        self, request: api.ListStatementsRequest, context: Context
    ) -> api.ListStatementsResponse:
        page = self._documents.statements(
            current_principal(),
            request.party,
            request.period,
            request.page_size,
            request.page_token,
        )
        return api.ListStatementsResponse(
            statements=[cv.statement_out(Document(r)) for r in page.items],
            next_page_token=page.next_page_token,
        )

    def VerifyStatement(
        self, request: api.VerifyStatementRequest, context: Context
    ) -> api.VerifyStatementResponse:
        v = self._documents.verify(current_principal(), request.name)
        return api.VerifyStatementResponse(
            valid=v.valid,
            problems=v.problems,
            recomputed_digest=v.recomputed_digest,
            statement_digest=v.statement_digest,
            head_sequence=v.head_sequence,
            head_hash=v.head_hash,
            checks=[
                api.VerificationCheck(name=c.name, passed=c.passed, detail=c.detail)
                for c in v.checks
            ],
        )

    def GetTrialBalance(
        self, request: api.GetTrialBalanceRequest, context: Context
    ) -> api.GetTrialBalanceResponse:
        balances = self._documents.trial_balance(
            current_principal(), request.currency, request.recompute
        )
        return api.GetTrialBalanceResponse(currencies=[cv.trial_balance_out(b) for b in balances])

    def ListLedgerEntries(
        self, request: api.ListLedgerEntriesRequest, context: Context
    ) -> api.ListLedgerEntriesResponse:
        page = self._documents.entries(
            current_principal(),
            request.currency,
            request.account,
            request.page_size,
            request.page_token,
        )
        return api.ListLedgerEntriesResponse(
            entries=[cv.entry_out(r) for r in page.items], next_page_token=page.next_page_token
        )

    def GetRunningCharges(
        self, request: api.GetRunningChargesRequest, context: Context
    ) -> api.GetRunningChargesResponse:
        charges = self._charges.running(current_principal(), request.vendor)
        return api.GetRunningChargesResponse(
            vendor=charges.vendor,
            start_time=timestamp(charges.start),
            as_of_time=timestamp(charges.as_of),
            lines=[cv.running_line_out(line) for line in charges.lines],
            totals=[cv.total_out(t) for t in charges.totals],
        )

    def SetBudget(self, request: api.SetBudgetRequest, context: Context) -> res.Budget:
        b = request.budget
        row = self._charges.set_budget(
            current_principal(), b.vendor, b.currency, b.amount, b.alert_threshold_bps
        )
        return cv.budget_out(row)

    def SetAttributionPool(
        self, request: api.SetAttributionPoolRequest, context: Context
    ) -> api.SetAttributionPoolResponse:
        number = self._charges.set_pool(
            current_principal(), request.vendor, request.currency, request.amount
        )
        return api.SetAttributionPoolResponse(period_number=number)

    def CreatePayout(self, request: api.CreatePayoutRequest, context: Context) -> res.Payout:
        row = self._payouts.create(
            current_principal(),
            request.party,
            request.currency,
            request.amount,
            request.request_id,
        )
        return cv.payout_out(row)

    def ConfirmPayout(self, request: api.ConfirmPayoutRequest, context: Context) -> res.Payout:
        row = self._payouts.confirm(
            current_principal(),
            request.name,
            _OUTCOMES.get(request.outcome),
            request.external_reference,
            request.failure_reason,
        )
        return cv.payout_out(row)

    def ListPayouts(
        self, request: api.ListPayoutsRequest, context: Context
    ) -> api.ListPayoutsResponse:
        page = self._payouts.list(
            current_principal(),
            request.party,
            cv.PAYOUT_STATE_NAMES.get(request.state, ""),
            request.page_size,
            request.page_token,
        )
        return api.ListPayoutsResponse(
            payouts=[cv.payout_out(r) for r in page.items], next_page_token=page.next_page_token
        )

    def ExportPayouts(
        self, request: api.ExportPayoutsRequest, context: Context
    ) -> api.ExportPayoutsResponse:
        csv_text = self._payouts.export_csv(
            current_principal(), request.party, cv.PAYOUT_STATE_NAMES.get(request.state, "")
        )
        return api.ExportPayoutsResponse(csv=csv_text)
