"""Licenses: a vendor's right to a publisher's works on frozen terms."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from services.licensing.domain.offers import new_etag
from services.licensing.domain.terms import Terms
from services.runtime.errors import FailedPrecondition


class LicenseState(Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class License:
    id: str
    vendor: str  # vendors/{v}
    publisher: str  # publishers/{p}
    offer: str
    proposal: str
    terms: Terms
    commission_bps: int
    state: LicenseState  # ACTIVE, SUSPENDED or REVOKED; EXPIRED is derived from end_time
    start_time: datetime
    end_time: datetime | None
    create_time: datetime
    update_time: datetime
    etag: str
    state_reason: str = ""

    @property
    def name(self) -> str:
        return f"licenses/{self.id}"

    def state_at(self, at: datetime) -> LicenseState:
        if self.state is LicenseState.ACTIVE and self.end_time is not None and at >= self.end_time:
            return LicenseState.EXPIRED
        return self.state


@dataclass(frozen=True)
class LicenseFilter:
    """Which licenses a listing asks for (None: any)."""

    vendor: str | None = None
    publisher: str | None = None
    state: LicenseState | None = None


def suspend(lic: License, reason: str, now: datetime) -> License:
    if lic.state_at(now) is not LicenseState.ACTIVE:
        raise FailedPrecondition(
            "LICENSE_NOT_ACTIVE", f"{lic.name} is {lic.state_at(now).value}; only active ones"
        )
    return _move(lic, LicenseState.SUSPENDED, reason, now)


def resume(lic: License, now: datetime) -> License:
    if lic.state is not LicenseState.SUSPENDED:
        raise FailedPrecondition(
            "LICENSE_NOT_SUSPENDED", f"{lic.name} is {lic.state_at(now).value}, not suspended"
        )
    return _move(lic, LicenseState.ACTIVE, "", now)


def revoke(lic: License, reason: str, now: datetime) -> License:
    if lic.state is LicenseState.REVOKED:
        raise FailedPrecondition("LICENSE_REVOKED", f"{lic.name} is already revoked")
    return _move(lic, LicenseState.REVOKED, reason, now)


def _move(lic: License, state: LicenseState, reason: str, now: datetime) -> License:
    return replace(lic, state=state, state_reason=reason, update_time=now, etag=new_etag())
