"""Who is calling: set by the authentication interceptor, read by the service layer."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from enum import Enum

from services.runtime.errors import PermissionDenied, Unauthenticated


class Role(Enum):
    OPERATOR = "operator"
    PUBLISHER = "publisher"
    VENDOR = "vendor"
    SERVICE = "service"
    # Callers of a service's public methods (e.g. verifying a license token) who sent
    # no credentials.
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    role: Role
    # `operator`, `publishers/{p}`, `vendors/{v}` or `services/{name}`.
    account: str
    # Resource name of the API key used (empty for bootstrap and service credentials).
    api_key: str = ""

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    @property
    def is_trusted(self) -> bool:
        """The operator or another Licentia service."""
        return self.role in (Role.OPERATOR, Role.SERVICE)

    def owns(self, account: str) -> bool:
        return self.account == account


OPERATOR = Principal(Role.OPERATOR, "operator")
ANONYMOUS = Principal(Role.ANONYMOUS, "anonymous")

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "licentia_principal", default=None
)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("UNAUTHENTICATED", "no authenticated caller for this call")
    return principal


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


def principal_from_account(account: str, api_key: str) -> Principal:
    if account == "operator":
        return Principal(Role.OPERATOR, account, api_key)
    if account.startswith("publishers/"):
        return Principal(Role.PUBLISHER, account, api_key)
    if account.startswith("vendors/"):
        return Principal(Role.VENDOR, account, api_key)
    raise ValueError(f"unknown account kind: {account}")


def require(allowed: bool, message: str, reason: str = "PERMISSION_DENIED") -> None:
    if not allowed:
        raise PermissionDenied(reason, message)
