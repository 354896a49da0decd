"""Storage for offers, proposals (with their steps), licenses and idempotent creates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, tuple_, update

from services.licensing.adapters import tables as t
from services.licensing.adapters.terms_codec import terms_from_json, terms_to_json
from services.licensing.domain.licenses import License, LicenseFilter, LicenseState
from services.licensing.domain.negotiation import Action, Party, Proposal, ProposalState, Step
from services.licensing.domain.offers import Offer, OfferFilter, OfferState
from services.runtime.database import upsert_into
from services.runtime.sqltypes import utc_now


class OfferRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, offer: Offer) -> None:
        self._conn.execute(insert(t.offers).values(**_offer_row(offer)))

    def get(self, publisher_id: str, offer_id: str, lock: bool = False) -> Offer | None:
        query = select(t.offers).where(
            t.offers.c.publisher_id == publisher_id, t.offers.c.id == offer_id
        )
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        return _offer(row) if row else None

    def get_shown(self, publisher_id: str, offer_id: str) -> tuple[Offer, int | None] | None:
        """The offer and its publisher's commission override, in one statement."""
        row = self._conn.execute(
            _OFFER_SHOWN, {"publisher_id": publisher_id, "offer_id": offer_id}
        ).first()
        return (_offer(row), row.commission_override) if row else None

    def save(self, offer: Offer) -> None:
        self._conn.execute(
            update(t.offers)
            .where(t.offers.c.publisher_id == offer.publisher_id, t.offers.c.id == offer.id)
            .values(**_offer_row(offer))
        )

    def search(self, where: OfferFilter, after: list[str] | None, limit: int) -> list[Offer]:
        query = select(t.offers)
        if where.publisher_id is not None:
            query = query.where(t.offers.c.publisher_id == where.publisher_id)
        if where.state is not None:
            query = query.where(t.offers.c.state == where.state.value)
        if after is not None:
            query = query.where(tuple_(t.offers.c.publisher_id, t.offers.c.id) > tuple(after))
        rows = self._conn.execute(
            query.order_by(t.offers.c.publisher_id, t.offers.c.id).limit(limit)
        )
        return [_offer(r) for r in rows]

    def published_by(self, publisher_id: str) -> list[Offer]:
        return self.search(OfferFilter(publisher_id, OfferState.PUBLISHED), None, 10_000)

    def commission_override(self, publisher_id: str) -> int | None:
        return self._conn.execute(
            select(t.commission_rates.c.commission_bps).where(
                t.commission_rates.c.publisher_id == publisher_id
            )
        ).scalar()

    def commission_overrides(self, publisher_ids: set[str]) -> dict[str, int]:
        c = t.commission_rates
        rows = self._conn.execute(
            select(c.c.publisher_id, c.c.commission_bps).where(
                c.c.publisher_id.in_(sorted(publisher_ids))
            )
        )
        return {r.publisher_id: r.commission_bps for r in rows}

    def set_commission(self, publisher_id: str, bps: int | None) -> None:
        c = t.commission_rates
        if bps is None:
            self._conn.execute(c.delete().where(c.c.publisher_id == publisher_id))
            return
        # Insert or replace in one statement: two concurrent changes cannot both insert.
        values = {"commission_bps": bps, "update_time": utc_now()}
        self._conn.execute(
            upsert_into(self._conn, c)
            .values(publisher_id=publisher_id, **values)
            .on_conflict_do_update(index_elements=["publisher_id"], set_=values)
        )


class ProposalRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, p: Proposal) -> None:
        self._conn.execute(insert(t.proposals).values(**_proposal_row(p)))
        self._add_steps(p, 0)

    def save(self, p: Proposal, known_steps: int) -> None:
        """Updates the proposal and appends the steps after the first `known_steps`."""
        self._conn.execute(
            update(t.proposals).where(t.proposals.c.id == p.id).values(**_proposal_row(p))
        )
        self._add_steps(p, known_steps)

    def get(self, proposal_id: str, lock: bool = False) -> Proposal | None:
        query = select(t.proposals).where(t.proposals.c.id == proposal_id)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        steps = self._conn.execute(
            select(t.proposal_steps)
            .where(t.proposal_steps.c.proposal_id == proposal_id)
            .order_by(t.proposal_steps.c.ordinal)
        )
        return _proposal(row, tuple(_step(s) for s in steps))

    def search(
        self,
        party: str | None,
        offer: str,
        state: ProposalState | None,
        after: str | None,
        limit: int,
    ) -> list[Proposal]:
        query = select(t.proposals)
        if party is not None:
            query = query.where(
                or_(t.proposals.c.vendor == party, t.proposals.c.publisher == party)
            )
        if offer:
            query = query.where(t.proposals.c.offer == offer)
        if state is not None:
            query = query.where(t.proposals.c.state == state.value)
        if after is not None:
            query = query.where(t.proposals.c.id > after)
        rows = self._conn.execute(query.order_by(t.proposals.c.id).limit(limit)).all()
        if not rows:
            return []
        # The page's steps in one query, not one per proposal.
        steps: dict[str, list[Step]] = {r.id: [] for r in rows}
        for s in self._conn.execute(
            select(t.proposal_steps)
            .where(t.proposal_steps.c.proposal_id.in_(list(steps)))
            .order_by(t.proposal_steps.c.proposal_id, t.proposal_steps.c.ordinal)
        ):
            steps[s.proposal_id].append(_step(s))
        return [_proposal(r, tuple(steps[r.id])) for r in rows]

    def _add_steps(self, p: Proposal, start: int) -> None:
        rows = [
            {
                "proposal_id": p.id,
                "ordinal": i,
                "action": s.action.value,
                "actor": s.actor,
                "time": s.time,
                "terms": terms_to_json(s.terms),
                "changed_fields": list(s.changed_fields),
                "note": s.note,
            }
            for i, s in enumerate(p.steps)
            if i >= start
        ]
        if rows:
            self._conn.execute(insert(t.proposal_steps), rows)


class LicenseRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, lic: License) -> None:
        self._conn.execute(insert(t.licenses).values(**_license_row(lic)))

    def save(self, lic: License) -> None:
        self._conn.execute(
            update(t.licenses).where(t.licenses.c.id == lic.id).values(**_license_row(lic))
        )

    def get(self, license_id: str, lock: bool = False) -> License | None:
        query = select(t.licenses).where(t.licenses.c.id == license_id)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        return _license(row) if row else None

    def search(self, where: LicenseFilter, after: str | None, limit: int) -> list[License]:
        query = select(t.licenses)
        if where.vendor is not None:
            query = query.where(t.licenses.c.vendor == where.vendor)
        if where.publisher is not None:
            query = query.where(t.licenses.c.publisher == where.publisher)
        if where.state is not None:
            query = query.where(t.licenses.c.state == where.state.value)
        if after is not None:
            query = query.where(t.licenses.c.id > after)
        rows = self._conn.execute(query.order_by(t.licenses.c.id).limit(limit))
        return [_license(r) for r in rows]

    def all(self) -> list[License]:
        return [_license(r) for r in self._conn.execute(select(t.licenses))]


def _offer_row(o: Offer) -> dict[str, Any]:
    return {
        "publisher_id": o.publisher_id,
        "id": o.id,
        "display_name": o.display_name,
        "terms": terms_to_json(o.terms),
        "auto_accept_floor_micros": o.auto_accept_floor_micros,
        "state": o.state.value,
        "create_time": o.create_time,
        "update_time": o.update_time,
        "publish_time": o.publish_time,
        "etag": o.etag,
    }


# An offer with its publisher's commission override (NULL: the operator's default):
# GetOffer's read, built once.
_OFFER_SHOWN = (
    select(t.offers, t.commission_rates.c.commission_bps.label("commission_override"))
    .outerjoin(t.commission_rates, t.commission_rates.c.publisher_id == t.offers.c.publisher_id)
    .where(t.offers.c.publisher_id == bindparam("publisher_id"))
    .where(t.offers.c.id == bindparam("offer_id"))
)


def _offer(r: Any) -> Offer:
    return Offer(
        publisher_id=r.publisher_id,
        id=r.id,
        display_name=r.display_name,
        terms=terms_from_json(r.terms),
        auto_accept_floor_micros=r.auto_accept_floor_micros,
        state=OfferState(r.state),
        create_time=r.create_time,
        update_time=r.update_time,
        publish_time=r.publish_time,
        etag=r.etag,
    )


def _proposal_row(p: Proposal) -> dict[str, Any]:
    return {
        "id": p.id,
        "offer": p.offer,
        "vendor": p.vendor,
        "publisher": p.publisher,
        "terms": terms_to_json(p.terms),
        "state": p.state.value,
        "turn": p.turn.value,
        "create_time": p.create_time,
        "expire_time": p.expire_time,
        "license": p.license,
        "accept_request_id": p.accept_request_id,
        "etag": p.etag,
    }


def _proposal(r: Any, steps: tuple[Step, ...]) -> Proposal:
    return Proposal(
        id=r.id,
        offer=r.offer,
        vendor=r.vendor,
        publisher=r.publisher,
        terms=terms_from_json(r.terms),
        state=ProposalState(r.state),
        turn=Party(r.turn),
        steps=steps,
        create_time=r.create_time,
        expire_time=r.expire_time,
        etag=r.etag,
        license=r.license,
        accept_request_id=r.accept_request_id,
    )


def _step(r: Any) -> Step:
    return Step(
        action=Action(r.action),
        actor=r.actor,
        time=r.time,
        terms=terms_from_json(r.terms),
        changed_fields=tuple(r.changed_fields),
        note=r.note,
    )


def _license_row(lic: License) -> dict[str, Any]:
    return {
        "id": lic.id,
        "vendor": lic.vendor,
        "publisher": lic.publisher,
        "offer": lic.offer,
        "proposal": lic.proposal,
        "terms": terms_to_json(lic.terms),
        "commission_bps": lic.commission_bps,
        "state": lic.state.value,
        "start_time": lic.start_time,
        "end_time": lic.end_time,
        "create_time": lic.create_time,
        "update_time": lic.update_time,
        "state_reason": lic.state_reason,
        "etag": lic.etag,
    }


def _license(r: Any) -> License:
    return License(
        id=r.id,
        vendor=r.vendor,
        publisher=r.publisher,
        offer=r.offer,
        proposal=r.proposal,
        terms=terms_from_json(r.terms),
        commission_bps=r.commission_bps,
        state=LicenseState(r.state),
        start_time=r.start_time,
        end_time=r.end_time,
        create_time=r.create_time,
        update_time=r.update_time,
        state_reason=r.state_reason,
        etag=r.etag,
    )
