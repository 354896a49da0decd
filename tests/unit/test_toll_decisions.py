"""The toll's decisions without any network: people, unverified AI User-Agents under
each policy, and the price headers of pay per crawl."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.edge.adapters.caches import TokenKeys
from services.edge.domain.pay_per_crawl import CrawlOffer, check_price
from services.edge.domain.toll import Crawl, WorkRef, ai_agent_of
from services.edge.service_layer.toll import TokenInvalid, TollBooth

OFFER = CrawlOffer("publishers/p/offers/o", "publishers/p", 10_000, "USD", "ai-index",
                   frozenset(), frozenset(), frozenset(), ())  # fmt: skip


class NoKeys:
    def claims(self, token: str) -> object:
        raise TokenInvalid("invalid_token", "no keys here")


class Works:
    def at(self, url: str) -> WorkRef | None:
        return WorkRef("publishers/p/works/w", "publishers/p")


class Active:
    def is_inactive(self, license_name: str) -> bool:
        return False


class Spool:
    def __init__(self) -> None:
        self.crawls: list[Crawl] = []

    def add(self, crawl: Crawl) -> None:
        self.crawls.append(crawl)


def booth() -> TollBooth:
    return TollBooth(NoKeys(), Active(), Works(), Spool(), "https://edge")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "status", "outcome"),
    [
        ("block", 401, "unverified-blocked"),
        ("allow", 200, "unverified-allowed"),
        ("charge-only-if-signed", 402, "refused-CrawlerSignatureRequired"),
    ],
)
def test_an_unverified_ai_user_agent_gets_the_publishers_policy(
    policy: str, status: int, outcome: str
) -> None:
    verdict = booth().decide(
        "https://x/1", {"user-agent": "Mozilla/5.0 (compatible; GPTBot/1.2)"}, policy=policy
    )
    assert (verdict.status, verdict.outcome) == (status, outcome)


def test_people_pass_untouched_and_bad_tokens_are_refused() -> None:
    person = booth().decide("https://x/1", {"user-agent": "Mozilla/5.0 Firefox/140"})
    assert (person.status, person.headers, person.crawl) == (200, (), None)
    refused = booth().decide("https://x/1", {"authorization": "License abc"})
    assert refused.status == 401 and dict(refused.headers)["WWW-Authenticate"].startswith(
        'License error="invalid_token"'
    )


def test_known_ai_agents_are_data() -> None:
    assert ai_agent_of("Mozilla/5.0 AppleWebKit/537.36 (compatible; ClaudeBot/1.0)") == "claudebot"
    assert ai_agent_of("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0") == ""


@pytest.mark.parametrize(
    ("exact", "maximum", "status", "error"),
    [
        ("", "", 402, ""),
        ("USD 0.01", "", 200, ""),
        ("0.01", "", 200, ""),
        ("", "USD 0.02", 200, ""),
        ("", "USD 0.005", 402, "CrawlerMaxPriceTooLow"),
        ("USD 0.02", "", 402, "CrawlerPriceMismatch"),
        ("EUR 0.01", "", 402, "CrawlerPriceMismatch"),
        ("USD 0.01", "USD 1", 400, "ConflictingPriceHeaders"),
        ("", "lots", 400, "InvalidCrawlerMaxPrice"),
        ("US 0.01", "", 400, "InvalidCrawlerExactPrice"),
        ("", "USD -1", 400, "InvalidCrawlerMaxPrice"),
    ],
)
def test_price_headers(exact: str, maximum: str, status: int, error: str) -> None:
    checked = check_price(OFFER, exact, maximum)
    assert (checked.status, checked.error) == (status, error)


def test_a_token_whose_license_names_url_patterns_covers_those_urls_only() -> None:
    """A token not narrowed to one work carries its license's scope; RSL URL patterns in
    it decide as works, sections and tags do (verified by the real key cache, PyJWT)."""
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "EdDSA", "use": "sig"}]})
    claims = {
        "sub": "vendors/v", "aud": "publishers/p", "lic": "licenses/l", "uses": ["ai-input"],
        "exp": int(time.time()) + 600, "jti": "t1",
        "scope": {"works": [], "sections": [], "tags": [], "urls": ["https://x/news/*"]},
    }  # fmt: skip
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
    spool = Spool()
    toll = TollBooth(TokenKeys(lambda: jwks), Active(), Works(), spool, "https://edge")  # type: ignore[arg-type]
    allowed = toll.decide("https://x/news/1", {"authorization": f"License {token}"})
    assert (allowed.status, allowed.outcome, len(spool.crawls)) == (200, "licensed", 1)
    elsewhere = toll.decide("https://x/sport/1", {"authorization": f"License {token}"})
    assert (elsewhere.status, elsewhere.outcome) == (403, "token-out-of-scope")
    assert len(spool.crawls) == 1
