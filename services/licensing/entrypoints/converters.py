"""Protobuf <-> domain translation for the licensing API."""

from __future__ import annotations

from datetime import timedelta

from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import resources_pb2 as res

from services.licensing.domain.licenses import License, LicenseState
from services.licensing.domain.negotiation import Proposal, ProposalState, Step
from services.licensing.domain.offers import Offer, OfferState
from services.licensing.domain.permissions import Decision
from services.licensing.domain.terms import Price, PriceModel, Scope, Terms, VolumeTier
from services.runtime.outbox import OutboxEvent
from services.runtime.proto_time import duration, from_duration, from_timestamp, timestamp


def _enum_by_name(enum_type: object, prefix: str) -> tuple[dict[str, int], dict[int, str]]:
    """Maps domain enum values (e.g. `DRAFT`) to proto numbers (`STATE_DRAFT`) and back."""
    names = {v.name: v.number for v in enum_type.DESCRIPTOR.values}  # type: ignore[attr-defined]
    to_proto = {n[len(prefix) :]: num for n, num in names.items() if num and n.startswith(prefix)}
    return to_proto, {num: name for name, num in to_proto.items()}


_MODEL, _MODEL_BACK = _enum_by_name(res.Price.Model, "MODEL_")
_OFFER_STATE, _OFFER_STATE_BACK = _enum_by_name(res.Offer.State, "STATE_")
_PROPOSAL_STATE, _PROPOSAL_STATE_BACK = _enum_by_name(res.Proposal.State, "STATE_")
_LICENSE_STATE, _LICENSE_STATE_BACK = _enum_by_name(res.License.State, "STATE_")
_PARTY, _ = _enum_by_name(res.Proposal.Party, "PARTY_")
_ACTION, _ = _enum_by_name(res.ProposalStep.Action, "ACTION_")
_DENIAL, _ = _enum_by_name(api.CheckPermissionResponse.Denial, "DENIAL_")


def terms_in(t: res.Terms) -> Terms:
    p = t.price
    return Terms(
        scope=Scope(
            tuple(t.scope.sections),
            tuple(t.scope.tags),
            tuple(t.scope.works),
            tuple(t.scope.urls),
        ),
        permitted_uses=tuple(t.permitted_uses),
        prohibited_uses=tuple(t.prohibited_uses),
        permitted_user_types=tuple(t.permitted_user_types),
        prohibited_user_types=tuple(t.prohibited_user_types),
        permitted_territories=tuple(t.permitted_territories),
        prohibited_territories=tuple(t.prohibited_territories),
        price=Price(
            model=PriceModel(_MODEL_BACK[p.model]) if p.model in _MODEL_BACK else None,
            currency=p.currency,
            amount_micros=p.amount_micros,
            share_bps=p.share_bps,
            tiers=tuple(VolumeTier(x.from_quantity, x.amount_micros) for x in p.tiers),
            period_cap_micros=p.period_cap_micros,
            minimum_commitment_micros=p.minimum_commitment_micros,
            interval=_INTERVAL_BACK.get(p.interval, str(p.interval)),
            interval_seconds=_interval_seconds(p),
        ),
        start_time=from_timestamp(t, "start_time"),
        end_time=from_timestamp(t, "end_time"),
        duration=from_duration(t, "duration"),
        attribution_required=t.attribution_required,
        reporting_required=t.reporting_required,
    )


def price(p: Price) -> res.Price:
    return res.Price(
        model=_MODEL[p.model.value] if p.model else 0,  # type: ignore[arg-type]
        currency=p.currency,
        amount_micros=p.amount_micros,
        share_bps=p.share_bps,
        tiers=[
            res.VolumeTier(from_quantity=x.from_quantity, amount_micros=x.amount_micros)
            for x in p.tiers
        ],
        period_cap_micros=p.period_cap_micros,
        minimum_commitment_micros=p.minimum_commitment_micros,
        interval=res.Price.Interval.Value(f"INTERVAL_{p.interval}"),
        interval_duration=duration(timedelta(seconds=p.interval_seconds))
        if p.interval_seconds
        else None,
    )


_INTERVAL_BACK = {
    res.Price.INTERVAL_UNSPECIFIED: "MONTH",
    res.Price.INTERVAL_MONTH: "MONTH",
    res.Price.INTERVAL_YEAR: "YEAR",
}


def _interval_seconds(p: res.Price) -> int:
    """Whole seconds of a fixed interval (0: none); a fraction of a second is refused by
    validation as an out-of-range value (-1)."""
    span = from_duration(p, "interval_duration")
    if span is None:
        return 0
    seconds = span.total_seconds()
    return int(seconds) if seconds == int(seconds) and seconds > 0 else -1


