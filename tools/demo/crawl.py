"""Step 8 of the demo: AI crawlers at a publisher's own edge. The City Ledger puts the
toll in front of its site (through real nginx when it is installed, else the demo asks
the edge as nginx would); a crawler without a license is refused with a link to the
terms, Model Lab's crawler takes a token from the license server and reads, a signed bot
pays per crawl, a person passes untouched; the crawls are counted by metering."""

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
from google.protobuf.timestamp_pb2 import Timestamp
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import resources_pb2 as mres
from rich.console import Console
from rich.table import Table

from services.runtime.ports import free_port
from tools.demo.market import Market
from tools.toll_site import nginx_binary, start_nginx, start_origin

Fetch = Callable[[str, dict[str, str]], requests.Response]


def crawl_at_the_edge(market: Market, edge: str, console: Console) -> int:
    """Returns how many crawls metering counted."""
    ledger, lab = market.publishers["city-ledger"], market.vendors["model-lab"]
    with tempfile.TemporaryDirectory(prefix="licentia-edge-") as tmp:
        nginx = None
        if nginx_binary():
            origin_port, nginx_port = free_port(), free_port()
            start_origin(origin_port)
            nginx = start_nginx(
                Path(tmp), nginx_port, edge.removeprefix("http://"), f"127.0.0.1:{origin_port}",
                ledger.name,
            )  # fmt: skip
            site = f"http://127.0.0.1:{nginx_port}"
            fetch: Fetch = _direct
            how = "through nginx (auth_request) in front of its site"
        else:
            site = "https://city-ledger.example"
            fetch = _as_nginx_would(edge, ledger.name)
            how = "(nginx is not installed: the demo asks the edge as nginx would)"
        try:
            return _story(market, edge, site, fetch, how, console, ledger, lab)
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(10)


