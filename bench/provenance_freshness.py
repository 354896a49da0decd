"""How fast catalog changes reach CheckText: prints figures; never a pass/fail test.

`licentia serve catalog`, `licensing` and `provenance` as processes (SQLite, or
PostgreSQL when TEST_DATABASE_URL is set). A publisher registers works one by one; for
each, the time from CreateWork returning to the first CheckText that finds it. Then the
same for DeleteWork until CheckText no longer returns the work. Target: p99 under 2 s.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

import grpc
import numpy as np
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as capi_grpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import provenance_service_pb2_grpc as api_grpc

from bench.harness import OPERATOR, running
from services.samples.articles import ArticleGenerator

WORKS = int(os.environ.get("BENCH_FRESHNESS_WORKS", "60"))
OP = (("authorization", f"Bearer {OPERATOR}"),)


def seconds_until(condition: Callable[[], bool], limit: float = 30.0) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > limit:
            return float("inf")
        time.sleep(0.01)
    return time.perf_counter() - started


def report(label: str, delays: list[float]) -> None:
    values = np.array(delays)
    print(
        f"{label}: p50 {np.percentile(values, 50):.2f} s, p99 {np.percentile(values, 99):.2f} s, "
        f"max {values.max():.2f} s over {len(values)} works (target p99 2 s)"
    )


def main() -> None:
    with running(["catalog", "licensing", "provenance"]) as ports:
        catalog = capi_grpc.CatalogServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ports['catalog']}")
        )
        provenance = api_grpc.ProvenanceServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ports['provenance']}")
        )
        catalog.CreatePublisher(
            capi.CreatePublisherRequest(
                publisher=cres.Publisher(display_name="P"), publisher_id="p"
            ),
            metadata=OP,
        )
        generator = ArticleGenerator(seed=8)

        def found(body: str, name: str) -> bool:
            response = provenance.CheckText(api.CheckTextRequest(text=body), metadata=OP)
            return any(m.work == name for m in response.matches)

        def gone(body: str, name: str) -> bool:
            return not found(body, name)

        registered: list[float] = []
        deleted: list[float] = []
        works = []
        for i in range(WORKS):
            body = generator.text(300)
            work = cres.Work(
                external_id=f"fresh-{i}", title=f"Story {i}", body=body, language="en",
                canonical_url=f"https://news.example/{i}",
            )  # fmt: skip
            name = catalog.CreateWork(
                capi.CreateWorkRequest(parent="publishers/p", work=work), metadata=OP
            ).name
            registered.append(seconds_until(functools.partial(found, body, name)))
            works.append((name, body))
        for name, body in works:
            catalog.DeleteWork(capi.DeleteWorkRequest(name=name), metadata=OP)
            deleted.append(seconds_until(functools.partial(gone, body, name)))
        report("CreateWork -> found by CheckText", registered)
        report("DeleteWork -> gone from CheckText", deleted)


if __name__ == "__main__":
    main()
