"""Payouts to rights holders, and their CSV export for the finance team."""

from __future__ import annotations

import csv
import io
from typing import Any

from services.runtime import pagination, resource_names
from services.runtime.errors import FailedPrecondition, NotFound, Violations
from services.runtime.principal import Principal
from services.runtime.sqltypes import utc_now
from services.settlement.domain import payouts as rules
from services.settlement.domain.ledger import payable
from services.settlement.domain.money import decimal_text
from services.settlement.service_layer import access
from services.settlement.service_layer.unit_of_work import UnitOfWorkFactory

STATES = ("PENDING", "PAID", "FAILED")


class PayoutService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def create(self, p: Principal, party: str, currency: str, amount: int, request_id: str) -> Any:
        access.operator_only(p, "pay rights holders out")
        v = Violations()
        if not party:
            v.add("party", "required")
        if len(currency) != 3 or not currency.isupper():
            v.add("currency", "an ISO 4217 code such as USD")
        if amount < 0:
            v.add("amount", "must not be negative")
        if not 1 <= len(request_id) <= 128:
            v.add("request_id", "required (1..128 characters): it makes retries safe")
        v.raise_if_any()
        with self._uow() as uow:
            existing = uow.records.payout(request_id=request_id)
            if existing is not None:
                return existing
            uow.ledger.lock(currency)  # balance checked and moved under the chain's lock
            available = -uow.ledger.balance(currency, payable(party))
            amount = rules.check_amount(amount, available)
            now = utc_now()
            payout_id = resource_names.new_id("po")
            uow.ledger.post([rules.sent(payout_id, party, currency, amount, now)])
            uow.records.add_payout(
                {
                    "id": payout_id,
                    "party": party,
                    "currency": currency,
                    "amount": amount,
                    "state": "PENDING",
                    "request_id": request_id,
                    "external_reference": "",
                    "failure_reason": "",
                    "create_time": now,
                    "update_time": now,
                }
            )
            uow.commit()
            return uow.records.payout(payout_id)

    def confirm(
        self, p: Principal, name: str, paid: bool | None, reference: str, reason: str
    ) -> Any:
        access.operator_only(p, "confirm payouts")
        (payout_id,) = resource_names.parse(name, ("payouts",), "name")
        v = Violations()
        if paid is None:
            v.add("outcome", "PAID or FAILED")
        if not reference:
            v.add("external_reference", "required: the payment rail's reference")
        v.raise_if_any()
        assert paid is not None
        with self._uow() as uow:
            row = uow.records.payout(payout_id, lock=True)
            if row is None:
                raise NotFound("PAYOUT_NOT_FOUND", f"{name} does not exist")
            state = rules.next_state(row.state, paid)
            if state is None:
                if row.external_reference != reference:
                    raise FailedPrecondition(
                        "PAYOUT_ALREADY_CONFIRMED",
                        f"already confirmed with reference {row.external_reference}",
                    )
                return row
            now = utc_now()
            uow.ledger.post(
                [rules.confirmed(row.id, row.party, row.currency, row.amount, paid, now)]
            )
            uow.records.update_payout(
                row.id,
                state=state,
                external_reference=reference,
                failure_reason="" if paid else reason,
                update_time=now,
            )
            uow.commit()
            return uow.records.payout(row.id)

    def list(
        self, p: Principal, party: str, state: str, page_size: int, token: str
    ) -> pagination.Page[Any]:
        party = access.as_party(p, party)
        filters = {"party": party, "state": state}
        page = pagination.page_request(page_size, token, filters)
        with self._uow(write=False) as uow:
            rows = uow.records.payouts(party, state, page.after or "", page.size)
        return pagination.page_of(rows, page.size, lambda r: r.id, filters)

    def export_csv(self, p: Principal, party: str, state: str) -> str:
        access.operator_only(p, "export payouts")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            ["payout", "party", "currency", "amount_minor", "amount", "state",
             "external_reference", "failure_reason", "create_time", "update_time"]
        )  # fmt: skip
        after = ""
        while True:
            with self._uow(write=False) as uow:
                rows = uow.records.payouts(party, state, after, 1_000)
            for r in rows:
                writer.writerow(
                    [f"payouts/{r.id}", r.party, r.currency, r.amount,
                     decimal_text(r.amount, r.currency), r.state, r.external_reference,
                     r.failure_reason, r.create_time.isoformat(), r.update_time.isoformat()]
                )  # fmt: skip
            if len(rows) < 1_000:
                return out.getvalue()
            after = rows[-1].id
