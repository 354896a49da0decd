"""LicensingService over gRPC: request -> use case -> response, nothing more.

No try/except here: domain errors are mapped to statuses by the runtime's interceptor.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.licensing.domain.licenses import License, LicenseFilter
from services.licensing.domain.negotiation import Proposal
from services.licensing.entrypoints import converters as cv
from services.licensing.service_layer.acquisition import AcquisitionService
from services.licensing.service_layer.licenses import LicenseService
from services.licensing.service_layer.negotiation import NegotiationService
from services.licensing.service_layer.offers import EDITABLE, OfferService
from services.licensing.service_layer.permissions import PermissionQuery, PermissionService
from services.licensing.service_layer.rsl_documents import RslService
from services.licensing.service_layer.tokens import TokenService
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.principal import current_principal
from services.runtime.proto_time import duration, from_duration, from_timestamp, timestamp
from services.runtime.sqltypes import utc_now

Context = Any
_OUTPUT_ONLY = {
    "name",
    "etag",
    "state",
    "commission_bps",
    "create_time",
    "update_time",
    "publish_time",
}


class LicensingServicer(api_grpc.LicensingServiceServicer):
    def __init__(
        self,
        offers: OfferService,
        negotiation: NegotiationService,
        licenses: LicenseService,
        tokens: TokenService,
        permissions: PermissionService,
        rsl: RslService,
        license_cache_bound_seconds: float,
        acquisition: AcquisitionService,
    ) -> None:
        self._acquisition = acquisition
        self._offers = offers
        self._negotiation = negotiation
        self._licenses = licenses
        self._tokens = tokens
        self._permissions = permissions
        self._rsl = rsl
        self._cache_bound = license_cache_bound_seconds

    # Offers

    def CreateOffer(self, request: api.CreateOfferRequest, context: Context) -> res.Offer:
        o = request.offer
        created = self._offers.create(
            current_principal(),
            request.parent,
            o.display_name,
            cv.terms_in(o.terms),
            o.auto_accept_floor_micros,
            request.offer_id,
            request.request_id,
        )
        return cv.offer(created)

    def GetOffer(self, request: api.GetOfferRequest, context: Context) -> res.Offer:
        return cv.offer(self._offers.get(current_principal(), request.name))

    def ListOffers(
        self, request: api.ListOffersRequest, context: Context
    ) -> api.ListOffersResponse:
        page = self._offers.list_offers(
            current_principal(),
            request.parent,
            cv.offer_state_in(request.state),
            request.page_size,
            request.page_token,
        )
        return api.ListOffersResponse(
            offers=[cv.offer(o) for o in page.items], next_page_token=page.next_page_token
        )

    def UpdateOffer(self, request: api.UpdateOfferRequest, context: Context) -> res.Offer:
        o = request.offer
        paths = set(request.update_mask.paths) or {f.name for f, _ in o.ListFields()} - _OUTPUT_ONLY
        unknown = sorted(paths - EDITABLE)
        if unknown:
            raise InvalidArgument(
                "INVALID_UPDATE_MASK",
                f"cannot update {', '.join(unknown)}",
                [
                    FieldViolation(
                        "update_mask", f"paths must be among {', '.join(sorted(EDITABLE))}"
                    )
                ],
            )
        values = {
            "display_name": o.display_name,
            "terms": cv.terms_in(o.terms),
            "auto_accept_floor_micros": o.auto_accept_floor_micros,
        }
        changes = {p: values[p] for p in paths}
        return cv.offer(self._offers.update(current_principal(), o.name, changes, o.etag))

    def PublishOffer(self, request: api.PublishOfferRequest, context: Context) -> res.Offer:
        return cv.offer(self._offers.publish(current_principal(), request.name, request.etag))

    def WithdrawOffer(self, request: api.WithdrawOfferRequest, context: Context) -> res.Offer:
        return cv.offer(self._offers.withdraw(current_principal(), request.name, request.etag))

    def SetCommissionRate(
        self, request: api.SetCommissionRateRequest, context: Context
    ) -> api.SetCommissionRateResponse:
        rate = self._offers.set_commission(
            current_principal(), request.publisher, request.commission_bps, request.clear
        )
        return api.SetCommissionRateResponse(publisher=request.publisher, commission_bps=rate)

    # Negotiation

    def CreateProposal(self, request: api.CreateProposalRequest, context: Context) -> res.Proposal:
        proposed = cv.terms_in(request.terms) if request.HasField("terms") else None
        proposal, _ = self._negotiation.create(
            current_principal(),
            request.offer,
            proposed,
            from_duration(request, "ttl"),
            request.note,
            request.request_id,
        )
        return self._proposal(proposal)

    def CounterProposal(
        self, request: api.CounterProposalRequest, context: Context
    ) -> res.Proposal:
        if not request.HasField("terms"):
            raise InvalidArgument(
                "INVALID_FIELDS", "terms are required", [FieldViolation("terms", "required")]
            )
        countered = self._negotiation.counter(
            current_principal(),
            request.name,
            cv.terms_in(request.terms),
            request.note,
            request.etag,
        )
        return self._proposal(countered)

    def AcceptProposal(
        self, request: api.AcceptProposalRequest, context: Context
    ) -> api.AcceptProposalResponse:
        proposal, lic = self._negotiation.accept(
            current_principal(), request.name, request.request_id, request.etag
        )
        now = utc_now()
        return api.AcceptProposalResponse(
            proposal=self._proposal(proposal), license=cv.license(lic, lic.state_at(now))
        )

    def RejectProposal(self, request: api.RejectProposalRequest, context: Context) -> res.Proposal:
        return self._proposal(
            self._negotiation.reject(current_principal(), request.name, request.note, request.etag)
        )

    def GetProposal(self, request: api.GetProposalRequest, context: Context) -> res.Proposal:
        return self._proposal(self._negotiation.get(current_principal(), request.name))

    def ListProposals(
        self, request: api.ListProposalsRequest, context: Context
    ) -> api.ListProposalsResponse:
        page = self._negotiation.list_proposals(
            current_principal(),
            request.offer,
            cv.proposal_state_in(request.state),
            request.page_size,
            request.page_token,
        )
        return api.ListProposalsResponse(
            proposals=[self._proposal(p) for p in page.items], next_page_token=page.next_page_token
        )

    # Licenses

    def GetLicense(self, request: api.GetLicenseRequest, context: Context) -> res.License:
        return self._license(self._licenses.get(current_principal(), request.name))

    def ListLicenses(
        self, request: api.ListLicensesRequest, context: Context
    ) -> api.ListLicensesResponse:
        where = LicenseFilter(
            request.vendor or None, request.publisher or None, cv.license_state_in(request.state)
        )
        page = self._licenses.list_licenses(
            current_principal(), where, request.page_size, request.page_token
        )
        return api.ListLicensesResponse(
            licenses=[self._license(x) for x in page.items], next_page_token=page.next_page_token
        )

    def SuspendLicense(self, request: api.SuspendLicenseRequest, context: Context) -> res.License:
        return self._license(
            self._licenses.suspend(current_principal(), request.name, request.reason)
        )

    def ResumeLicense(self, request: api.ResumeLicenseRequest, context: Context) -> res.License:
        return self._license(self._licenses.resume(current_principal(), request.name))

    def RevokeLicense(self, request: api.RevokeLicenseRequest, context: Context) -> res.License:
        return self._license(
            self._licenses.revoke(current_principal(), request.name, request.reason)
        )

    def ListLicenseEvents(
        self, request: api.ListLicenseEventsRequest, context: Context
    ) -> api.ListLicenseEventsResponse:
        events = self._licenses.list_events(
            current_principal(), request.after_sequence, request.page_size
        )
        last = events[-1].sequence if events else request.after_sequence
        return api.ListLicenseEventsResponse(
            events=[cv.license_event(e) for e in events], last_sequence=last
        )

    # Tokens

    def IssueLicenseToken(
        self, request: api.IssueLicenseTokenRequest, context: Context
    ) -> api.IssueLicenseTokenResponse:
        token, expires = self._tokens.issue(
            current_principal(), request.license, from_duration(request, "ttl")
        )
        return api.IssueLicenseTokenResponse(token=token, expire_time=timestamp(expires))

    def AcquireLicense(
        self, request: api.AcquireLicenseRequest, context: Context
    ) -> api.AcquireLicenseResponse:
        got = self._acquisition.acquire(
            current_principal(),
            request.vendor,
            request.work,
            tuple(request.uses),
            request.rsl_license,
            request.resource,
            from_duration(request, "ttl"),
            request.client_id,
        )
        return api.AcquireLicenseResponse(
            license=cv.license(got.license, got.license.state_at(utc_now())),
            granted=got.granted,
            token=got.token,
            expire_time=timestamp(got.expire_time),
            uses=got.uses,
        )

    def VerifyLicenseToken(
        self, request: api.VerifyLicenseTokenRequest, context: Context
    ) -> api.VerifyLicenseTokenResponse:
        v = self._tokens.verify(request.token)
        return api.VerifyLicenseTokenResponse(
            valid=v.valid,
            reason=v.reason,
            license=v.license,
            vendor=v.vendor,
            publisher=v.publisher,
            uses=v.uses,
            expire_time=timestamp(v.expire_time),
            license_state=cv.license_state_value(v.license_state),
            work=v.work,
            resource=v.resource,
            issue_time=timestamp(v.issue_time),
            token_id=v.token_id,
            client_id=v.client_id,
        )

    def GetSigningKeys(
        self, request: api.GetSigningKeysRequest, context: Context
    ) -> api.GetSigningKeysResponse:
        jwks, active = self._tokens.jwks()
        return api.GetSigningKeysResponse(
            jwks=jwks,
            active_key_id=active,
            license_cache_bound=duration(timedelta(seconds=self._cache_bound)),
        )

    def RotateSigningKey(
        self, request: api.RotateSigningKeyRequest, context: Context
    ) -> api.RotateSigningKeyResponse:
        return api.RotateSigningKeyResponse(active_key_id=self._tokens.rotate(current_principal()))

    # Permissions and RSL

    def CheckPermission(
        self, request: api.CheckPermissionRequest, context: Context
    ) -> api.CheckPermissionResponse:
        decision = self._permissions.check(
            current_principal(),
            request.vendor,
            request.work,
            request.use,
            request.territory,
            request.user_type,
            from_timestamp(request, "time"),
            request.license,
        )
        return cv.decision(decision)

    def BatchCheckPermissions(
        self, request: api.BatchCheckPermissionsRequest, context: Context
    ) -> api.BatchCheckPermissionsResponse:
        queries = [
            PermissionQuery(
                r.vendor,
                r.work,
                r.use,
                r.territory,
                r.user_type,
                from_timestamp(r, "time"),
                r.license,
            )
            for r in request.requests
        ]
        decisions = self._permissions.check_many(current_principal(), queries)
        return api.BatchCheckPermissionsResponse(responses=[cv.decision(d) for d in decisions])

    def GetRslDocument(
        self, request: api.GetRslDocumentRequest, context: Context
    ) -> api.GetRslDocumentResponse:
        doc = self._rsl.document(
            current_principal(), request.publisher, request.site_url, request.server_url
        )
        return api.GetRslDocumentResponse(
            rsl_xml=doc.rsl_xml, tdmrep_json=doc.tdmrep_json, robots_txt_line=doc.robots_txt_line
        )

    def ImportRslDocument(
        self, request: api.ImportRslDocumentRequest, context: Context
    ) -> api.ImportRslDocumentResponse:
        offers = self._rsl.import_document(current_principal(), request.publisher, request.rsl_xml)
        return api.ImportRslDocumentResponse(offers=[cv.offer(o) for o in offers])

    def _proposal(self, p: Proposal) -> res.Proposal:
        return cv.proposal(p, p.state_at(utc_now()))

    def _license(self, lic: License) -> res.License:
        return cv.license(lic, lic.state_at(utc_now()))
