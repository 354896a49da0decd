"""The toll through real nginx (Debian's package, with auth_request) in front of a small
origin: people pass untouched, an AI crawler without a license is refused with a Link to
the publisher's terms, a crawler with a license token (obtained from the license server
with Authlib's OAuth client) reads its pages, and every allowed crawl is counted once by
metering, through the edge's durable spool."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mgrpc
from licentia.metering.v1 import resources_pb2 as mres
from licentia.settlement.v1 import resources_pb2 as sres
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sgrpc

from services.edge import app as edge_app
from services.runtime.ports import free_port
from services.settlement import app as settlement_app
from tests.api.helpers import article
from tests.api.market import Market, start_metering, terms
from tests.asgi import serving
from tests.conftest import OPERATOR_KEY, Client, ServiceHarness, start_service
from tools.toll_site import nginx_binary, start_nginx, start_origin

pytestmark = pytest.mark.skipif(
    not nginx_binary(),
    reason="nginx is not installed (apt-get install nginx-light; .ci/run installs it): the "
    "toll is tested through real nginx only",
)
PAGES = 50


@dataclass
class Site:
    url: str  # through nginx
    edge: str
    market: Market
    metering: ServiceHarness
    works: list[str]
    settlement: ServiceHarness


@contextlib.contextmanager
def edge_serving(
    market: Market,
    metering: ServiceHarness,
    port: int,
    authz_port: int = 0,
    settlement: ServiceHarness | None = None,
) -> Iterator[str]:
    """The edge on a real HTTP server (and its ext_authz port when given); its URL."""
    settings = market.catalog.settings.with_ports(
        catalog=market.catalog.server.port,
        licensing=market.licensing.server.port,
        metering=metering.server.port,
        edge=port,
        **({"settlement": settlement.server.port} if settlement else {}),
    ).model_copy(update={"edge_feed_seconds": 0.1, "edge_authz_port": authz_port})
    with serving(edge_app.build_app(settings), port, "edge") as url:
        yield url


@pytest.fixture
def site(market: Market, tmp_path: Path) -> Iterator[Site]:
    metering = start_metering(market)
    settlement = start_service(settlement_app, metering.settings)
    edge_port, origin_port, nginx_port = free_port(), free_port(), free_port()
    try:
        with edge_serving(market, metering, edge_port, settlement=settlement) as edge_url:
            origin = start_origin(origin_port)
            url = f"http://127.0.0.1:{nginx_port}"
            nginx = start_nginx(
                tmp_path / "nginx", nginx_port, f"127.0.0.1:{edge_port}",
                f"127.0.0.1:{origin_port}", market.pa.name,
            )  # fmt: skip
            try:
                yield Site(url, edge_url, market, metering, import_pages(market, url), settlement)
            finally:
                nginx.terminate()
                nginx.wait(10)
                origin.shutdown()
    finally:
        for harness in (settlement, metering):
            harness.channel.close()
            harness.server.stop(0)


def import_pages(market: Market, url: str) -> list[str]:
    """PAGES works of publisher A, at `url`/news/{i}."""
    pa = market.pa.account
    imported = pa.client.ImportWorks(
        iter(
            [
                capi.ImportWorksRequest(
                    parent=pa.name,
                    works=[article(200 + i, canonical_url=f"{url}/news/{i}") for i in range(PAGES)],
                )
            ]
        )
    )
    return [r.work for response in imported for r in response.results]


def token_for(site: Site, session: OAuth2Session, page: int) -> str:
    license_xml = (
        '<license xmlns="https://rslstandard.org/rsl"><permits type="usage">ai-input</permits>'
        '<payment type="inference"><amount currency="USD">0.002</amount></payment></license>'
    )
    token = session.fetch_token(
        f"{site.edge}/token", grant_type="rsl", license=license_xml,
        resource=f"{site.url}/news/{page}",
    )  # fmt: skip
    return str(token["access_token"])


def wait_until(check: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_people_pass_crawlers_pay_and_every_allowed_crawl_counts_once(site: Site) -> None:
    m = site.market
    m.offer(
        m.pa,
        terms(
            price=lres.Price(model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=2_000)
        ),
    )
    made = m.va.account.client.CreateOAuthClient(
        capi.CreateOAuthClientRequest(parent=m.va.name, oauth_client=cres.OAuthClient())
    )
    session = OAuth2Session(made.oauth_client.client_id, made.client_secret)
    page0 = f"{site.url}/news/0"
    # The edge reads the catalog's work feed: the pages become licensed content.
    wait_until(lambda: requests.get(f"{site.edge}/toll/stats", timeout=5).json()["works"] >= PAGES)

    person = requests.get(page0, headers={"User-Agent": "Mozilla/5.0 Firefox/140"}, timeout=5)
    assert person.status_code == 200 and "the page /news/0" in person.text
    assert "Link" not in person.headers

    refused = requests.get(page0, headers={"User-Agent": "GPTBot/1.2"}, timeout=5)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('License error="invalid_request"')
    license_xml = f"{site.edge}/{m.pa.name}/license.xml"
    assert refused.headers["Link"] == f'<{license_xml}>; rel="license"; type="application/rsl+xml"'
    assert refused.json()["license"] == license_xml

    tokens = [token_for(site, session, page) for page in range(PAGES)]
    for page, token in enumerate(tokens):
        crawl = requests.get(
            f"{site.url}/news/{page}",
            headers={"User-Agent": "GPTBot/1.2", "Authorization": f"License {token}"},
            timeout=5,
        )
        assert crawl.status_code == 200 and f"the page /news/{page}" in crawl.text
        assert crawl.headers["Link"].startswith(f"<{license_xml}>")
    # The same request again (a retry): served, not counted twice.
    again = requests.get(page0, headers={"Authorization": f"License {tokens[0]}"}, timeout=5)
    assert again.status_code == 200
    # A token for one page does not open another.
    other = requests.get(
        f"{site.url}/news/1", headers={"Authorization": f"License {tokens[0]}"}, timeout=5
    )
    assert other.status_code == 403 and other.json()["error"] == "insufficient_scope"
    tampered = requests.get(
        page0, headers={"Authorization": f"License {tokens[0][:-4]}AAAA"}, timeout=5
    )
    assert tampered.status_code == 401 and tampered.json()["error"] == "invalid_token"

    meter = Client(site.metering.channel, OPERATOR_KEY, mgrpc.MeteringServiceStub)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    def crawls() -> int:
        rows = meter.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=Timestamp(seconds=int((hour - timedelta(hours=1)).timestamp())),
                end_time=Timestamp(seconds=int((hour + timedelta(hours=2)).timestamp())),
                vendor=m.va.name,
            )
        ).rows
        return sum(r.quantity for r in rows if r.unit == mres.UNIT_CRAWLS)

    wait_until(lambda: crawls() == PAGES)
    wait_until(
        lambda: requests.get(f"{site.edge}/toll/stats", timeout=5).json()["spool_backlog"] == 0
    )
    time.sleep(0.3)
    assert crawls() == PAGES  # nothing counted twice

    # The publisher's crawler analytics: what came, per crawler and outcome.
    publisher_client = m.pa.account.client.CreateOAuthClient(
        capi.CreateOAuthClientRequest(parent=m.pa.name, oauth_client=cres.OAuthClient())
    )
    auth = (publisher_client.oauth_client.client_id, publisher_client.client_secret)
    report = requests.get(f"{site.edge}/toll/analytics", auth=auth, timeout=5).json()
    seen: dict[str, int] = {}
    for row in report["rows"]:
        seen[row["outcome"]] = seen.get(row["outcome"], 0) + row["requests"]
    assert seen["licensed"] == PAGES + 1  # and the retry
    assert seen["token-out-of-scope"] == 1 and seen["token-invalid_token"] == 1
    assert seen["unverified-blocked"] == 1
    assert (
        requests.get(f"{site.edge}/toll/analytics", auth=("x", "y"), timeout=5).status_code == 401
    )
    exported = requests.get(f"{site.edge}/metrics", timeout=5).text
    assert 'licentia_toll_requests_total{outcome="licensed"}' in exported
    assert "licentia_toll_spool_backlog" in exported

    # A revoked license stops opening pages within the feed's bound.
    license_name = m.va.lic.ListLicenses(lapi.ListLicensesRequest()).licenses[0].name
    m.pa.lic.RevokeLicense(lapi.RevokeLicenseRequest(name=license_name))
    wait_until(
        lambda: (
            requests.get(
                page0, headers={"Authorization": f"License {tokens[0]}"}, timeout=5
            ).status_code
            == 401
        )
    )


def signed(
    url: str, key: Ed25519PrivateKey, key_id: str, nonce: str, **headers: str
) -> requests.PreparedRequest:
    """A request signed as Web Bot Auth specifies, by the kept library (RFC 9421)."""
    request = requests.Request(
        "GET", url, headers={"User-Agent": "LabBot/2.0", **headers}
    ).prepare()
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: key}),
    )
    now = datetime.now(UTC)
    signer.sign(
        request,
        key_id=key_id,
        created=now,
        expires=now + timedelta(minutes=1),
        nonce=nonce,
        tag="web-bot-auth",
        covered_component_ids=("@authority", "@target-uri"),
    )
    return request


def register_bot(m: Market) -> tuple[Ed25519PrivateKey, str]:
    """Vendor B registers its crawler LabBot with a new Ed25519 key: the key and its id."""
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    bot = m.vb.account.client.CreateBot(
        capi.CreateBotRequest(
            parent=m.vb.name,
            bot=cres.Bot(
                display_name="LabBot", user_agent="LabBot/", public_keys=[json.dumps(jwk)]
            ),
        )
    )
    [key_id] = bot.key_ids
    return key, key_id


def test_a_signed_crawler_pays_per_crawl_and_each_paid_crawl_counts_once(site: Site) -> None:
    m = site.market
    m.offer(
        m.pa,
        terms(
            permitted_uses=["ai-train"],
            price=lres.Price(
                model=lres.Price.MODEL_PER_CRAWL, currency="USD", amount_micros=10_000
            ),
        ),
    )
    key, key_id = register_bot(m)
    page = f"{site.url}/news/3"
    session = requests.Session()

    def send(nonce: str, **headers: str) -> requests.Response:
        return session.send(signed(page, key, key_id, nonce, **headers), timeout=5)

    # The edge polls bots and offers: wait until it knows both.
    wait_until(lambda: send(f"w{time.monotonic()}").status_code == 402)
    asked = send("n1")
    assert asked.status_code == 402 and asked.headers["crawler-price"] == "USD 0.01"
    low = send("n2", **{"crawler-max-price": "USD 0.005"})
    assert low.status_code == 402 and low.headers["crawler-error"] == "CrawlerMaxPriceTooLow"
    both = send("n3", **{"crawler-max-price": "USD 1", "crawler-exact-price": "USD 0.01"})
    assert both.status_code == 400 and both.json()["crawler_error"] == "ConflictingPriceHeaders"
    bad = send("n4", **{"crawler-max-price": "a lot"})
    assert bad.status_code == 400 and bad.headers["crawler-error"] == "InvalidCrawlerMaxPrice"

    paid = [send(f"p{i}", **{"crawler-exact-price": "USD 0.01"}) for i in range(5)]
    assert [r.status_code for r in paid] == [200] * 5
    assert all(r.headers["crawler-charged"] == "USD 0.01" for r in paid)
    assert "the page /news/3" in paid[0].text
    replay = send("p0", **{"crawler-exact-price": "USD 0.01"})
    assert replay.status_code == 401 and replay.headers["crawler-error"] == "InvalidSignature"
    forged = signed(page, Ed25519PrivateKey.generate(), key_id, "f1",
                     **{"crawler-max-price": "USD 1"})  # fmt: skip
    assert session.send(forged, timeout=5).status_code == 401

    [lic] = [x for x in m.vb.lic.ListLicenses(lapi.ListLicensesRequest()).licenses]
    assert lic.terms.price.model == lres.Price.MODEL_PER_CRAWL
    meter = Client(site.metering.channel, OPERATOR_KEY, mgrpc.MeteringServiceStub)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    def paid_crawls() -> int:
        rows = meter.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=Timestamp(seconds=int((hour - timedelta(hours=1)).timestamp())),
                end_time=Timestamp(seconds=int((hour + timedelta(hours=2)).timestamp())),
                license=lic.name,
            )
        ).rows
        return sum(r.quantity for r in rows if r.unit == mres.UNIT_CRAWLS)

    wait_until(lambda: paid_crawls() == 5)
    time.sleep(0.3)
    assert paid_crawls() == 5


def test_paid_crawls_stop_at_the_offers_cap_and_at_the_vendors_budget(site: Site) -> None:
    m = site.market
    m.offer(
        m.pa,
        terms(
            permitted_uses=["ai-train"],
            price=lres.Price(
                model=lres.Price.MODEL_PER_CRAWL, currency="USD", amount_micros=10_000,
                period_cap_micros=30_000,
            ),
        ),
    )  # fmt: skip
    key, key_id = register_bot(m)
    session = requests.Session()
    nonces = iter(range(10**6))

    def crawl(page: int) -> requests.Response:
        request = signed(
            f"{site.url}/news/{page}", key, key_id, f"c{next(nonces)}",
            **{"crawler-max-price": "USD 0.05"},
        )  # fmt: skip
        return session.send(request, timeout=5)

    wait_until(lambda: crawl(0).status_code == 200)  # the edge has polled bots and offers
    # Crawls go on until settlement's running charges reach the $0.03 cap (the edge polls
    # them: a crawl or two may pass before it sees so), then every paid crawl is refused.
    answers: list[requests.Response] = []

    def refused_now() -> bool:
        answers.append(crawl(len(answers) + 1))
        return answers[-1].status_code != 200

    wait_until(refused_now)
    refused = answers[-1]
    assert len(answers) >= 3  # crawl 0 and at least two more were paid before the cap
    assert refused.status_code == 402, refused.text
    assert refused.headers["crawler-error"] == "CrawlerCapReached"
    assert refused.headers["crawler-price"] == "USD 0.01"
    assert crawl(40).status_code == 402  # stays refused
    vendor = Client(site.settlement.channel, m.vb.account.key, sgrpc.SettlementServiceStub)
    charges = vendor.GetRunningCharges(sapi.GetRunningChargesRequest())
    assert [t.total for t in charges.totals] == [3]  # never past the cap

    # A budget the vendor has already spent refuses its paid crawls, naming the budget.
    vendor.SetBudget(
        sapi.SetBudgetRequest(
            budget=sres.Budget(
                vendor=m.vb.name, currency="USD", amount=2, alert_threshold_bps=8_000
            )
        )
    )
    wait_until(lambda: crawl(41).headers.get("crawler-error") == "CrawlerBudgetExhausted")
    assert crawl(42).status_code == 402
    # People still read the pages.
    assert requests.get(f"{site.url}/news/1", timeout=5).status_code == 200
