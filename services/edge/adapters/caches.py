"""What the toll decides from, kept in process and fresh from the services' feeds:
the license token keys (JWKS), the licenses that are no longer active (licensing's
license event feed), and the work at each URL (the catalog's work feed). A request never
waits on the network: a feed is read in the background, every `refresh` seconds (the
documented bound on how long a revocation or a new work takes to reach the edge)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
import jwt
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as cgrpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lgrpc
from licentia.licensing.v1 import resources_pb2 as lres

from services.edge.adapters.signatures import KnownKey, public_key
from services.edge.domain.pay_per_crawl import CrawlOffer
from services.edge.domain.toll import TokenClaims, WorkRef
from services.edge.service_layer.toll import TokenInvalid
from services.runtime.event_relay import EventRelay, MemoryCursor
from services.runtime.uses import CONCRETE_USES

log = logging.getLogger("licentia.edge")
KEY_REFRESH_SECONDS = 60.0


def licensing_jwks(channel: grpc.Channel) -> Callable[[], str]:
    stub = lgrpc.LicensingServiceStub(channel)
    return lambda: str(stub.GetSigningKeys(lapi.GetSigningKeysRequest(), timeout=5).jwks)


class TokenKeys:
    """Verifies license tokens offline with licensing's published keys (PyJWT, EdDSA);
    an unknown key id makes it fetch the keys again (at most once a second). A verified
    token's claims are kept until it expires (a crawler sends the same token with every
    request for its page: the signature is checked once)."""

    def __init__(self, fetch_jwks: Callable[[], str], remembered: int = 100_000) -> None:
        self._fetch_jwks = fetch_jwks
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()
        self._verified: dict[str, TokenClaims] = {}
        self._remembered = remembered

    def claims(self, token: str) -> TokenClaims:
        known = self._verified.get(token)
        if known is not None and known.expires > datetime.now(UTC):
            return known
        claims = self._verify(token)
        if len(self._verified) >= self._remembered:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> TokenClaims:
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
        except jwt.PyJWTError as error:
            raise TokenInvalid("invalid_token", "the token is not a signed JWT") from error
        key = self._key(str(kid))
        if key is None:
            raise TokenInvalid("invalid_token", "the token was not signed by this license server")
        try:
            claims = jwt.decode(
                token, key, algorithms=["EdDSA"], options={"verify_aud": False}, leeway=5
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenInvalid("invalid_token", "the token has expired: get a new one") from error
        except jwt.PyJWTError as error:
            raise TokenInvalid("invalid_token", "the token's signature does not verify") from error
        scope = claims.get("scope") or {}
        return TokenClaims(
            token_id=str(claims.get("jti", "")),
            vendor=str(claims.get("sub", "")),
            publisher=str(claims.get("aud", "")),
            license=str(claims.get("lic", "")),
            uses=tuple(str(u) for u in claims.get("uses", [])),
            expires=datetime.fromtimestamp(int(claims["exp"]), UTC),
            work=str(claims.get("work", "")),
            scope_works=frozenset(scope.get("works", ())),
            scope_sections=frozenset(scope.get("sections", ())),
            scope_tags=frozenset(scope.get("tags", ())),
            scope_urls=tuple(str(u) for u in scope.get("urls", ())),
            everything=not any(scope.get(k) for k in ("works", "sections", "tags", "urls")),
        )

    def _key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        stale = time.monotonic() - self._fetched > KEY_REFRESH_SECONDS
        if key is None or stale:
            self.refresh(force=key is None)
            key = self._keys.get(kid)
        return key

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            if force and time.monotonic() - self._fetched < 1.0:
                return  # an unknown kid: ask again at most once a second
            try:
                body = self._fetch_jwks()
                keys = {str(k.key_id): k.key for k in jwt.PyJWKSet.from_json(body).keys}
            except (grpc.RpcError, jwt.PyJWTError) as error:
                log.warning("could not read the token keys: %s", error)
                return
            self._keys = keys
            self._fetched = time.monotonic()


class LicenseStateCache:
    """Licenses that are suspended or revoked, from licensing's license event feed."""

    def __init__(self, channel: grpc.Channel, refresh_seconds: float) -> None:
        self._stub = lgrpc.LicensingServiceStub(channel)
        self._inactive: set[str] = set()
        self.relay = EventRelay(
            "edge-licenses",
            self._fetch,
            self._apply,
            lambda e: e.sequence,
            MemoryCursor(),
            idle_seconds=refresh_seconds,
        )

    def is_inactive(self, license_name: str) -> bool:
        return license_name in self._inactive

    def _fetch(self, after: int, limit: int) -> list[lres.LicenseEvent]:
        answer = self._stub.ListLicenseEvents(
            lapi.ListLicenseEventsRequest(after_sequence=after, page_size=limit), timeout=5
        )
        return list(answer.events)

    def _apply(self, events: Sequence[lres.LicenseEvent]) -> None:
        inactive = set(self._inactive)
        for event in events:
            if event.kind in ("SUSPENDED", "REVOKED"):
                inactive.add(event.license)
            elif event.kind in ("RESUMED", "GRANTED"):
                inactive.discard(event.license)
        self._inactive = inactive  # swapped whole: readers never lock


