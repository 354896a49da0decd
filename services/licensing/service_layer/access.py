"""Who may do what in licensing. Checked before storage is touched, so a caller learns
nothing about offers, proposals or licenses it may not see."""

from __future__ import annotations

from services.runtime.principal import Principal, Role, require


def write_offers(p: Principal, publisher: str) -> None:
    require(p.is_operator or p.owns(publisher), "publishers manage only their own offers")


def read_offer(p: Principal, publisher: str, published: bool) -> bool:
    """Whether `p` may see the offer; vendors see published offers only."""
    return p.is_trusted or p.owns(publisher) or (p.role is Role.VENDOR and published)


def operator_only(p: Principal, what: str) -> None:
    require(p.is_operator, f"only the marketplace operator can {what}")


def trusted_only(p: Principal, what: str) -> None:
    require(p.is_trusted, f"only Licentia services and the operator {what}")


def vendor_only(p: Principal, what: str) -> None:
    require(p.role is Role.VENDOR, f"only AI vendors {what}")


def is_party(p: Principal, vendor: str, publisher: str) -> bool:
    return p.is_trusted or p.owns(vendor) or p.owns(publisher)


def act_on_license(p: Principal, publisher: str) -> None:
    require(
        p.is_operator or p.owns(publisher),
        "only the licensor (or the operator) can suspend, resume or revoke a license",
        reason="NOT_LICENSOR",
    )