def _story(market, edge, site, fetch, how, console, ledger, lab) -> int:  # type: ignore[no-untyped-def]
    pages = [f"{site}/ledger/{i}" for i in range(5)]
    imported = ledger.client.catalog.ImportWorks(
        iter([capi.ImportWorksRequest(parent=ledger.name, works=[
            cres.Work(external_id=f"web-{i}", title=f"Ledger story {i}", language="en",
                      body=f"The text of story {i}.", canonical_url=url)
            for i, url in enumerate(pages)
        ])])
    )  # fmt: skip
    list(imported)
    ledger.client.licensing.PublishOffer(
        lapi.PublishOfferRequest(
            name=ledger.client.licensing.CreateOffer(
                lapi.CreateOfferRequest(
                    parent=ledger.name,
                    offer=lres.Offer(
                        display_name="Crawl for indexing",
                        terms=lres.Terms(
                            permitted_uses=["ai-index"],
                            price=lres.Price(
                                model=lres.Price.MODEL_PER_CRAWL, currency="USD",
                                amount_micros=10_000,
                            ),
                        ),
                    ),
                )
            ).name
        )
    )  # fmt: skip
    console.print(f"[bold]8.[/] the City Ledger's edge charges AI crawlers {how}")
    known = requests.get(f"{edge}/toll/stats", timeout=5).json()["works"]
    # The edge learns the new pages from the catalog's feed (within a second or so).
    _until(lambda: requests.get(f"{edge}/toll/stats", timeout=5).json()["works"] >= known + 5)
    refused = fetch(pages[0], {"User-Agent": "GPTBot/1.2"})
    person = fetch(pages[0], {"User-Agent": "Mozilla/5.0 Firefox/140"})
    made = lab.client.catalog.CreateOAuthClient(
        capi.CreateOAuthClientRequest(parent=lab.name, oauth_client=cres.OAuthClient())
    )
    credentials = (made.oauth_client.client_id, made.client_secret)
    rows = [
        ("a person's browser", person.status_code, "passed untouched, not counted"),
        ("GPTBot, no license", refused.status_code,
         f"{refused.headers.get('WWW-Authenticate', '')[:40]}... Link to license.xml"),
    ]  # fmt: skip
    license_xml = (
        '<license xmlns="https://rslstandard.org/rsl"><permits type="usage">ai-index</permits>'
        '<payment type="crawl"><amount currency="USD">0.01</amount></payment></license>'
    )
    for url in pages[:3]:
        token = requests.post(
            f"{edge}/token",
            data={"grant_type": "rsl", "resource": url, "license": license_xml},
            auth=credentials,
            timeout=10,
        ).json()["access_token"]
        read = fetch(url, {"User-Agent": "LabBot/2.0", "Authorization": f"License {token}"})
        rows.append((f"Model Lab with a token ({url[-9:]})", read.status_code, "licensed: 1 crawl"))
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    bot = lab.client.catalog.CreateBot(
        capi.CreateBotRequest(
            parent=lab.name, bot=cres.Bot(user_agent="LabBot/", public_keys=[json.dumps(jwk)])
        )
    )
    signed = _signer(key, bot.key_ids[0])
    _until(lambda: fetch(pages[3], signed(pages[3], f"w{time.monotonic()}", {})).status_code == 402)
    asked = fetch(pages[3], signed(pages[3], "d1", {}))
    paid = fetch(pages[3], signed(pages[3], "d2", {"crawler-max-price": "USD 0.02"}))
    price, charged = asked.headers.get("crawler-price"), paid.headers.get("crawler-charged")
    rows += [
        ("LabBot, signed, no price", asked.status_code, f"crawler-price: {price}"),
        ("LabBot, signed, max USD 0.02", paid.status_code, f"crawler-charged: {charged}"),
    ]
    table = Table(title="   at the edge", title_justify="left")
    for column in ("request", "status", "what happened"):
        table.add_column(column)
    for who, status, what in rows:
        table.add_row(who, str(status), what)
    console.print(table)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    def counted() -> int:
        summary = lab.client.metering.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=Timestamp(seconds=int((hour - timedelta(hours=1)).timestamp())),
                end_time=Timestamp(seconds=int((hour + timedelta(hours=2)).timestamp())),
            )
        )
        return sum(r.quantity for r in summary.rows if r.unit == mres.UNIT_CRAWLS)

    made = ledger.client.catalog.CreateOAuthClient(
        capi.CreateOAuthClientRequest(parent=ledger.name, oauth_client=cres.OAuthClient())
    )
    report = requests.get(
        f"{edge}/toll/analytics",
        auth=(made.oauth_client.client_id, made.client_secret),
        timeout=10,
    ).json()
    outcomes: dict[str, int] = {}
    for row in report["rows"]:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + row["requests"]
    console.print(f"   the Ledger's crawler analytics this hour: {outcomes}")
    if outcomes.get("signature-invalid"):
        console.print(
            "   (signature-invalid: LabBot's requests signed before the edge had polled its "
            "newly registered key; a payment-required answer was waited for)"
        )
    try:
        _until(lambda: counted() >= 4)
    except RuntimeError:
        backlog = requests.get(f"{edge}/toll/stats", timeout=5).json()["spool_backlog"]
        raise RuntimeError(
            f"metering counted {counted()} of the 4 crawls; the edge's spool holds {backlog}"
        ) from None
    console.print(
        f"   metering counted {counted()} crawls for Model Lab (3 licensed, 1 paid), each once,"
        " through the edge's spool"
    )
    return counted()


def _direct(url: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def _signer(
    key: Ed25519PrivateKey, key_id: str
) -> Callable[[str, str, dict[str, str]], dict[str, str]]:
    def sign(url: str, nonce: str, extra: dict[str, str]) -> dict[str, str]:
        request = requests.Request(
            "GET", url, headers={"User-Agent": "LabBot/2.0", **extra}
        ).prepare()
        now = datetime.now(UTC)
        HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: key}),
        ).sign(
            request,
            key_id=key_id,
            created=now,
            expires=now + timedelta(minutes=1),
            nonce=nonce,
            tag="web-bot-auth",
            covered_component_ids=("@authority", "@target-uri"),
        )
        return {str(k): str(v) for k, v in request.headers.items()}

    return sign


def _as_nginx_would(edge: str, publisher: str) -> Fetch:
    """Without nginx: the subrequest nginx would make, then the error page's request."""

    def fetch(url: str, headers: dict[str, str]) -> requests.Response:
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        proxy = {**headers, "X-Original-URI": "/" + path, "X-Original-Host": host,
                 "X-Original-Scheme": scheme, "X-Original-Method": "GET",
                 "X-Licentia-Publisher": publisher}  # fmt: skip
        asked = requests.get(f"{edge}/toll/nginx", headers=proxy, timeout=10)
        if asked.status_code == 200:
            return asked
        return requests.get(f"{edge}/toll/answer", headers=proxy, timeout=10)

    return fetch


def _until(check: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("the edge did not pick up the new works and offers in time")
        time.sleep(0.1)