class WorkUrlMap:
    """The work at each canonical URL, from the catalog's work feed (each change read
    back with BatchGetWorks)."""

    def __init__(self, channel: grpc.Channel, refresh_seconds: float) -> None:
        self._stub = cgrpc.CatalogServiceStub(channel)
        self._by_url: dict[str, WorkRef] = {}
        self._url_of: dict[str, str] = {}
        self._lock = threading.Lock()
        self.relay = EventRelay(
            "edge-works",
            self._fetch,
            self._apply,
            lambda e: e.sequence,
            MemoryCursor(),
            batch_size=1_000,
            idle_seconds=refresh_seconds,
        )

    def at(self, url: str) -> WorkRef | None:
        return self._by_url.get(url)

    def __len__(self) -> int:
        return len(self._by_url)

    def _fetch(self, after: int, limit: int) -> list[cres.WorkEvent]:
        answer = self._stub.ListWorkEvents(
            capi.ListWorkEventsRequest(after_sequence=after, page_size=limit), timeout=10
        )
        return list(answer.events)

    def _apply(self, events: Sequence[cres.WorkEvent]) -> None:
        names = list(dict.fromkeys(e.work for e in events))
        found = self._stub.BatchGetWorks(
            capi.BatchGetWorksRequest(names=names, view=cres.WORK_VIEW_BASIC), timeout=10
        )
        with self._lock:
            for name in [*found.missing, *(w.name for w in found.works)]:
                old = self._url_of.pop(name, None)
                if old is not None and self._by_url.get(old, WorkRef("", "")).name == name:
                    del self._by_url[old]
            for w in found.works:
                if w.canonical_url:
                    publisher = w.name.split("/works/")[0]
                    ref = WorkRef(w.name, publisher, w.section, frozenset(w.tags))
                    self._by_url[w.canonical_url] = ref
                    self._url_of[w.name] = w.canonical_url


class Poller:
    """Calls `refresh` every `seconds` on a thread (the caches that have no feed)."""

    def __init__(self, name: str, refresh: Callable[[], None], seconds: float) -> None:
        self._refresh = refresh
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._refresh()
            except grpc.RpcError as error:
                log.warning("%s: could not refresh (%s)", self._thread.name, error.code())
            self._stop.wait(self._seconds)


def bot_keys(channel: grpc.Channel) -> Callable[[], dict[str, KnownKey]]:
    """Every vendor's registered bot keys, by key id (JWK thumbprint)."""
    stub = cgrpc.CatalogServiceStub(channel)

    def read() -> dict[str, KnownKey]:
        keys: dict[str, KnownKey] = {}
        token = ""
        while True:
            page = stub.ListBots(
                capi.ListBotsRequest(parent="vendors/-", page_size=1_000, page_token=token),
                timeout=10,
            )
            for bot in page.bots:
                vendor = bot.name.split("/bots/")[0]
                for key_id, text in zip(bot.key_ids, bot.public_keys, strict=False):
                    keys[key_id] = KnownKey(public_key(json.loads(text)), vendor, bot.name)
            token = page.next_page_token
            if not token:
                return keys

    return read


def crawl_offers(channel: grpc.Channel) -> Callable[[], dict[str, list[CrawlOffer]]]:
    """Every publisher's published per-crawl offers."""
    stub = lgrpc.LicensingServiceStub(channel)

    def read() -> dict[str, list[CrawlOffer]]:
        offers: dict[str, list[CrawlOffer]] = {}
        token = ""
        while True:
            page = stub.ListOffers(
                lapi.ListOffersRequest(
                    parent="publishers/-", state=lres.Offer.STATE_PUBLISHED,
                    page_size=1_000, page_token=token,
                ),
                timeout=10,
            )  # fmt: skip
            for o in page.offers:
                price = o.terms.price
                if price.model != lres.Price.MODEL_PER_CRAWL:
                    continue
                publisher = o.name.split("/offers/")[0]
                uses = [u for u in o.terms.permitted_uses if u in CONCRETE_USES]
                offers.setdefault(publisher, []).append(
                    CrawlOffer(
                        o.name, publisher, price.amount_micros, price.currency,
                        uses[0] if uses else "ai-index",
                        frozenset(o.terms.scope.works), frozenset(o.terms.scope.sections),
                        frozenset(o.terms.scope.tags), tuple(o.terms.scope.urls),
                        price.period_cap_micros,
                    )
                )  # fmt: skip
            token = page.next_page_token
            if not token:
                return offers

    return read
