"""The toll's decisions in process: prints figures; never a pass/fail test.

A TollBooth with its real parts but no network: license tokens verified by PyJWT
(Ed25519) against a key set, the URL map and license states filled in memory, the crawl
spool a real SQLite file (every allowed crawl is written before it is answered). Kinds:
a licensed crawl re-reading a page with its token (signature checked once, then
remembered; the crawl's id is already in the spool, so the write is a no-op),
a licensed crawl with a new token each time (signature checked every time), a Web Bot
Auth crawler paying per crawl (a new RFC 9421 signature, with its own nonce, checked each
time), an unsigned AI User-Agent (refused), a person (passed). One thread, one core;
target 20,000/s per kind and p99 under 1 ms. Floors in the same run: what a new token or
a new signature cannot avoid, one Ed25519 verification (the cryptography package, over
OpenSSL) and one durable spool write (the crawl is written before it is answered).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from services.edge.adapters.caches import TokenKeys
from services.edge.adapters.signatures import KnownKey, WebBotAuth
from services.edge.adapters.spool import CrawlSpool
from services.edge.domain.pay_per_crawl import CrawlOffer
from services.edge.domain.toll import Crawl, WorkRef
from services.edge.service_layer.toll import TollBooth

PAGES = 1_000


class Works:
    def __init__(self) -> None:
        self.by_url = {
            f"https://news.example/{i}": WorkRef(f"publishers/p/works/w{i}", "publishers/p")
            for i in range(PAGES)
        }

    def at(self, url: str) -> WorkRef | None:
        return self.by_url.get(url)


class Offers:
    def __init__(self, offer: CrawlOffer) -> None:
        self._offer = offer

    def of(self, publisher: str) -> list[CrawlOffer]:
        return [self._offer]


class Licensed:
    def known(self, vendor: str, offer: CrawlOffer) -> str | None:
        return "licenses/per-crawl"

    def license_for(self, vendor: str, offer: CrawlOffer, work: str) -> str:
        return "licenses/per-crawl"


class Active:
    def is_inactive(self, license_name: str) -> bool:
        return False


def main() -> None:
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "EdDSA", "use": "sig"}]})
    expires = datetime.now(UTC) + timedelta(hours=1)

    def token(i: int, jti: str) -> str:
        claims = {
            "sub": "vendors/v", "aud": "publishers/p", "lic": "licenses/l", "uses": ["ai-input"],
            "work": f"publishers/p/works/w{i}", "exp": int(expires.timestamp()), "jti": jti,
        }  # fmt: skip
        return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})

    seen = [token(i, f"t{i}") for i in range(PAGES)]
    fresh = [token(i % PAGES, f"n{i}") for i in range(20_000)]
    with tempfile.TemporaryDirectory() as tmp:
        spool = CrawlSpool(Path(tmp) / "crawls.db")
        bot_key = Ed25519PrivateKey.generate()
        signatures = WebBotAuth()
        signatures.replace_keys(
            {"bot": KnownKey(bot_key.public_key(), "vendors/v", "vendors/v/bots/b")}
        )
        offer = CrawlOffer("publishers/p/offers/o", "publishers/p", 10_000, "USD", "ai-index",
                           frozenset(), frozenset(), frozenset(), ())  # fmt: skip
        booth = TollBooth(
            TokenKeys(lambda: jwks), Active(), Works(), spool, "https://edge", signatures,
            Offers(offer), Licensed(),
        )  # fmt: skip
        for i in range(PAGES):  # the tokens a crawler already used
            booth.decide(f"https://news.example/{i}", {"authorization": f"License {seen[i]}"})

        def licensed(i: int) -> None:
            verdict = booth.decide(
                f"https://news.example/{i % PAGES}",
                {"authorization": f"License {seen[i % PAGES]}", "user-agent": "GPTBot/1.0"},
            )
            assert verdict.status == 200

        def licensed_new_token(i: int) -> None:
            verdict = booth.decide(
                f"https://news.example/{i % PAGES}", {"authorization": f"License {fresh[i]}"}
            )
            assert verdict.status == 200

        def unsigned_ai(i: int) -> None:
            verdict = booth.decide(
                f"https://news.example/{i % PAGES}", {"user-agent": "GPTBot/1.0"}
            )
            assert verdict.status == 401

        signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={"bot": bot_key}),
        )
        now = datetime.now(UTC)
        signed = []
        for i in range(5_000):  # each with its own nonce: a nonce opens content once
            request = requests.Request(
                "GET", f"https://news.example/{i % PAGES}",
                headers={"User-Agent": "LabBot/1.0", "crawler-max-price": "USD 0.02"},
            ).prepare()  # fmt: skip
            signer.sign(
                request,
                key_id="bot",
                created=now,
                expires=now + timedelta(minutes=5),
                nonce=f"n{i}",
                tag="web-bot-auth",
                covered_component_ids=("@authority", "@target-uri"),
            )
            signed.append({k.lower(): str(v) for k, v in request.headers.items()})

        def paid_crawl(i: int) -> None:
            verdict = booth.decide(f"https://news.example/{i % PAGES}", signed[i])
            assert verdict.status == 200, verdict

        def person(i: int) -> None:
            verdict = booth.decide(
                f"https://news.example/{i % PAGES}", {"user-agent": "Mozilla/5.0 Firefox/140"}
            )
            assert verdict.status == 200

        public, message = bot_key.public_key(), b"@authority: news.example\n" * 4
        proof = bot_key.sign(message)

        def verify_only(i: int) -> None:
            public.verify(proof, message)

        floor_spool = CrawlSpool(Path(tmp) / "floor.db")

        def spool_only(i: int) -> None:
            floor_spool.add(
                Crawl(f"floor-{i}", "vendors/v", "licenses/l", "publishers/p/works/w1",
                      "ai-index", now)
            )  # fmt: skip

        measure("floor: one Ed25519 verification alone", verify_only, 20_000)
        measure("floor: one durable spool write alone", spool_only, 20_000)
        floor_spool.close()
        measure("licensed re-read, token and page seen before", licensed, 50_000)
        measure(
            "licensed first read of a page, its new token (spooled)", licensed_new_token, 20_000
        )
        measure("signed crawler paying per crawl (a new signature each time)", paid_crawl, 5_000)
        measure("unsigned AI User-Agent (refused)", unsigned_ai, 50_000)
        measure("person (passed untouched)", person, 50_000)
        print(f"spool: {spool.backlog():,} crawls waiting (one per token and URL)")
        spool.close()


def measure(label: str, call: Callable[[int], None], count: int) -> None:
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        began = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50, p99 = latencies[count // 2] * 1e6, latencies[int(count * 0.99)] * 1e6
    print(f"{label}: {count / elapsed:,.0f} decisions/s, p50 {p50:.0f} µs, p99 {p99:.0f} µs")


if __name__ == "__main__":
    main()