def terms(t: Terms) -> res.Terms:
    return res.Terms(
        scope=res.Scope(
            sections=t.scope.sections, tags=t.scope.tags, works=t.scope.works, urls=t.scope.urls
        ),
        permitted_uses=t.permitted_uses,
        prohibited_uses=t.prohibited_uses,
        permitted_user_types=t.permitted_user_types,
        prohibited_user_types=t.prohibited_user_types,
        permitted_territories=t.permitted_territories,
        prohibited_territories=t.prohibited_territories,
        price=price(t.price),
        start_time=timestamp(t.start_time),
        end_time=timestamp(t.end_time),
        duration=duration(t.duration),
        attribution_required=t.attribution_required,
        reporting_required=t.reporting_required,
    )


def offer(o: Offer) -> res.Offer:
    return res.Offer(
        name=o.name,
        display_name=o.display_name,
        terms=terms(o.terms),
        auto_accept_floor_micros=o.auto_accept_floor_micros,
        commission_bps=o.commission_bps,
        state=_OFFER_STATE[o.state.value],  # type: ignore[arg-type]
        create_time=timestamp(o.create_time),
        update_time=timestamp(o.update_time),
        publish_time=timestamp(o.publish_time),
        etag=o.etag,
    )


def offer_state_in(value: int) -> OfferState | None:
    return OfferState(_OFFER_STATE_BACK[value]) if value in _OFFER_STATE_BACK else None


def proposal_state_in(value: int) -> ProposalState | None:
    return ProposalState(_PROPOSAL_STATE_BACK[value]) if value in _PROPOSAL_STATE_BACK else None


def license_state_in(value: int) -> LicenseState | None:
    return LicenseState(_LICENSE_STATE_BACK[value]) if value in _LICENSE_STATE_BACK else None


def step(s: Step) -> res.ProposalStep:
    return res.ProposalStep(
        action=_ACTION[s.action.value],  # type: ignore[arg-type]
        actor=s.actor,
        time=timestamp(s.time),
        terms=terms(s.terms),
        changed_fields=s.changed_fields,
        note=s.note,
    )


def proposal(p: Proposal, state: ProposalState) -> res.Proposal:
    return res.Proposal(
        name=p.name,
        offer=p.offer,
        vendor=p.vendor,
        publisher=p.publisher,
        terms=terms(p.terms),
        state=_PROPOSAL_STATE[state.value],  # type: ignore[arg-type]
        turn=_PARTY[p.turn.value] if state is ProposalState.OPEN else 0,  # type: ignore[arg-type]
        steps=[step(s) for s in p.steps],
        create_time=timestamp(p.create_time),
        expire_time=timestamp(p.expire_time),
        license=p.license,
        etag=p.etag,
    )


def license(lic: License, state: LicenseState) -> res.License:
    return res.License(
        name=lic.name,
        vendor=lic.vendor,
        publisher=lic.publisher,
        offer=lic.offer,
        proposal=lic.proposal,
        terms=terms(lic.terms),
        commission_bps=lic.commission_bps,
        state=_LICENSE_STATE[state.value],  # type: ignore[arg-type]
        start_time=timestamp(lic.start_time),
        end_time=timestamp(lic.end_time),
        create_time=timestamp(lic.create_time),
        update_time=timestamp(lic.update_time),
        state_reason=lic.state_reason,
        etag=lic.etag,
    )


def license_state_value(state: LicenseState | None) -> res.License.State.ValueType:
    return _LICENSE_STATE[state.value] if state else 0  # type: ignore[return-value]


def license_event(e: OutboxEvent) -> res.LicenseEvent:
    return res.LicenseEvent(
        sequence=e.sequence,
        license=e.payload["license"],
        vendor=e.payload["vendor"],
        publisher=e.payload["publisher"],
        kind=e.event_type,
        occur_time=timestamp(e.occurred_at),
    )


def decision(d: Decision) -> api.CheckPermissionResponse:
    return api.CheckPermissionResponse(
        allowed=d.allowed,
        license=d.license,
        price=price(d.price) if d.price else None,
        commission_bps=d.commission_bps,
        denial=_DENIAL[d.denial.value] if d.denial else 0,  # type: ignore[arg-type]
        explanation=d.explanation,
        valid_from=timestamp(d.valid_from) if d.valid_from else None,
        valid_until=timestamp(d.valid_until) if d.valid_until else None,
        same_for_every_work=d.every_work,
    )
