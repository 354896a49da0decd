"""Who may see what in settlement: vendors their invoices and charges, rights holders
(publishers) their statements and payouts, the operator everything."""

from __future__ import annotations

from services.runtime.principal import Principal, Role, require


def operator_only(p: Principal, what: str) -> None:
    require(p.is_operator, f"only the marketplace operator can {what}")


def as_vendor(p: Principal, vendor: str) -> str:
    """The vendor the caller may act for: itself, or any for the operator."""
    if p.is_trusted:
        return vendor
    require(p.role is Role.VENDOR, "only vendors and the operator see charges and invoices")
    require(vendor in ("", p.account), "vendors see only their own charges and invoices")
    return p.account


def as_party(p: Principal, party: str) -> str:
    """The rights holder the caller may read for: itself, or any for the operator."""
    if p.is_trusted:
        return party
    require(p.role is Role.PUBLISHER, "only rights holders and the operator see statements")
    require(party in ("", p.account), "publishers see only their own statements and payouts")
    return p.account


def ledger_account(p: Principal, account: str) -> str:
    """Vendors read their receivable, publishers their payable, the operator any."""
    if p.is_trusted:
        return account
    own = f"{p.account}/receivable" if p.role is Role.VENDOR else f"{p.account}/payable"
    require(p.role in (Role.VENDOR, Role.PUBLISHER), "only parties read the ledger")
    require(account in ("", own), f"you may read only {own}")
    return own
