"""Licensing through the real gRPC servers (catalog + licensing), SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.duration_pb2 import Duration
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.licensing import app as licensing_app
from services.runtime.config import Settings
from tests.api.market import Market, Party, terms
from tests.conftest import Client, error_reason, eventually, field_violations, start_service

PER_USE = res.Price.MODEL_PER_USE


def fails(code: grpc.StatusCode, reason: str, call, *args, **kw) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, **kw)
    assert (raised.value.code(), error_reason(raised.value)) == (code, reason)
    return raised.value


def check(
    vendor: Party, work: str, use: str = "ai-input", **kw: str
) -> api.CheckPermissionResponse:
    return vendor.lic.CheckPermission(api.CheckPermissionRequest(work=work, use=use, **kw))


# Offers


def test_offer_lifecycle_and_visibility(market: Market) -> None:
    draft = market.offer(market.pa, terms(), publish=False)
    assert draft.state == res.Offer.STATE_DRAFT and draft.commission_bps == 1_500
    fails(
        grpc.StatusCode.NOT_FOUND,
        "OFFER_NOT_FOUND",
        market.va.lic.GetOffer,
        api.GetOfferRequest(name=draft.name),
    )
    listed = market.va.lic.ListOffers(api.ListOffersRequest(parent="publishers/-"))
    assert draft.name not in [o.name for o in listed.offers]
    published = market.pa.lic.PublishOffer(
        api.PublishOfferRequest(name=draft.name, etag=draft.etag)
    )
    assert published.state == res.Offer.STATE_PUBLISHED
    assert market.va.lic.GetOffer(api.GetOfferRequest(name=draft.name)).name == draft.name
    fails(
        grpc.StatusCode.FAILED_PRECONDITION,
        "OFFER_NOT_DRAFT",
        market.pa.lic.PublishOffer,
        api.PublishOfferRequest(name=draft.name),
    )
    withdrawn = market.pa.lic.WithdrawOffer(api.WithdrawOfferRequest(name=draft.name))
    assert withdrawn.state == res.Offer.STATE_WITHDRAWN
    fails(
        grpc.StatusCode.FAILED_PRECONDITION,
        "OFFER_NOT_PUBLISHED",
        market.va.lic.CreateProposal,
        api.CreateProposalRequest(offer=draft.name),
    )


def test_offer_validation_reports_every_field(market: Market) -> None:
    bad = res.Terms(
        permitted_uses=["ai-everything"],
        permitted_territories=["XX"],
        price=res.Price(model=PER_USE, currency="usd", amount_micros=0),
    )
    error = fails(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FIELDS",
        market.pa.lic.CreateOffer,
        api.CreateOfferRequest(parent=market.pa.name, offer=res.Offer(display_name="x", terms=bad)),
    )
    assert set(field_violations(error)) >= {
        "offer.terms.permitted_uses[0]",
        "offer.terms.permitted_territories[0]",
        "offer.terms.price.currency",
        "offer.terms.price.amount_micros",
    }
    assert market.pa.lic.ListOffers(api.ListOffersRequest(parent=market.pa.name)).offers == []


def test_text_that_cannot_be_stored_is_refused(market: Market) -> None:
    error = fails(
        grpc.StatusCode.INVALID_ARGUMENT,
        "NUL_IN_TEXT",
        market.pa.lic.CreateOffer,
        api.CreateOfferRequest(
            parent=market.pa.name, offer=res.Offer(display_name="x\x00", terms=terms())
        ),
    )
    assert field_violations(error) == ["offer.display_name"]
    assert market.pa.lic.ListOffers(api.ListOffersRequest(parent=market.pa.name)).offers == []


def test_publishers_cannot_touch_each_others_offers(market: Market) -> None:
    offer = market.offer(market.pa, terms())
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
        market.pb.lic.WithdrawOffer,
        api.WithdrawOfferRequest(name=offer.name),
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
        market.pb.lic.ListOffers,
        api.ListOffersRequest(parent=market.pa.name),
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
        market.va.lic.CreateOffer,
        api.CreateOfferRequest(
            parent=market.pa.name, offer=res.Offer(display_name="x", terms=terms())
        ),
    )


def test_etag_guards_concurrent_edits(market: Market) -> None:
    offer = market.offer(market.pa, terms(), publish=False)
    edited = market.pa.lic.UpdateOffer(
        api.UpdateOfferRequest(
            offer=res.Offer(name=offer.name, display_name="Renamed", etag=offer.etag)
        )
    )
    assert edited.display_name == "Renamed" and edited.etag != offer.etag
    stale = res.Offer(name=offer.name, display_name="Lost update", etag=offer.etag)
    fails(
        grpc.StatusCode.ABORTED,
        "ETAG_MISMATCH",
        market.pa.lic.UpdateOffer,
        api.UpdateOfferRequest(offer=stale),
    )
    assert market.pa.lic.GetOffer(api.GetOfferRequest(name=offer.name)).display_name == "Renamed"


def test_license_terms_are_frozen_and_commission_disclosed(market: Market) -> None:
    market.operator.SetCommissionRate(
        api.SetCommissionRateRequest(publisher=market.pa.name, commission_bps=1_000)
    )
    offer = market.offer(market.pa, terms())
    assert offer.commission_bps == 1_000
    lic = market.license(market.va, offer)
    market.pa.lic.UpdateOffer(
        api.UpdateOfferRequest(
            offer=res.Offer(name=offer.name, terms=terms(permitted_uses=["search"]))
        )
    )
    market.operator.SetCommissionRate(
        api.SetCommissionRateRequest(publisher=market.pa.name, clear=True)
    )
    again = market.va.lic.GetLicense(api.GetLicenseRequest(name=lic.name))
    assert list(again.terms.permitted_uses) == ["ai-input"] and again.commission_bps == 1_000
    assert check(market.va, market.works_a[0]).allowed


# Negotiation


def test_propose_counter_accept_grants_a_license(market: Market) -> None:
    offer = market.offer(market.pa, terms())
    low = terms(price=res.Price(model=PER_USE, currency="USD", amount_micros=1_000))
    proposal = market.va.lic.CreateProposal(
        api.CreateProposalRequest(offer=offer.name, terms=low, request_id="r1")
    )
    assert (
        proposal.state == res.Proposal.STATE_OPEN and proposal.turn == res.Proposal.PARTY_PUBLISHER
    )
    assert (
        market.va.lic.CreateProposal(
            api.CreateProposalRequest(offer=offer.name, terms=low, request_id="r1")
        ).name
        == proposal.name
    )
    fails(
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_YOUR_TURN",
        market.va.lic.AcceptProposal,
        api.AcceptProposalRequest(name=proposal.name),
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_A_PARTY",
        market.vb.lic.AcceptProposal,
        api.AcceptProposalRequest(name=proposal.name),
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_A_PARTY",
        market.pb.lic.RejectProposal,
        api.RejectProposalRequest(name=proposal.name),
    )
    mid = terms(price=res.Price(model=PER_USE, currency="USD", amount_micros=1_500))
    countered = market.pa.lic.CounterProposal(
        api.CounterProposalRequest(name=proposal.name, terms=mid, note="meet halfway")
    )
    assert countered.turn == res.Proposal.PARTY_VENDOR
    accepted = market.va.lic.AcceptProposal(
        api.AcceptProposalRequest(name=proposal.name, request_id="acc-1")
    )
    retry = market.va.lic.AcceptProposal(
        api.AcceptProposalRequest(name=proposal.name, request_id="acc-1")
    )
    assert retry.license.name == accepted.license.name
    fails(
        grpc.StatusCode.FAILED_PRECONDITION,
        "PROPOSAL_SETTLED",
        market.va.lic.AcceptProposal,
        api.AcceptProposalRequest(name=proposal.name, request_id="acc-2"),
    )
    assert accepted.license.terms.price.amount_micros == 1_500
    steps = market.pa.lic.GetProposal(api.GetProposalRequest(name=proposal.name)).steps
    assert [(s.action, s.actor) for s in steps] == [
        (res.ProposalStep.ACTION_PROPOSED, "vendors/va"),
        (res.ProposalStep.ACTION_COUNTERED, "publishers/pa"),
        (res.ProposalStep.ACTION_ACCEPTED, "vendors/va"),
    ]
    assert (
        list(steps[1].changed_fields) == ["price.amount_micros"] and steps[1].note == "meet halfway"
    )
    licenses = market.va.lic.ListLicenses(api.ListLicensesRequest()).licenses
    assert [x.name for x in licenses] == [accepted.license.name]


def test_floor_auto_accepts_without_the_publisher(market: Market) -> None:
    offer = market.offer(market.pa, terms(), floor=1_800)
    at_floor = terms(price=res.Price(model=PER_USE, currency="USD", amount_micros=1_800))
    proposal = market.va.lic.CreateProposal(
        api.CreateProposalRequest(offer=offer.name, terms=at_floor)
    )
    assert proposal.state == res.Proposal.STATE_ACCEPTED and proposal.license
    assert proposal.steps[-1].action == res.ProposalStep.ACTION_AUTO_ACCEPTED


def test_parties_only_see_their_own_negotiations_and_licenses(market: Market) -> None:
    offer = market.offer(market.pa, terms())
    lic = market.license(market.va, offer)
    proposal = lic.proposal
    fails(
        grpc.StatusCode.NOT_FOUND,
        "PROPOSAL_NOT_FOUND",
        market.vb.lic.GetProposal,
        api.GetProposalRequest(name=proposal),
    )
    fails(
        grpc.StatusCode.NOT_FOUND,
        "PROPOSAL_NOT_FOUND",
        market.pb.lic.GetProposal,
        api.GetProposalRequest(name=proposal),
    )
    fails(
        grpc.StatusCode.NOT_FOUND,
        "LICENSE_NOT_FOUND",
        market.vb.lic.GetLicense,
        api.GetLicenseRequest(name=lic.name),
    )
    fails(
        grpc.StatusCode.NOT_FOUND,
        "LICENSE_NOT_FOUND",
        market.pb.lic.GetLicense,
        api.GetLicenseRequest(name=lic.name),
    )
    assert market.vb.lic.ListProposals(api.ListProposalsRequest()).proposals == []
    assert market.vb.lic.ListLicenses(api.ListLicensesRequest(vendor="vendors/va")).licenses == []
    assert (
        market.pb.lic.ListLicenses(api.ListLicensesRequest(publisher="publishers/pa")).licenses
        == []
    )
    assert [x.name for x in market.pa.lic.ListLicenses(api.ListLicensesRequest()).licenses] == [
        lic.name
    ]
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
        market.vb.lic.CheckPermission,
        api.CheckPermissionRequest(vendor="vendors/va", work=market.works_a[0], use="ai-input"),
    )


# Licenses and permission checks


def test_suspend_resume_revoke_take_effect_at_once(market: Market) -> None:
    lic = market.license(market.va, market.offer(market.pa, terms()))
    work = market.works_a[1]
    assert check(market.va, work).allowed
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_LICENSOR",
        market.va.lic.SuspendLicense,
        api.SuspendLicenseRequest(name=lic.name),
    )
    market.pa.lic.SuspendLicense(api.SuspendLicenseRequest(name=lic.name, reason="unpaid invoice"))
    denied = check(market.va, work)
    assert (denied.allowed, denied.denial) == (False, api.CheckPermissionResponse.DENIAL_SUSPENDED)
    market.pa.lic.ResumeLicense(api.ResumeLicenseRequest(name=lic.name))
    assert check(market.va, work).allowed
    revoked = market.pa.lic.RevokeLicense(api.RevokeLicenseRequest(name=lic.name, reason="breach"))
    assert revoked.state == res.License.STATE_REVOKED and revoked.state_reason == "breach"
    assert check(market.va, work).denial == api.CheckPermissionResponse.DENIAL_REVOKED
    fails(
        grpc.StatusCode.FAILED_PRECONDITION,
        "LICENSE_NOT_SUSPENDED",
        market.pa.lic.ResumeLicense,
        api.ResumeLicenseRequest(name=lic.name),
    )
    # The license event feed is sequenced after the changes commit, asynchronously.
    expected = ["GRANTED", "SUSPENDED", "RESUMED", "REVOKED"]

    def kinds() -> list[str]:
        events = market.operator.ListLicenseEvents(api.ListLicenseEventsRequest())
        return [e.kind for e in events.events]

    assert eventually(lambda: kinds() == expected)


def test_permission_check_answers_with_price_or_reason(market: Market) -> None:
    sections = terms(scope=res.Scope(sections=["politics"]), permitted_territories=["EU"])
    market.license(market.va, market.offer(market.pa, sections))
    politics, business = market.works_a[1], market.works_a[0]  # article(n): odd n is politics
    allowed = check(market.va, politics, territory="FR")
    assert (
        allowed.allowed and allowed.price.amount_micros == 2_000 and allowed.commission_bps == 1_500
    )
    assert (
        check(market.va, business, territory="FR").denial
        == api.CheckPermissionResponse.DENIAL_OUT_OF_SCOPE
    )
    assert (
        check(market.va, politics, territory="US").denial
        == api.CheckPermissionResponse.DENIAL_TERRITORY_NOT_PERMITTED
    )
    assert (
        check(market.va, market.works_b[0]).denial == api.CheckPermissionResponse.DENIAL_NO_LICENSE
    )
    fails(
        grpc.StatusCode.NOT_FOUND,
        "WORK_NOT_FOUND",
        check,
        market.va,
        "publishers/pa/works/nope",
    )
    error = fails(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FIELDS",
        check,
        market.va,
        politics,
        "ai-all",
        territory="France",
    )
    assert set(field_violations(error)) == {"use", "territory"}


# Tokens


def test_tokens_verify_offline_and_online_and_resist_tampering(market: Market) -> None:
    lic = market.license(market.va, market.offer(market.pa, terms()))
    token = market.va.lic.IssueLicenseToken(api.IssueLicenseTokenRequest(license=lic.name)).token
    fails(
        grpc.StatusCode.NOT_FOUND,
        "LICENSE_NOT_FOUND",
        market.vb.lic.IssueLicenseToken,
        api.IssueLicenseTokenRequest(license=lic.name),
    )
    anyone = market.client(None)
    keys = anyone.GetSigningKeys(api.GetSigningKeysRequest())
    jwk = jwt.PyJWKSet.from_json(keys.jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, jwk.key, algorithms=["EdDSA"], options={"verify_aud": False})
    assert (claims["sub"], claims["aud"], claims["lic"], claims["uses"]) == (
        "vendors/va",
        "publishers/pa",
        lic.name,
        ["ai-input"],
    )
    assert anyone.VerifyLicenseToken(api.VerifyLicenseTokenRequest(token=token)).valid

    header, payload, signature = token.split(".")
    widened = json.loads(base64.urlsafe_b64decode(payload + "=="))
    widened["uses"] = ["all"]
    tampered_payload = base64.urlsafe_b64encode(json.dumps(widened).encode()).decode().rstrip("=")
    forged_key = Ed25519PrivateKey.generate()
    for bad, reason in [
        (f"{header}.{tampered_payload}.{signature}", "BAD_SIGNATURE"),
        (
            jwt.encode(widened, forged_key, algorithm="EdDSA", headers={"kid": keys.active_key_id}),
            "BAD_SIGNATURE",
        ),
        (
            jwt.encode(widened, forged_key, algorithm="EdDSA", headers={"kid": "made-up"}),
            "UNKNOWN_KEY",
        ),
        (
            jwt.encode(widened, "s" * 64, algorithm="HS256", headers={"kid": keys.active_key_id}),
            "BAD_SIGNATURE",
        ),
        ("not-a-token", "TOKEN_MALFORMED"),
    ]:
        answer = anyone.VerifyLicenseToken(api.VerifyLicenseTokenRequest(token=bad))
        assert (answer.valid, answer.reason) == (False, reason)

    market.pa.lic.RevokeLicense(api.RevokeLicenseRequest(name=lic.name))
    answer = anyone.VerifyLicenseToken(api.VerifyLicenseTokenRequest(token=token))
    assert (answer.valid, answer.reason, answer.license_state) == (
        False,
        "LICENSE_REVOKED",
        res.License.STATE_REVOKED,
    )


def test_expired_tokens_are_refused(market: Market) -> None:
    lic = market.license(market.va, market.offer(market.pa, terms()))
    token = market.va.lic.IssueLicenseToken(
        api.IssueLicenseTokenRequest(license=lic.name, ttl=Duration(seconds=1))
    ).token
    time.sleep(2.1)
    answer = market.client(None).VerifyLicenseToken(api.VerifyLicenseTokenRequest(token=token))
    assert (answer.valid, answer.reason) == (False, "TOKEN_EXPIRED")


def test_key_rotation_keeps_earlier_tokens_valid(market: Market) -> None:
    lic = market.license(market.va, market.offer(market.pa, terms()))
    before = market.va.lic.IssueLicenseToken(api.IssueLicenseTokenRequest(license=lic.name)).token
    first = market.client(None).GetSigningKeys(api.GetSigningKeysRequest()).active_key_id
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
        market.pa.lic.RotateSigningKey,
        api.RotateSigningKeyRequest(),
    )
    second = market.operator.RotateSigningKey(api.RotateSigningKeyRequest()).active_key_id
    after = market.va.lic.IssueLicenseToken(api.IssueLicenseTokenRequest(license=lic.name)).token
    keys = market.client(None).GetSigningKeys(api.GetSigningKeysRequest())
    assert second != first and keys.active_key_id == second
    assert {k["kid"] for k in json.loads(keys.jwks)["keys"]} == {first, second}
    for token in (before, after):
        assert (
            market.client(None).VerifyLicenseToken(api.VerifyLicenseTokenRequest(token=token)).valid
        )


# Machine-readable terms


def test_rsl_document_round_trips_through_the_api(market: Market) -> None:
    offered = terms(
        permitted_uses=["ai-all"],
        prohibited_uses=["ai-train"],
        permitted_territories=["EU", "US"],
        price=res.Price(model=res.Price.MODEL_PER_1K_TOKENS, currency="EUR", amount_micros=1_250),
        attribution_required=True,
    )
    offered.scope.SetInParent()  # offers always carry a scope (empty: all works)
    offered.price.interval = res.Price.INTERVAL_MONTH  # the default, stated in answers
    market.offer(market.pa, offered, floor=1_000)
    doc = market.vb.lic.GetRslDocument(
        api.GetRslDocumentRequest(publisher=market.pa.name, site_url="https://pa.example")
    )
    assert 'xmlns="https://rslstandard.org/rsl"' in doc.rsl_xml
    assert doc.robots_txt_line == "License: https://pa.example/license.xml"
    assert '"tdm-reservation": 1' in doc.tdmrep_json
    imported = market.pb.lic.ImportRslDocument(
        api.ImportRslDocumentRequest(publisher=market.pb.name, rsl_xml=doc.rsl_xml)
    ).offers
    assert len(imported) == 1 and imported[0].state == res.Offer.STATE_DRAFT
    assert imported[0].terms == offered and imported[0].auto_accept_floor_micros == 1_000
    fails(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_RSL_DOCUMENT",
        market.pb.lic.ImportRslDocument,
        api.ImportRslDocumentRequest(publisher=market.pb.name, rsl_xml="<rsl/>"),
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
        market.pb.lic.ImportRslDocument,
        api.ImportRslDocumentRequest(publisher=market.pa.name, rsl_xml=doc.rsl_xml),
    )


def test_calls_need_credentials_except_public_verification(market: Market) -> None:
    fails(
        grpc.StatusCode.UNAUTHENTICATED,
        "MISSING_CREDENTIALS",
        market.client(None).CheckPermission,
        api.CheckPermissionRequest(),
    )
    fails(
        grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_API_KEY",
        market.client("lic_wrong").ListOffers,
        api.ListOffersRequest(parent="publishers/-"),
    )


def test_a_suspension_reaches_other_replicas_within_the_refresh_bound(market: Market) -> None:
    replica = start_service(licensing_app, market.licensing.settings)
    try:
        on_replica = Client(replica.channel, market.va.account.key, api_grpc.LicensingServiceStub)
        lic = market.license(market.va, market.offer(market.pa, terms()))
        request = api.CheckPermissionRequest(work=market.works_a[0], use="ai-input")
        bound = market.licensing.settings.license_refresh_seconds
        deadline = time.monotonic() + bound + 2.0
        while not on_replica.CheckPermission(request).allowed:  # the grant arrives too
            assert time.monotonic() < deadline, "the new license never reached the replica"
            time.sleep(0.05)
        market.pa.lic.SuspendLicense(api.SuspendLicenseRequest(name=lic.name))
        started = time.monotonic()
        while on_replica.CheckPermission(request).allowed:
            assert time.monotonic() - started < bound + 2.0, "the replica kept allowing"
            time.sleep(0.05)
    finally:
        replica.channel.close()
        replica.server.stop(0)


def test_a_signing_key_from_a_file_signs_and_a_new_file_rotates(
    settings: Settings, tmp_path: Path
) -> None:
    """The operator's key (a Kubernetes Secret, say) signs; replacing the file and
    restarting rotates, the old key still published for the tokens it signed."""
    pems = []
    for name in ("first.pem", "second.pem"):
        key = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
        (tmp_path / name).write_bytes(key)
        pems.append(tmp_path / name)
    active = []
    published = []
    for pem in pems:
        harness = start_service(
            licensing_app, settings.model_copy(update={"signing_key_file": pem})
        )
        try:
            keys = Client(harness.channel, None, api_grpc.LicensingServiceStub).GetSigningKeys(
                api.GetSigningKeysRequest()
            )
        finally:
            harness.channel.close()
            harness.server.stop(0)
        active.append(keys.active_key_id)
        published.append({k["kid"] for k in json.loads(keys.jwks)["keys"]})
    assert active[0] != active[1]
    assert published == [{active[0]}, {active[0], active[1]}]
