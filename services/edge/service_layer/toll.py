"""The toll booth: what the publisher's proxy asks for every request (nginx
`auth_request`, see deploy/nginx). It decides from in-process caches only (keys,
license states, the URL's work: no network call on a request) and records each allowed
crawl in the durable spool, which a relay sends to metering.

`decide` is called twice for a refused request behind nginx (the subrequest, then the
error page that answers the crawler): refusals meter nothing, so both answer the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from services.edge.domain import pay_per_crawl, toll
from services.edge.domain.pay_per_crawl import CrawlOffer
from services.edge.domain.toll import (
    Crawl,
    SignatureInvalid,
    SignedBot,
    TokenClaims,
    Verdict,
    WorkRef,
)
from services.runtime.money_text import micros_text


class TokenInvalid(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class Keys(Protocol):
    def claims(self, token: str) -> TokenClaims:
        """The verified claims, or TokenInvalid (`invalid_token`: expired, bad
        signature, unknown key, malformed)."""
        ...


class LicenseStates(Protocol):
    def is_inactive(self, license_name: str) -> bool: ...


class WorkMap(Protocol):
    def at(self, url: str) -> WorkRef | None: ...


class CrawlSpool(Protocol):
    def add(self, crawl: Crawl) -> None: ...


class Signatures(Protocol):
    def verify(self, method: str, url: str, headers: dict[str, str]) -> SignedBot: ...

    def used(self, signed: SignedBot) -> None: ...


class CrawlOffers(Protocol):
    def of(self, publisher: str) -> list[CrawlOffer]: ...


class CrawlLicenses(Protocol):
    def known(self, vendor: str, offer: CrawlOffer) -> str | None:
        """The vendor's per-crawl license under the offer, if it has taken one."""
        ...

    def license_for(self, vendor: str, offer: CrawlOffer, work: str) -> str:
        """The vendor's per-crawl license under the offer (taken the first time);
        LicenseRefused when licensing refuses it."""
        ...


class LicenseRefused(Exception):
    pass


class Budgets(Protocol):
    def watch(self, vendor: str) -> None: ...

    def over_budget(self, vendor: str, currency: str) -> bool: ...

    def charged(self, license_name: str) -> int:
        """Minor units charged under the license in the open settlement period."""
        ...


class Counts(Protocol):
    def count(self, publisher: str, verdict: Verdict) -> None: ...


