"""Who may do what in the catalog. Checked before touching storage, so a caller
learns nothing about resources it may not see."""

from __future__ import annotations

from services.runtime.principal import Principal, Role, require


def create_accounts(p: Principal) -> None:
    require(p.is_operator, "only the marketplace operator creates accounts")


def read_publisher(p: Principal, publisher: str) -> None:
    require(
        p.is_trusted or p.role is Role.VENDOR or p.owns(publisher),
        "publishers can read only their own account",
    )


def list_publishers(p: Principal) -> None:
    require(p.is_trusted or p.role is Role.VENDOR, "only the operator and vendors list publishers")


def read_vendor(p: Principal, vendor: str) -> None:
    require(p.is_trusted or p.owns(vendor), "vendors can read only their own account")


def list_vendors(p: Principal) -> None:
    require(p.is_trusted, "only the operator lists vendors")


def manage_keys(p: Principal, account: str) -> None:
    require(
        p.is_operator or p.owns(account), "only the operator or the account itself manages its keys"
    )


def trusted_only(p: Principal, what: str) -> None:
    require(p.is_trusted, f"only Licentia services and the operator {what}")


def write_works(p: Principal, publisher: str) -> None:
    require(p.is_operator or p.owns(publisher), "publishers can change only their own works")


def read_works(p: Principal, publisher: str | None, with_body: bool) -> None:
    """`publisher` None means all publishers."""
    if p.is_trusted:
        return
    if p.role is Role.VENDOR:
        require(
            not with_body,
            "work content needs a license; vendors can read metadata (WORK_VIEW_BASIC)",
            reason="LICENSE_REQUIRED",
        )
        return
    require(publisher is not None and p.owns(publisher), "publishers can read only their own works")


def may_read(p: Principal, publisher: str) -> bool:
    """Whether `p` sees this publisher's works' metadata (lookups filter, not fail)."""
    return p.is_trusted or p.role is Role.VENDOR or p.owns(publisher)
