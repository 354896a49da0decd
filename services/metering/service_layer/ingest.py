"""Recording usage: every event answered, each counted exactly once.

Per batch: well-formedness; repeats inside the batch; events already stored (answered
DUPLICATE or CONFLICT without asking licensing, so retries stay cheap and a retry of an
accepted event stays a success even if the license changed since); licensing's decisions
for the rest (one call per batch, from a local cache); then one transaction claims the
keys, stores the events and adds them to the hourly rollups. An answer ACCEPTED is sent
only after that transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from services.metering.domain.caps import OVER_CAP, over_cap
from services.metering.domain.decisions import Decision, rejection
from services.metering.domain.events import (
    MAX_BATCH,
    Reason,
    Result,
    Status,
    TimeWindow,
    UsageEvent,
    as_counted,
    check_event,
    is_reserved,
    is_storable_id,
)
from services.metering.domain.rollups import roll_up
from services.metering.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import resource_names
from services.runtime.errors import FieldViolation, InvalidArgument, Unavailable
from services.runtime.pricing import MeteredPrice
from services.runtime.principal import Principal, Role, require
from services.runtime.sqltypes import utc_now


class PermissionSource(Protocol):
    def decide(
        self, vendor: str, queries: Sequence[tuple[str, str, datetime, str]]
    ) -> list[Decision]:
        """Per (work, use, time, license): whether that license permits it."""
        ...


class IngestService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        permissions: PermissionSource,
        window: TimeWindow | None = None,
    ) -> None:
        self._uow = uow
        self._permissions = permissions
        self._window = window or TimeWindow()

    def record(
        self, p: Principal, events: Sequence[UsageEvent], for_vendor: str = ""
    ) -> list[Result]:
        """`for_vendor`: a Licentia service recording usage it saw for a vendor."""
        vendor = _reporting_vendor(p, for_vendor)
        if len(events) > MAX_BATCH:
            raise InvalidArgument(
                "TOO_MANY_EVENTS",
                f"at most {MAX_BATCH} events per batch",
                [FieldViolation("events", f"{len(events)} given")],
            )
        now = utc_now()
        trusted = p.is_trusted
        # Ids already stored first: a resent event identical to one accepted is answered
        # DUPLICATE without checking it again (it was valid when accepted), which keeps
        # retries and replays cheap.
        with self._uow(write=False, autocommit=True) as uow:
            stored = uow.usage.digests(vendor, _plausible_ids(events, trusted))
        results: dict[int, Result] = {}
        first_of: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        for i, event in enumerate(events):
            if event.same_payload(stored.get(event.id)) and not is_reserved(event.id, trusted):
                results[i] = Result(event.id, Status.DUPLICATE)
            elif (problem := check_event(event, now, self._window, trusted)) is not None:
                results[i] = problem
            elif event.id in first_of:
                repeats.append((i, first_of[event.id]))
            else:
                first_of[event.id] = i
        unique = list(first_of.values())
        fresh = []
        for i in unique:
            if events[i].id in stored:
                results[i] = _against_stored(events[i], stored[events[i].id])
            else:
                fresh.append(i)
        plain = [i for i in fresh if events[i].correction is None]
        corrections = self._corrections(vendor, events, fresh, results)
        licensed, prices = self._licensed(vendor, events, plain, results)
        allowed = sorted(licensed + list(corrections))
        flagged: set[str] = set()

        with self._uow() as uow:
            batch = [corrections.get(i, events[i]) for i in allowed]
            claimed, earlier = uow.usage.claim(vendor, batch, now)
            # A correction counts only if its event is the first to correct the original;
            # otherwise its key is given back in this same transaction.
            mine = [i for i in corrections if events[i].id in claimed]
            refused = uow.usage.claim_corrections(
                vendor, [(events[i].corrects, events[i].id) for i in mine]
            )
            for i in mine:
                if events[i].corrects in refused:
                    results[i] = _already_corrected(events[i])
                    claimed.discard(events[i].id)
            uow.usage.release(vendor, [events[i].id for i in mine if i in results])
            counted = [e for e in batch if e.id in claimed]
            if counted:
                fence = uow.usage.fence()  # held until commit: no seal slips in between
                if prices:
                    used = {
                        name: uow.usage.open_quantity(vendor, name, price.unit, fence.end)
                        for name, price in prices.items()
                    }
                    flagged = over_cap(counted, prices, used)
                uow.usage.add_events(vendor, counted, now, fence)
                uow.usage.add_to_rollups(roll_up(vendor, counted, fence))
            uow.commit()
        for i in allowed:
            event = events[i]
            if i in results:
                continue
            results[i] = (
                Result(event.id, Status.ACCEPTED, flags=_flags(event.id in flagged))
                if event.id in claimed
                else _against_stored(event, earlier[event.id])  # another replica was first
            )
        # What each id now stands for: the payload stored first, by this batch or before.
        counted_as = {**stored, **earlier}
        counted_as.update(
            (events[i].id, events[i].tagged) for i in allowed if events[i].id in claimed
        )
        for i, first in repeats:
            results[i] = _repeat(
                events[i], events[first], results[first], counted_as.get(events[i].id)
            )
        return [results[i] for i in range(len(events))]

    def _corrections(
        self,
        vendor: str,
        events: Sequence[UsageEvent],
        indexes: list[int],
        results: dict[int, Result],
    ) -> dict[int, UsageEvent]:
        """The corrections among `indexes`, as they will be counted. No license check: a
        correction settles what was already accepted, even under a license revoked since."""
        wanted = [i for i in indexes if events[i].correction is not None]
        if not wanted:
            return {}
        with self._uow(write=False) as uow:
            recorded = uow.usage.recorded(vendor, [events[i].corrects for i in wanted])
        counted: dict[int, UsageEvent] = {}
        named: set[str] = set()
        for i in wanted:
            event = events[i]
            original = recorded.get(event.corrects)
            if original is None:
                results[i] = Result.rejected(
                    event.id, Reason.NO_SUCH_EVENT, f"no event {event.corrects} was recorded"
                )
            elif event.corrects in named:
                results[i] = _already_corrected(event)
            else:
                named.add(event.corrects)
                counted[i] = as_counted(event, original)
        return counted

    def _licensed(
        self,
        vendor: str,
        events: Sequence[UsageEvent],
        indexes: list[int],
        results: dict[int, Result],
    ) -> tuple[list[int], dict[str, MeteredPrice]]:
        """The events licensing allows, and the capped prices of their licenses; the
        others get their rejection in `results`."""
        if not indexes:
            return [], {}
        # Each event is judged under the license it names: a vendor may hold several.
        queries = [
            (events[i].work, events[i].use, events[i].occur_time, events[i].license)
            for i in indexes
        ]
        try:
            decisions = self._permissions.decide(vendor, queries)  # type: ignore[arg-type]
        except Unavailable as error:
            for i in indexes:
                results[i] = Result.rejected(
                    events[i].id, Reason.LICENSING_UNAVAILABLE, error.message
                )
            return [], {}
        allowed = []
        prices: dict[str, MeteredPrice] = {}
        for i, decision in zip(indexes, decisions, strict=True):
            refused = rejection(events[i], decision)
            if refused is None:
                allowed.append(i)
                if decision.capped is not None:
                    prices[decision.license] = decision.capped
            else:
                results[i] = refused
        return allowed, prices


def _plausible_ids(events: Sequence[UsageEvent], trusted: bool) -> list[str]:
    """The distinct ids worth looking up: of a length that can be stored, and the caller's."""
    return list({e.id for e in events if is_storable_id(e.id) and not is_reserved(e.id, trusted)})


