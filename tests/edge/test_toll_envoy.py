"""The toll through Envoy's ext_authz gRPC API (no Envoy binary here: its Authorization
service called with the published protos, as Envoy calls it): the same decisions as for
nginx, as CheckResponses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from envoy.service.auth.v3 import attribute_context_pb2 as attributes
from envoy.service.auth.v3 import external_auth_pb2 as authz
from envoy.service.auth.v3 import external_auth_pb2_grpc as authz_grpc
from google.rpc import code_pb2
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import resources_pb2 as lres

from services.runtime.ports import free_port
from tests.api.helpers import article
from tests.api.market import Market, start_metering, terms
from tests.edge.test_toll_nginx import edge_serving, signed, wait_until

HOST = "gazette.example"


@dataclass
class Envoy:
    check: authz_grpc.AuthorizationStub
    market: Market
    pages: list[str]


@pytest.fixture
def envoy(market: Market) -> Iterator[Envoy]:
    metering = start_metering(market)
    authz_port = free_port()
    pa = market.pa.account
    pages = [f"https://{HOST}/news/{i}" for i in range(3)]
    for i, url in enumerate(pages):
        pa.client.CreateWork(
            capi.CreateWorkRequest(parent=pa.name, work=article(300 + i, canonical_url=url))
        )
    channel = grpc.insecure_channel(f"127.0.0.1:{authz_port}")
    try:
        with edge_serving(market, metering, free_port(), authz_port):
            yield Envoy(authz_grpc.AuthorizationStub(channel), market, pages)
    finally:
        channel.close()
        metering.channel.close()
        metering.server.stop(0)


def ask(envoy: Envoy, path: str, headers: dict[str, str]) -> authz.CheckResponse:
    http = attributes.AttributeContext.HttpRequest(
        method="GET", scheme="https", host=HOST, path=path, headers=headers
    )
    request = authz.CheckRequest(
        attributes=attributes.AttributeContext(
            request=attributes.AttributeContext.Request(http=http)
        )
    )
    return envoy.check.Check(request, timeout=5)


def headers_of(options: object) -> dict[str, str]:
    return {o.header.key: o.header.value for o in options}  # type: ignore[attr-defined]


def test_envoy_gets_the_same_decisions(envoy: Envoy) -> None:
    m = envoy.market
    m.offer(
        m.pa,
        terms(
            permitted_uses=["ai-train"],
            price=lres.Price(
                model=lres.Price.MODEL_PER_CRAWL, currency="USD", amount_micros=10_000
            ),
        ),
    )
    person = ask(envoy, "/news/0", {"user-agent": "Mozilla/5.0"})
    assert person.status.code == code_pb2.OK and not person.ok_response.response_headers_to_add
    # Once the edge has read the work feed, the refusal links to the publisher's terms.
    wait_until(
        lambda: (
            "Link"
            in headers_of(
                ask(envoy, "/news/0", {"user-agent": "GPTBot/1.0"}).denied_response.headers
            )
        )
    )
    blocked = ask(envoy, "/news/0", {"user-agent": "GPTBot/1.0"})
    assert blocked.status.code == code_pb2.UNAUTHENTICATED
    assert headers_of(blocked.denied_response.headers)["Link"].endswith(
        'rel="license"; type="application/rsl+xml"'
    )
    assert json.loads(blocked.denied_response.body)["error"] == "invalid_request"

    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    bot = m.vb.account.client.CreateBot(
        capi.CreateBotRequest(
            parent=m.vb.name,
            bot=cres.Bot(user_agent="LabBot/", public_keys=[json.dumps(jwk)]),
        )
    )

    def signed_headers(nonce: str, **extra: str) -> dict[str, str]:
        prepared = signed(envoy.pages[1], key, bot.key_ids[0], nonce, **extra)
        return {k.lower(): v for k, v in prepared.headers.items()}

    def price_asked() -> bool:
        answer = ask(envoy, "/news/1", signed_headers(f"w{time.monotonic()}"))
        return answer.denied_response.status.code == 402

    wait_until(price_asked)  # the edge has polled the bot and the per-crawl offer
    asked = ask(envoy, "/news/1", signed_headers("e1"))
    assert headers_of(asked.denied_response.headers)["crawler-price"] == "USD 0.01"
    paid = ask(envoy, "/news/1", signed_headers("e2", **{"crawler-max-price": "USD 0.02"}))
    assert paid.status.code == code_pb2.OK
    assert headers_of(paid.ok_response.response_headers_to_add)["crawler-charged"] == "USD 0.01"
    replayed = ask(envoy, "/news/1", signed_headers("e2", **{"crawler-max-price": "USD 0.02"}))
    assert replayed.denied_response.status.code == 401


def test_concurrent_checks_are_answered(envoy: Envoy) -> None:
    answers: list[int] = []

    def person() -> None:
        for _ in range(20):
            answers.append(ask(envoy, "/news/2", {"user-agent": "Mozilla/5.0"}).status.code)

    threads = [threading.Thread(target=person) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [code_pb2.OK] * 80
