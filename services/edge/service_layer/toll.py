"""The toll booth: what the publisher's proxy asks for every request (nginx
`auth_request`, see deploy/nginx). It decides from in-process caches only (keys,
license states, the URL's work: no network call on a request) and records each allowed
crawl in the durable spool, which a relay sends to metering.

`decide` is called twice for a refused request behind nginx (the subrequest, then the
error page that answers the crawler): refusals meter nothing, so both answer the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from services.edge.domain import toll
from services.edge.domain.toll import Crawl, TokenClaims, Verdict, WorkRef


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


class TollBooth:
    def __init__(
        self,
        keys: Keys,
        licenses: LicenseStates,
        works: WorkMap,
        spool: CrawlSpool,
        public_url: str,
    ) -> None:
        self._keys = keys
        self._licenses = licenses
        self._works = works
        self._spool = spool
        self._public_url = public_url.rstrip("/")

    def decide(
        self,
        url: str,
        headers: Mapping[str, str],
        publisher: str = "",
        policy: str = "block",
        meter: bool = True,
    ) -> Verdict:
        """`headers` lower-cased; `publisher` and `policy` as the publisher's proxy
        states them (`block` or `allow` unverified AI User-Agents)."""
        work = self._works.at(url)
        owner = work.publisher if work else publisher
        link = (toll.link_header(self._license_url(owner)),) if owner else ()
        authorization = headers.get("authorization", "")
        agent = toll.ai_agent_of(headers.get("user-agent", ""))
        if authorization[:8].lower() == "license ":
            return self._with_token(authorization[8:].strip(), url, work, link, agent, meter)
        if not agent:
            return Verdict(200, outcome="human")
        if policy == "allow":
            return Verdict(200, outcome="unverified-allowed", agent=agent)
        challenge = toll.license_challenge(
            "invalid_request",
            "a license token is required for AI crawlers: get one from the license server "
            "named in the linked license.xml and send Authorization: License <token>",
        )
        return Verdict(401, (challenge, *link), "unverified-blocked", agent)

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
            challenge = toll.license_challenge(invalid.error, invalid.description)
            return Verdict(401, (challenge, *link), f"token-{invalid.error}", agent)
        if self._licenses.is_inactive(claims.license):
            challenge = toll.license_challenge(
                "invalid_token", f"{claims.license} is no longer active (suspended or revoked)"
            )
            return Verdict(401, (challenge, *link), "token-revoked", agent, claims.vendor)
        if work is None:
            # Not licensed content (the catalog has no work at this URL): served as is.
            return Verdict(200, link, "unlisted", agent, claims.vendor)
        if not claims.covers(work):
            challenge = toll.license_challenge(
                "insufficient_scope", f"this token does not license {url[:200]}"
            )
            return Verdict(403, (challenge, *link), "token-out-of-scope", agent, claims.vendor)
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

    def _license_url(self, publisher: str) -> str:
        return f"{self._public_url}/{publisher}/license.xml"
