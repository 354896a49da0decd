"""Payouts: a rights holder's payable balance moves to `payouts/in-transit` when a
payout is sent, then to `payouts/paid` when the payment rail confirms it, or back to
payable when the rail refuses it."""

from __future__ import annotations

from datetime import datetime

from services.runtime.errors import FailedPrecondition
from services.settlement.domain.ledger import IN_TRANSIT, PAID, Entry, NewTransaction, payable


def sent(payout_id: str, party: str, currency: str, amount: int, at: datetime) -> NewTransaction:
    return NewTransaction(
        f"payout/{payout_id}",
        currency,
        "payout",
        f"payouts/{payout_id}",
        at,
        (Entry(payable(party), amount), Entry(IN_TRANSIT, -amount)),
    )


def confirmed(
    payout_id: str, party: str, currency: str, amount: int, paid: bool, at: datetime
) -> NewTransaction:
    to = PAID if paid else payable(party)
    kind = "payout-paid" if paid else "payout-failed"
    return NewTransaction(
        f"{kind}/{payout_id}",
        currency,
        kind,
        f"payouts/{payout_id}",
        at,
        (Entry(IN_TRANSIT, amount), Entry(to, -amount)),
    )


def check_amount(requested: int, available: int) -> int:
    """The amount to pay out: `requested`, or everything available for 0."""
    amount = requested or available
    if amount <= 0:
        raise FailedPrecondition("NOTHING_TO_PAY", "the payable balance is zero")
    if amount > available:
        raise FailedPrecondition(
            "INSUFFICIENT_BALANCE", f"the payable balance is {available}, less than {amount}"
        )
    return amount


def next_state(current: str, paid: bool) -> str | None:
    """The state a confirmation leads to; None when it was already confirmed so."""
    wanted = "PAID" if paid else "FAILED"
    if current == wanted:
        return None
    if current != "PENDING":
        raise FailedPrecondition("PAYOUT_ALREADY_CONFIRMED", f"the payout is already {current}")
    return wanted