class TollBooth:
    def __init__(
        self,
        keys: Keys,
        licenses: LicenseStates,
        works: WorkMap,
        spool: CrawlSpool,
        public_url: str,
        signatures: Signatures | None = None,
        offers: CrawlOffers | None = None,
        crawl_licenses: CrawlLicenses | None = None,
        analytics: Counts | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self._analytics = analytics
        self._budgets = budgets
        self._keys = keys
        self._licenses = licenses
        self._works = works
        self._spool = spool
        self._public_url = public_url.rstrip("/")
        self._signatures = signatures
        self._offers = offers
        self._crawl_licenses = crawl_licenses

    def decide(
        self,
        url: str,
        headers: Mapping[str, str],
        publisher: str = "",
        policy: str = "block",
        meter: bool = True,
        method: str = "GET",
    ) -> Verdict:
        """`headers` lower-cased; `publisher` and `policy` as the publisher's proxy
        states them (`block` or `allow` unverified AI User-Agents). `meter`: the real
        decision (counted, and its crawl metered), not the re-asked answer of a refusal."""
        work = self._works.at(url)
        owner = work.publisher if work else publisher
        verdict = replace(
            self._decide(url, headers, work, owner, policy, meter, method), publisher=owner
        )
        if meter and self._analytics is not None:
            self._analytics.count(owner, verdict)
        return verdict

    def _decide(
        self,
        url: str,
        headers: Mapping[str, str],
        work: WorkRef | None,
        owner: str,
        policy: str,
        meter: bool,
        method: str,
    ) -> Verdict:
        link = (toll.link_header(self._license_url(owner)),) if owner else ()
        authorization = headers.get("authorization", "")
        agent = toll.ai_agent_of(headers.get("user-agent", ""))
        if authorization[:8].lower() == "license ":
            return self._with_token(authorization[8:].strip(), url, work, link, agent, meter)
        if "signature" in headers and "signature-input" in headers and self._signatures:
            return self._signed(method, url, dict(headers), work, link, agent, meter)
        if not agent:
            return Verdict(200, outcome="human")
        if policy == "allow":
            return Verdict(200, outcome="unverified-allowed", agent=agent)
        if policy == "charge-only-if-signed":
            return _crawler_error(
                402, "CrawlerSignatureRequired", "sign your requests (Web Bot Auth, with keys "
                "registered for your bot) to pay per crawl, or send a license token",
                link, agent, "",
            )  # fmt: skip
        return toll.refusal(
            401, "invalid_request",
            "a license token is required for AI crawlers: get one from the license server "
            "named in the linked license.xml and send Authorization: License <token>",
            link, "unverified-blocked", agent,
        )  # fmt: skip

    def _with_token(
        self,
        token: str,
        url: str,
        work: WorkRef | None,
        link: tuple[tuple[str, str], ...],
        agent: str,
        meter: bool,
    ) -> Verdict:
        try:
            claims = self._keys.claims(token)
        except TokenInvalid as invalid:
            return toll.refusal(
                401, invalid.error, invalid.description, link, f"token-{invalid.error}", agent
            )
        if self._licenses.is_inactive(claims.license):
            return toll.refusal(
                401, "invalid_token",
                f"{claims.license} is no longer active (suspended or revoked)",
                link, "token-revoked", agent, claims.vendor,
            )  # fmt: skip
        if work is None:
            # Not licensed content (the catalog has no work at this URL): served as is.
            return Verdict(200, link, "unlisted", agent, claims.vendor)
        if not claims.covers(work, url):
            return toll.refusal(
                403, "insufficient_scope", f"this token does not license {url[:200]}",
                link, "token-out-of-scope", agent, claims.vendor,
            )  # fmt: skip
        crawl = Crawl(
            toll.crawl_id(claims.token_id, url),
            claims.vendor,
            claims.license,
            work.name,
            claims.uses[0] if claims.uses else "ai-index",
            datetime.now(UTC),
        )
        if meter:
            self._spool.add(crawl)
        return Verdict(200, link, "licensed", agent, claims.vendor, crawl)

    def _signed(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        work: WorkRef | None,
        link: tuple[tuple[str, str], ...],
        agent: str,
        meter: bool,
    ) -> Verdict:
        """A Web Bot Auth crawler: pay per crawl where the publisher offers it."""
        assert self._signatures is not None
        try:
            signed = self._signatures.verify(method, url, headers)
        except SignatureInvalid as invalid:
            return toll.refusal(
                401, "invalid_request", invalid.description,
                (("crawler-error", "InvalidSignature"), *link), "signature-invalid", agent,
            )  # fmt: skip
        bot = signed.bot
        if work is None:
            return Verdict(200, link, "unlisted", bot, signed.vendor)
        offer = self._offer_for(work, url)
        if offer is None:
            return _crawler_error(
                403, "CrawlerForbidden", "no per-crawl offer covers this content: get a "
                "license from the license server named in the linked license.xml",
                link, bot, signed.vendor,
            )  # fmt: skip
        checked = pay_per_crawl.check_price(
            offer, headers.get("crawler-exact-price", ""), headers.get("crawler-max-price", "")
        )
        price = (("crawler-price", offer.price_text),)
        if checked.status == 402 and not checked.error:
            return Verdict(402, (*price, *link), "payment-required", bot, signed.vendor)
        if checked.status != 200:
            extra = price if checked.status == 402 else ()
            return _crawler_error(
                checked.status, checked.error, checked.description, (*extra, *link), bot,
                signed.vendor,
            )  # fmt: skip
        assert self._crawl_licenses is not None
        spent = self._spent(signed.vendor, offer)
        if spent:
            return _crawler_error(
                402, spent[0], spent[1], (*price, *link), bot, signed.vendor
            )  # fmt: skip
        if not meter:  # the answer to a refused request: nothing is charged here
            return Verdict(200, link, "paid", bot, signed.vendor)
        try:
            license_name = self._crawl_licenses.license_for(signed.vendor, offer, work.name)
        except LicenseRefused as refused:
            return _crawler_error(
                403, "CrawlerForbidden", str(refused)[:300], link, bot, signed.vendor
            )
        crawl = Crawl(
            toll.crawl_id(f"{signed.key_id}:{signed.nonce}", url), signed.vendor, license_name,
            work.name, offer.use, datetime.now(UTC),
        )  # fmt: skip
        self._spool.add(crawl)
        self._signatures.used(signed)
        charged = (("crawler-charged", offer.price_text),)
        return Verdict(200, (*charged, *link), "paid", bot, signed.vendor, crawl)

    def _spent(self, vendor: str, offer: CrawlOffer) -> tuple[str, str] | None:
        """Why a paid crawl is refused though its price is right: the vendor's budget for
        the period is spent, or its charges under the offer reached the offer's cap."""
        if self._budgets is None:
            return None
        self._budgets.watch(vendor)
        if self._budgets.over_budget(vendor, offer.currency):
            return "CrawlerBudgetExhausted", "your budget for this settlement period is spent"
        assert self._crawl_licenses is not None
        license_name = self._crawl_licenses.known(vendor, offer)
        if (
            offer.cap_micros
            and license_name
            and self._budgets.charged(license_name) >= offer.cap_minor
        ):
            return "CrawlerCapReached", (
                f"this offer's cap for the period ({micros_text(offer.cap_micros)} "
                f"{offer.currency}) is reached"
            )
        return None

    def _offer_for(self, work: WorkRef, url: str) -> CrawlOffer | None:
        if self._offers is None:
            return None
        for offer in self._offers.of(work.publisher):
            everything = not (offer.works or offer.sections or offer.tags or offer.urls)
            if everything or toll.in_scope(
                work, url, offer.works, offer.sections, offer.tags, offer.urls
            ):
                return offer
        return None

    def _license_url(self, publisher: str) -> str:
        return f"{self._public_url}/{publisher}/license.xml"


def _crawler_error(
    status: int,
    code: str,
    description: str,
    extra: tuple[tuple[str, str], ...],
    agent: str,
    vendor: str,
) -> Verdict:
    return toll.refusal(
        status, "invalid_request", description, (("crawler-error", code), *extra),
        f"refused-{code}", agent, vendor,
    )  # fmt: skip
