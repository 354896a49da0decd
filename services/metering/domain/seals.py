"""Billing seals: settlement closes usage up to a time, period by period.

Seal `k` says that usage before its `end` is billed by settlement period `k`. An event
for sealed time that arrives afterwards is still accepted (within the back-dating
window), but marked late with the seal in force: settlement bills it in the next period
as an adjustment. Seals are numbered 1, 2, ... and their ends only move forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.runtime.errors import FailedPrecondition

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Fence:
    """The latest seal (seal 0, ending at the epoch: nothing sealed yet)."""

    seal: int = 0
    end: datetime = EPOCH

    def late_seal(self, occur_time: datetime) -> int:
        """The seal an event at `occur_time` is late for, or 0 when it is on time."""
        return self.seal if occur_time < self.end else 0


def next_fence(current: Fence, seal: int, end: datetime) -> Fence | None:
    """The fence after sealing `seal` at `end`; None when that seal is already in force
    (sealing is idempotent). Refuses a gap in the numbering or an end that moves back."""
    if seal == current.seal and end == current.end:
        return None
    if seal <= current.seal:
        raise FailedPrecondition(
            "SEAL_MISMATCH",
            f"seal {seal} was made before with another end time (the latest seal is "
            f"{current.seal}, ending {current.end.isoformat()})",
        )
    if seal != current.seal + 1:
        raise FailedPrecondition(
            "SEAL_OUT_OF_ORDER", f"the next seal is {current.seal + 1}, not {seal}"
        )
    if end <= current.end:
        raise FailedPrecondition(
            "SEAL_NOT_FORWARD", f"seal {seal} must end after {current.end.isoformat()}"
        )
    return Fence(seal, end)
