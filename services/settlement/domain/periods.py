"""Settlement periods: consecutive, whole hours, closed in order.

A period runs from the previous period's end to its own end; the first one starts where
the operator says (it still bills any earlier usage). Closing goes OPEN -> CLOSING ->
CLOSED through steps that can each be repeated: `opened` (the period exists, its posting
time fixed), `sealed` (metering closed its usage), `snapshot` (licenses and rights holders
copied), `posted` (ledger, invoices and statements written, in one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.runtime.errors import FailedPrecondition, Violations
from services.settlement.domain.terms import Period

STEPS = ("opened", "sealed", "snapshot", "posted")


@dataclass(frozen=True)
class PeriodRecord:
    number: int
    start: datetime
    end: datetime
    state: str  # CLOSING or CLOSED
    step: str
    close_time: datetime
    closed_time: datetime | None = None

    @property
    def period(self) -> Period:
        return Period(self.number, self.start, self.end)

    def done(self, step: str) -> bool:
        return STEPS.index(self.step) >= STEPS.index(step)


def check_close_request(start: datetime | None, end: datetime | None, now: datetime) -> datetime:
    v = Violations()
    for name, moment in (("start_time", start), ("end_time", end)):
        if moment is not None and (moment.minute or moment.second or moment.microsecond):
            v.add(name, "must be on the hour (usage is totalled per hour)")
    if end is None:
        v.add("end_time", "required")
    elif end > now:
        v.add("end_time", "must not be in the future: a period closes once it is over")
    if start is not None and end is not None and start >= end:
        v.add("end_time", "must be after start_time")
    v.raise_if_any()
    assert end is not None
    return end


def next_period(
    last: PeriodRecord | None, start: datetime | None, end: datetime, now: datetime
) -> PeriodRecord | None:
    """The period to create for closing up to `end`; None when `last` is that period
    (the close is being repeated or resumed)."""
    if last is not None and last.end == end:
        return None
    if last is not None and last.state != "CLOSED":
        raise FailedPrecondition(
            "PERIOD_STILL_CLOSING",
            f"period {last.number} (ending {last.end.isoformat()}) is still closing: "
            "close it again with its end time to finish it first",
        )
    if last is None:
        if start is None:
            raise FailedPrecondition(
                "FIRST_PERIOD_NEEDS_START", "the first period needs a start_time"
            )
        return PeriodRecord(1, start, end, "CLOSING", "opened", now)
    if end <= last.end:
        raise FailedPrecondition(
            "PERIOD_ALREADY_CLOSED",
            f"periods up to {last.end.isoformat()} are closed; a new one must end later",
        )
    if start is not None and start != last.end:
        raise FailedPrecondition(
            "PERIODS_ARE_CONSECUTIVE",
            f"the next period starts where period {last.number} ended, {last.end.isoformat()}",
        )
    return PeriodRecord(last.number + 1, last.end, end, "CLOSING", "opened", now)
