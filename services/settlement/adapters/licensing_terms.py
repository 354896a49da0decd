"""Settlement's view of licensing: every license with its frozen price terms."""

from __future__ import annotations

from datetime import datetime

import grpc
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.runtime.proto_time import from_timestamp
from services.runtime.upstream import upstream
from services.settlement.domain.terms import LicenseTerms, Model, Price, Tier

_MODELS = {
    res.Price.MODEL_PER_USE: Model.PER_USE,
    res.Price.MODEL_PER_1K_TOKENS: Model.PER_1K_TOKENS,
    res.Price.MODEL_PER_CRAWL: Model.PER_CRAWL,
    res.Price.MODEL_SUBSCRIPTION: Model.SUBSCRIPTION,
    res.Price.MODEL_REVENUE_SHARE: Model.REVENUE_SHARE,
    res.Price.MODEL_FREE: Model.FREE,
}


class LicensingTerms:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = api_grpc.LicensingServiceStub(channel)

    def licenses(self, vendor: str = "") -> list[LicenseTerms]:
        found: list[LicenseTerms] = []
        token = ""
        with upstream("licensing"):
            while True:
                page = self._stub.ListLicenses(
                    api.ListLicensesRequest(vendor=vendor, page_size=1_000, page_token=token)
                )
                found += [terms_of(lic) for lic in page.licenses]
                token = page.next_page_token
                if not token:
                    return found


def terms_of(lic: res.License) -> LicenseTerms:
    p = lic.terms.price
    start = from_timestamp(lic, "start_time") or from_timestamp(lic, "create_time")
    assert start is not None
    return LicenseTerms(
        name=lic.name,
        vendor=lic.vendor,
        publisher=lic.publisher,
        commission_bps=lic.commission_bps,
        start=start,
        end=_billable_end(lic),
        price=Price(
            model=_MODELS.get(p.model, Model.FREE),
            currency=p.currency,
            amount_micros=p.amount_micros,
            share_bps=p.share_bps,
            tiers=tuple(Tier(t.from_quantity, t.amount_micros) for t in p.tiers),
            cap_micros=p.period_cap_micros,
            minimum_micros=p.minimum_commitment_micros,
            interval_months=12 if p.interval == res.Price.INTERVAL_YEAR else 1,
            interval_seconds=p.interval_duration.seconds if p.HasField("interval_duration") else 0,
        ),
    )


def _billable_end(lic: res.License) -> datetime | None:
    """The license's end, or when it was revoked if that came first (revocation is
    final, so the time of its last update is when it happened)."""
    end = from_timestamp(lic, "end_time")
    if lic.state == res.License.STATE_REVOKED:
        revoked = from_timestamp(lic, "update_time")
        if revoked is not None and (end is None or revoked < end):
            return revoked
    return end
