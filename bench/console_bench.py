"""The console and the JSON face: page load on the demo's data, and JSON calls/s beside
gRPC calls/s for GetWork, in the same run.

1. The demo's marketplace (every component as a process, SQLite, the demo's story: 200
   works, offers, licenses, usage, a closed period, crawls) and Chromium (Playwright):
   each page of each party opened in a fresh browser context (empty cache), signed in;
   first contentful paint and the moment the page's data is shown (the console's own
   `licentia:data-shown` mark), from navigation start, median and worst of 5 loads.
2. GetWork by a publisher reading its own works: gRPC (the generated stub) against JSON
   through the console (Connect, keep-alive HTTP/1.1), each from 1 and 8 closed-loop
   threads of this process, sharing the machine's cores with every server.
"""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as cgrpc

from services.client import Endpoints
from tools.demo.__main__ import demo_marketplace, play

CHROMIUM = "/usr/bin/chromium"
LOADS = 5
CALLS = 3_000
PAGES = {
    "publisher": ["overview", "offers", "proposals", "licenses", "statements"],
    "vendor": ["offers", "proposals", "licenses", "charges", "usage"],
    "operator": ["settlement", "accounts"],
}


def page_loads(url: str, sign_ins: dict[str, tuple[str, str]]) -> None:
    from playwright.sync_api import sync_playwright

    print(f"page load, {LOADS} cold loads each (fresh context), ms from navigation start:")
    print(f"  {'page':<34} {'first paint':>16} {'data shown':>16}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for role, pages in PAGES.items():
            account, key = sign_ins[role]
            route = "operator" if role == "operator" else account
            session = json.dumps({"account": account, "key": key, "role": role})
            for page_name in pages:
                paints, shown = [], []
                for _ in range(LOADS):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    # The browser session holds the key, as after a sign-in.
                    context.add_init_script(
                        f"sessionStorage.setItem('licentia.session', {json.dumps(session)})"
                    )
                    page = context.new_page()
                    page.goto(f"{url}#/{route}/{page_name}")
                    page.wait_for_selector(f"main[data-shown='#/{route}/{page_name}']")
                    paints.append(page.evaluate(
                        "performance.getEntriesByName('first-contentful-paint')[0].startTime"
                    ))  # fmt: skip
                    shown.append(page.evaluate(
                        "performance.getEntriesByName('licentia:data-shown')[0].startTime"
                    ))  # fmt: skip
                    context.close()
                print(
                    f"  {role + ' ' + page_name:<34} {statistics.median(paints):>7.0f} "
                    f"(max {max(paints):>4.0f}) {statistics.median(shown):>7.0f} "
                    f"(max {max(shown):>4.0f})"
                )
        browser.close()


def closed_loop(label: str, make_call: Callable[[], Callable[[int], object]], threads: int) -> None:
    """`threads` threads, each with its own connection, calling back to back."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(CALLS))

    def caller() -> None:
        call = make_call()
        mine = []
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            started = time.perf_counter()
            call(i)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(caller) for _ in range(threads)]:
            future.result()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2] * 1e3, latencies[int(len(latencies) * 0.99)] * 1e3
    print(f"  {label:<40} {CALLS / elapsed:>7,.0f} calls/s  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms")


def get_work_rates(catalog: str, console: str, key: str, works: list[str]) -> None:
    metadata = (("authorization", f"Bearer {key}"),)
    host, port = console.removeprefix("http://").rstrip("/").split(":")

    def over_grpc() -> Callable[[int], object]:
        stub = cgrpc.CatalogServiceStub(grpc.insecure_channel(catalog))
        return lambda i: stub.GetWork(
            capi.GetWorkRequest(name=works[i % len(works)]), metadata=metadata
        )

    def over_json() -> Callable[[int], object]:
        connection = http.client.HTTPConnection(host, int(port))
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

        def call(i: int) -> object:
            body = json.dumps({"name": works[i % len(works)]})
            connection.request("POST", "/licentia.catalog.v1.CatalogService/GetWork", body, headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(data.decode())
            return data

        return call

    print(f"GetWork, a publisher reading its own works ({CALLS:,} calls each):")
    for threads in (1, 8):
        closed_loop(f"gRPC, {threads} thread(s)", over_grpc, threads)
        closed_loop(f"JSON through the console, {threads} thread(s)", over_json, threads)


def main() -> int:
    with demo_marketplace() as (settings, launcher, receiver, endpoint, operator_key):
        launcher.up()
        facts = play(
            Endpoints.from_settings(settings), operator_key, receiver, endpoint,
            settings.public_url_of_edge(),
        )  # fmt: skip
        url = f"http://{settings.address_of('console')}/"
        publisher, vendor = facts.sign_ins[0], facts.sign_ins[-1]
        stub = cgrpc.CatalogServiceStub(grpc.insecure_channel(settings.address_of("catalog")))
        works = [
            w.name
            for w in stub.ListWorks(
                capi.ListWorksRequest(parent=publisher[0], page_size=200),
                metadata=(("authorization", f"Bearer {publisher[1]}"),),
            ).works
        ]
        print(f"\nthe demo's marketplace: {len(works)} works of {publisher[0]}, console at {url}")
        if shutil.which(CHROMIUM):
            page_loads(
                url,
                {"publisher": publisher, "vendor": vendor, "operator": ("operator", operator_key)},
            )
        else:
            print(f"page load: skipped, no Chromium at {CHROMIUM} (apt-get install chromium)")
        get_work_rates(settings.address_of("catalog"), url, publisher[1], works)
    return 0


if __name__ == "__main__":
    sys.exit(main())
