"""Licensing's permission decisions, as metering reads them for an event."""

from __future__ import annotations

from dataclasses import dataclass

from services.metering.domain.events import Reason, Result, UsageEvent
from services.runtime.pricing import MeteredPrice


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # The license that allows the use; when denied, the closest one (if any).
    license: str = ""
    # Licensing's denial reason (`NO_LICENSE`, `SUSPENDED`...), empty when allowed.
    denial: str = ""
    explanation: str = ""
    # The license's price when it is usage-priced with a per-period cap (else None).
    capped: MeteredPrice | None = None


_REASONS = {
    "NO_LICENSE": Reason.NO_SUCH_LICENSE,
    "NOT_STARTED": Reason.LICENSE_NOT_ACTIVE,
    "EXPIRED": Reason.LICENSE_NOT_ACTIVE,
    "SUSPENDED": Reason.LICENSE_NOT_ACTIVE,
    "REVOKED": Reason.LICENSE_NOT_ACTIVE,
    "USE_PROHIBITED": Reason.USE_NOT_PERMITTED,
    "USE_NOT_PERMITTED": Reason.USE_NOT_PERMITTED,
    "USER_TYPE_NOT_PERMITTED": Reason.USE_NOT_PERMITTED,
    "TERRITORY_NOT_PERMITTED": Reason.USE_NOT_PERMITTED,
    "OUT_OF_SCOPE": Reason.WORK_OUT_OF_SCOPE,
    "WORK_NOT_FOUND": Reason.WORK_OUT_OF_SCOPE,
}


def rejection(event: UsageEvent, decision: Decision) -> Result | None:
    """Why the event cannot be counted under its license, or None when it can."""
    if decision.allowed and decision.license == event.license:
        return None
    if decision.allowed:
        return Result.rejected(
            event.id,
            Reason.NO_SUCH_LICENSE,
            f"{event.license} is not the vendor's license for this use of {event.work} "
            f"({decision.license} is)",
        )
    if decision.license and decision.license != event.license:
        return Result.rejected(
            event.id, Reason.NO_SUCH_LICENSE, f"the vendor holds no license {event.license}"
        )
    reason = _REASONS.get(decision.denial, Reason.NO_SUCH_LICENSE)
    return Result.rejected(event.id, reason, decision.explanation or decision.denial)
