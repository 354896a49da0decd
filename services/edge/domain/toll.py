"""The toll's decisions: what a crawler's request to a publisher's site gets. Plain
Python: the service layer feeds it what its caches know (keys, license states, the
URL's work) and meters what it allows.

Who is a crawler: a request with `Authorization: License <token>` (RSL's Crawler
Authorization Protocol), or a User-Agent on the list of known AI crawlers
(ai_crawlers.txt). Everything else is a person, passed untouched and never charged.

Decisions (CAP draft): a valid token covering the URL's work → allow, with the Link to
the publisher's license.xml, and one crawl metered under the token's license; a
missing, invalid, expired or revoked token → 401 with `WWW-Authenticate: License
error=...` and the Link; a valid token for other content → 403 `insufficient_scope`.
An unsigned known AI User-Agent without a token gets the publisher's policy (`block`:
401 pointing at the license; `charge-only-if-signed`: 402 asking it to sign and pay;
`allow`: passed, not metered).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources

from services.runtime.urls import url_matches


@dataclass(frozen=True)
class WorkRef:
    """What the toll knows of the work at a URL."""

    name: str  # publishers/{p}/works/{w}
    publisher: str  # publishers/{p}
    section: str = ""
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TokenClaims:
    """A license token's claims, its signature already verified."""

    token_id: str
    vendor: str
    publisher: str
    license: str
    uses: tuple[str, ...]
    expires: datetime
    work: str = ""  # set on tokens issued for one resource
    scope_works: frozenset[str] = frozenset()
    scope_sections: frozenset[str] = frozenset()
    scope_tags: frozenset[str] = frozenset()
    scope_urls: tuple[str, ...] = ()
    everything: bool = False

    def covers(self, work: WorkRef, url: str) -> bool:
        if work.publisher != self.publisher:
            return False
        if self.work:
            return self.work == work.name
        return self.everything or in_scope(
            work, url, self.scope_works, self.scope_sections, self.scope_tags, self.scope_urls
        )


def in_scope(
    work: WorkRef,
    url: str,
    works: frozenset[str],
    sections: frozenset[str],
    tags: frozenset[str],
    urls: tuple[str, ...],
) -> bool:
    """Whether a license scope (or an offer's) names the work at `url`: by name, section,
    tag or RSL URL pattern."""
    return (
        work.name in works
        or work.section in sections
        or not tags.isdisjoint(work.tags)
        or any(url_matches(p, url) for p in urls)
    )


@dataclass(frozen=True)
class SignedBot:
    """A crawler whose Web Bot Auth signature verified with its vendor's registered key."""

    vendor: str
    bot: str  # vendors/{v}/bots/{b}
    key_id: str
    nonce: str


class SignatureInvalid(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Crawl:
    """One allowed crawl, to meter: its id is derived from the request, so the same
    request decided again counts once."""

    event_id: str
    vendor: str
    license: str
    work: str
    use: str
    at: datetime


@dataclass(frozen=True)
class Verdict:
    status: int  # 200 allow, 401, 403 refuse
    # What the crawler (or the person) is told: response headers.
    headers: tuple[tuple[str, str], ...] = ()
    # For analytics and logs: licensed, human, unverified-claim-allowed, or the error.
    outcome: str = "human"
    agent: str = ""
    vendor: str = ""
    crawl: Crawl | None = field(default=None, compare=False)
    # The publisher whose content it was (the work's, else as the proxy says).
    publisher: str = ""
    # A refusal's RFC 6750-style error and its description (in WWW-Authenticate too).
    error: str = ""
    description: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200

    def reason(self) -> dict[str, str]:
        """A refusal as the JSON body the crawler reads beside the headers."""
        body = {"error": self.error or self.outcome, "error_description": self.description}
        crawler_error = dict(self.headers).get("crawler-error")
        if crawler_error:
            body["crawler_error"] = crawler_error
        return body


def refusal(
    status: int,
    error: str,
    description: str,
    extra: tuple[tuple[str, str], ...],
    outcome: str,
    agent: str,
    vendor: str = "",
) -> Verdict:
    """A refused request: `WWW-Authenticate: License error=..., error_description=...`
    and the `extra` headers (the Link, crawler-error, the price)."""
    safe = description.replace('"', "'")[:300]
    challenge = ("WWW-Authenticate", f'License error="{error}", error_description="{safe}"')
    return Verdict(
        status, (challenge, *extra), outcome, agent, vendor, error=error, description=safe
    )


def crawl_id(token_id: str, url: str) -> str:
    """`licentia:crawl:<digest>`: one event per token (or signature nonce) and URL."""
    digest = hashlib.sha256(f"{token_id}\x00{url}".encode()).hexdigest()[:40]
    return f"licentia:crawl:{digest}"


@cache
def known_ai_agents() -> tuple[str, ...]:
    text = resources.files("services.edge.domain").joinpath("ai_crawlers.txt").read_text()
    lines = (line.strip() for line in text.splitlines())
    return tuple(line.lower() for line in lines if line and not line.startswith("#"))


def ai_agent_of(user_agent: str) -> str:
    """The known AI crawler a User-Agent claims to be ('' for none)."""
    lowered = user_agent.lower()
    for token in known_ai_agents():
        if token in lowered:
            return token
    return ""


def link_header(license_url: str) -> tuple[str, str]:
    return ("Link", f'<{license_url}>; rel="license"; type="application/rsl+xml"')
