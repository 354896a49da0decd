"""Metering killed with SIGKILL at random moments during ingestion, restarted each time,
while the client retries every batch it has no answer for: the totals must equal the
ground truth exactly (nothing lost, nothing counted twice). SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from licentia.metering.v1 import resources_pb2 as res

from services.runtime.ports import free_port
from tests.api.market import Market, terms
from tests.conftest import OPERATOR_KEY, SERVICE_TOKEN
from tests.e2e.processes import wait_healthy

BATCHES = 60
BATCH = 200
KILLS = 4


class Metering:
    """`licentia serve metering` as a process that can be killed and started again."""

    def __init__(self, market: Market) -> None:
        settings = market.catalog.settings
        self.port = free_port()
        self.env = {
            **os.environ,
            "LICENTIA_DATA_DIR": str(settings.data_dir),
            "LICENTIA_OPERATOR_API_KEY": OPERATOR_KEY,
            "LICENTIA_SERVICE_TOKEN": SERVICE_TOKEN,
            "LICENTIA_METERING_PORT": str(self.port),
            "LICENTIA_CATALOG_PORT": str(market.catalog.server.port),
            "LICENTIA_LICENSING_PORT": str(market.licensing.server.port),
            "LICENTIA_LOG_LEVEL": "WARNING",
        }
        if settings.database_url:
            self.env["LICENTIA_DATABASE_URL"] = settings.database_url
            self.env["LICENTIA_DATABASE_SCHEMA"] = settings.database_schema or ""
        else:
            self.env.pop("LICENTIA_DATABASE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "metering"],
            env=self.env,
            stderr=subprocess.DEVNULL,
        )
        wait_healthy(grpc.insecure_channel(f"127.0.0.1:{self.port}"))

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


def test_sigkill_during_ingestion_loses_nothing_and_counts_nothing_twice(market: Market) -> None:
    offer = market.offer(market.pa, terms(scope=lres.Scope(works=market.works_a)))
    license_name = market.license(market.va, offer).name
    at = Timestamp()
    at.FromDatetime(datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))
    rng = random.Random(7)
    batches = [
        [
            res.UsageEvent(
                id=f"b{b}-e{i}",
                license=license_name,
                work=market.works_a[i % len(market.works_a)],
                use="ai-input",
                unit=res.UNIT_TOKENS,
                quantity=rng.randrange(1, 5_000),
                occur_time=at,
            )
            for i in range(BATCH)
        ]
        for b in range(BATCHES)
    ]
    truth = sum(e.quantity for batch in batches for e in batch)

    metering = Metering(market)
    metering.start()
    kills_done = threading.Event()

    def killer() -> None:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.0))
            metering.kill()
            metering.start()
        kills_done.set()

    thread = threading.Thread(target=killer)
    thread.start()
    metadata = [("authorization", f"Bearer {market.va.account.key}")]
    stub = api_grpc.MeteringServiceStub(grpc.insecure_channel(f"127.0.0.1:{metering.port}"))
    answered: dict[str, int] = {}
    unanswered = 0
    try:
        pending = list(range(BATCHES))
        while pending or not kills_done.is_set():
            if not pending:  # keep traffic flowing until every kill has happened
                pending = [rng.randrange(BATCHES)]
            b = pending[0]
            try:
                response = stub.RecordUsage(
                    api.RecordUsageRequest(events=batches[b]), metadata=metadata, timeout=5
                )
            except grpc.RpcError:
                unanswered += 1
                time.sleep(0.05)  # no answer: the batch is sent again
                continue
            pending.pop(0)
            for result in response.results:
                assert result.status in (
                    res.EventResult.STATUS_ACCEPTED,
                    res.EventResult.STATUS_DUPLICATE,
                ), result
                answered[result.id] = result.status
        thread.join()
        summary = stub.GetUsageSummary(
            api.GetUsageSummaryRequest(
                start_time=Timestamp(seconds=(at.seconds // 3600 - 1) * 3600),
                end_time=Timestamp(seconds=(at.seconds // 3600 + 2) * 3600),
            ),
            metadata=metadata,
        )
    finally:
        thread.join()
        metering.stop()
    assert unanswered > 0  # the kills really interrupted ingestion
    assert len(answered) == BATCHES * BATCH
    (row,) = summary.rows
    assert (row.quantity, row.events) == (truth, BATCHES * BATCH)
