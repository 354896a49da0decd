"""Metering ingestion: prints figures; never a pass/fail test.

`licentia serve catalog`, `licensing` and `metering` as processes (PostgreSQL when
TEST_DATABASE_URL is set, else SQLite); this process is the client, sending batches of
1,000 events over StreamUsage on several streams at once (BENCH_METERING_STREAMS, 6),
spread over 1, 2 and 3 metering processes (BENCH_METERING_REPLICAS, 3):
- sustained ingestion, every event new (target: 30,000 events/s on PostgreSQL);
- the same stream again, every event a duplicate (target: 100,000 events/s);
- batch acknowledgement latency with 20,000 events/s offered on schedule, whatever the
  answers (target: p99 250 ms);
- the same client against bare gRPC servers that store nothing: the ceiling of the
  transport on this machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from licentia.metering.v1 import resources_pb2 as res

from bench.grpc_floor import bare_servers
from bench.harness import running
from bench.licensing_bench import setup_market

EVENTS = int(os.environ.get("BENCH_METERING_EVENTS", "300000"))
BATCH = 1_000
Statuses = dict[res.EventResult.Status.ValueType, int]
STREAMS = int(os.environ.get("BENCH_METERING_STREAMS", "6"))
# Measured with 1, 2... this many metering processes sharing the database (the Helm
# chart's `replicas`): one Python process is bound by one core; with more processes than
# cores one computes while another waits on PostgreSQL.
REPLICAS = int(os.environ.get("BENCH_METERING_REPLICAS", "3"))
SPREAD = 600.0  # seconds of event times per run


def batches(license_name: str, works: list[str], prefix: str) -> list[api.StreamUsageRequest]:
    """Every event its own time, to the microsecond, spread over the last SPREAD seconds
    (a fleet reports usage with delays): as in production, no two events share a
    timestamp, so nothing is cheaper for events arriving at one instant."""
    licensed = works[0::2]  # the politics section
    newest = datetime.now(UTC)
    step = SPREAD / EVENTS
    out = []
    for b in range(EVENTS // BATCH):
        events = []
        for i in range(BATCH):
            n = b * BATCH + i
            occur = Timestamp()
            occur.FromDatetime(newest - timedelta(seconds=SPREAD - n * step))
            events.append(
                res.UsageEvent(
                    id=f"{prefix}-{b}-{i}",
                    license=license_name,
                    work=licensed[(b + i) % len(licensed)],
                    use="ai-input",
                    unit=res.UNIT_TOKENS,
                    quantity=100 + i,
                    occur_time=occur,
                    source="bench",
                )
            )
        out.append(api.StreamUsageRequest(batch_id=str(b), events=events))
    return out


async def send(
    ports: list[int], key: str, requests: list[api.StreamUsageRequest], rate: float | None = None
) -> tuple[float, list[float], Statuses]:
    """Sends the batches over STREAMS streams, stream i to replica i mod len(ports) (a
    channel per replica, as a client balancing over a headless Kubernetes service holds
    one per address); returns (seconds, ack latencies, statuses).

    Without a rate each stream sends its next batch as soon as the last is answered
    (closed loop); with one, batches leave on schedule whatever the answers (open loop),
    so queueing shows in the latencies.
    """
    metadata = (("authorization", f"Bearer {key}"),)
    latencies: list[float] = []
    statuses: Statuses = {}
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for port in ports]
    stubs = [api_grpc.MeteringServiceStub(channel) for channel in channels]

    def count(response: api.StreamUsageResponse) -> None:
        for result in response.results:
            statuses[result.status] = statuses.get(result.status, 0) + 1

    async def stream(n: int, part: list[api.StreamUsageRequest], offset: float) -> None:
        call = stubs[n % len(stubs)].StreamUsage(metadata=metadata)
        if not rate:
            for request in part:
                started = time.perf_counter()
                await call.write(request)
                count(await call.read())
                latencies.append(time.perf_counter() - started)
            await call.done_writing()
            return
        sent: list[float] = []

        async def reader() -> None:
            for i in range(len(part)):
                response = await call.read()
                latencies.append(time.perf_counter() - sent[i])
                count(response)

        reading = asyncio.create_task(reader())
        interval = STREAMS * BATCH / rate
        begin = time.perf_counter() + offset
        for i, request in enumerate(part):
            await asyncio.sleep(max(0.0, begin + i * interval - time.perf_counter()))
            sent.append(time.perf_counter())
            await call.write(request)
        await call.done_writing()
        await reading

    try:
        started = time.perf_counter()
        spread = (BATCH / rate) if rate else 0.0
        await asyncio.gather(*(stream(i, requests[i::STREAMS], i * spread) for i in range(STREAMS)))
        return time.perf_counter() - started, latencies, statuses
    finally:
        for channel in channels:
            await channel.close()


def report(label: str, seconds: float, latencies: list[float], statuses: Statuses) -> None:
    named = {res.EventResult.Status.Name(k).removeprefix("STATUS_"): v for k, v in statuses.items()}
    lat = np.array(latencies) * 1000
    print(
        f"{label}: {sum(statuses.values()) / seconds:,.0f} events/s; batch ack p50 "
        f"{np.percentile(lat, 50):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms; {named}"
    )


def main() -> None:
    with running(["catalog", "licensing", "metering"], replicas={"metering": REPLICAS}) as ports:
        key, works, license_name = setup_market(ports["catalog"], ports["licensing"])
        for replicas in range(1, REPLICAS + 1):
            targets = ports.replicas["metering"][:replicas]
            prefix = f"r{replicas}"
            requests = batches(license_name, works, f"{prefix}e")
            print(
                f"{len(requests) * BATCH:,} events in batches of {BATCH:,} on {STREAMS} "
                f"streams, to {replicas} metering replica(s)"
            )
            report("  new events", *asyncio.run(send(targets, key, requests)))
            report("  replayed (all duplicates)", *asyncio.run(send(targets, key, requests)))
            paced = batches(license_name, works, f"{prefix}p")[: max(STREAMS, len(requests) // 3)]
            result = asyncio.run(send(targets, key, paced, rate=20_000))
            report("  offered at 20,000 events/s", *result)
        floor = batches(license_name, works, "floor")
    # The same client against bare servers that only read each id and answer ACCEPTED
    # (no checks, no storage): the most Python gRPC carries here, whatever metering does.
    with bare_servers(REPLICAS) as ports:
        for replicas in range(1, REPLICAS + 1):
            seconds, latencies, statuses = asyncio.run(send(ports[:replicas], "-", floor))
            report(
                f"Floor, {replicas} bare server(s) storing nothing", seconds, latencies, statuses
            )


if __name__ == "__main__":
    main()
