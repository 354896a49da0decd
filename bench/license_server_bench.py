"""The license server (edge) over HTTP: prints figures; never a pass/fail test.

catalog, licensing and the edge as processes (PostgreSQL when TEST_DATABASE_URL is set,
else SQLite); a publisher's work with a canonical URL under a free search offer, a vendor
with OAuth client credentials that already holds the license. Then, through real HTTP:
- tokens issued per second for that existing license (client_credentials with a
  resource; each call authenticates the client, resolves the URL, checks the license
  and signs a token), 8 callers; target 500/s on this machine;
- introspection (RFC 7662) by the publisher's client, p50 and p99 with 1 and 16 callers.
Callers are threads with keep-alive sessions of `requests`, in this process: they share
the two cores with the servers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc
import requests
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as cgrpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lgrpc
from licentia.licensing.v1 import resources_pb2 as lres

from bench.harness import OPERATOR, running

URL = "https://bench.example/news/1"


def main() -> None:
    with running(["catalog", "licensing", "edge"]) as ports:
        edge = f"http://127.0.0.1:{ports['edge']}"
        vendor, publisher, token = _market(ports["catalog"], ports["licensing"], edge)
        form = {"grant_type": "client_credentials", "resource": URL, "scope": "search"}

        def issue(session: requests.Session) -> None:
            answer = session.post(f"{edge}/token", data=form, auth=vendor, timeout=30)
            assert answer.status_code == 200, answer.text

        def introspect(session: requests.Session) -> None:
            answer = session.post(
                f"{edge}/introspect", data={"token": token}, auth=publisher, timeout=30
            )
            assert answer.json()["active"] is True, answer.text

        closed_loop("tokens for an existing license", issue, callers=8, seconds=8.0)
        closed_loop("introspection", introspect, callers=1, seconds=5.0)
        closed_loop("introspection", introspect, callers=16, seconds=8.0)


def closed_loop(
    label: str, call: Callable[[requests.Session], None], callers: int, seconds: float
) -> None:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def run() -> None:
        session = requests.Session()
        mine = []
        while time.perf_counter() < stop:
            started = time.perf_counter()
            call(session)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(callers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"{label}: {len(latencies) / elapsed:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"({callers} callers, {len(latencies):,} calls)"
    )


def _market(catalog_port: int, licensing_port: int, edge: str, url: str = URL) -> tuple:
    op = [("authorization", f"Bearer {OPERATOR}")]
    catalog = cgrpc.CatalogServiceStub(grpc.insecure_channel(f"127.0.0.1:{catalog_port}"))
    licensing = lgrpc.LicensingServiceStub(grpc.insecure_channel(f"127.0.0.1:{licensing_port}"))
    catalog.CreatePublisher(
        capi.CreatePublisherRequest(publisher=cres.Publisher(display_name="P"), publisher_id="p"),
        metadata=op,
    )
    catalog.CreateVendor(
        capi.CreateVendorRequest(vendor=cres.Vendor(display_name="V"), vendor_id="v"), metadata=op
    )
    catalog.CreateWork(
        capi.CreateWorkRequest(
            parent="publishers/p",
            work=cres.Work(
                external_id="1", title="One", body="text", language="en", canonical_url=url
            ),
        ),
        metadata=op,
    )
    offer = licensing.CreateOffer(
        lapi.CreateOfferRequest(
            parent="publishers/p",
            offer=lres.Offer(
                display_name="Search",
                terms=lres.Terms(
                    permitted_uses=["search"], price=lres.Price(model=lres.Price.MODEL_FREE)
                ),
            ),
        ),
        metadata=op,
    )
    licensing.PublishOffer(lapi.PublishOfferRequest(name=offer.name), metadata=op)

    def client(parent: str) -> tuple[str, str]:
        made = catalog.CreateOAuthClient(
            capi.CreateOAuthClientRequest(parent=parent, oauth_client=cres.OAuthClient()),
            metadata=op,
        )
        return made.oauth_client.client_id, made.client_secret

    vendor, publisher = client("vendors/v"), client("publishers/p")
    first = requests.post(
        f"{edge}/token",
        data={"grant_type": "client_credentials", "resource": url, "scope": "search"},
        auth=vendor,
        timeout=30,
    ).json()
    assert first.get("license_granted") is True, first
    return vendor, publisher, first["access_token"]


if __name__ == "__main__":
    main()