def _flags(over: bool) -> tuple[str, ...]:
    return (OVER_CAP,) if over else ()


def _reporting_vendor(p: Principal, for_vendor: str) -> str:
    if p.role is Role.VENDOR:
        require(for_vendor in ("", p.account), "vendors report their own usage only")
        return p.account
    require(p.role is Role.SERVICE, "only vendors (and Licentia services) report usage")
    if not resource_names.matches(for_vendor, ("vendors",)):
        raise InvalidArgument(
            "INVALID_FIELDS",
            "vendor: a service names the vendor the usage is for (vendors/{vendor})",
            [FieldViolation("vendor", "vendors/{vendor}")],
        )
    return for_vendor


def _already_corrected(event: UsageEvent) -> Result:
    return Result.rejected(
        event.id,
        Reason.ALREADY_CORRECTED,
        f"{event.corrects} was already corrected: correct the correction instead",
    )


def _against_stored(event: UsageEvent, digest: bytes) -> Result:
    """`digest`: as stored, its version byte first."""
    if event.same_payload(digest):
        return Result(event.id, Status.DUPLICATE)
    return Result(event.id, Status.CONFLICT, message="this id was recorded with another payload")


def _repeat(
    event: UsageEvent, first: UsageEvent, first_result: Result, counted_as: bytes | None
) -> Result:
    """An id seen earlier in the same batch: judged against what that id counts as, or,
    when nothing was counted, answered as its first occurrence was."""
    if counted_as is not None:
        return _against_stored(event, counted_as)
    if event.digest() == first.digest():
        return first_result
    return Result(event.id, Status.CONFLICT, message="this id came with another payload")
