"""The catalog, end to end: start the service as its own process, walk through the
publisher's side of the marketplace, and shut it down cleanly.

Run with `make demo`. Uses a throwaway data directory (SQLite) and a random operator key.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

TOPICS = ["harbour", "council", "budget", "festival", "railway", "election", "river", "school"]


def sample_article(n: int) -> res.Work:
    topic = TOPICS[n % len(TOPICS)]
    sentences = [
        f"The {topic} story number {n} continues with detail {i} for readers." for i in range(30)
    ]
    return res.Work(
        external_id=f"demo-{n}",
        title=f"On the {topic} ({n})",
        body=" ".join(sentences),
        language="en",
        section="local" if n % 2 else "national",
        tags=[topic],
        canonical_url=f"https://gazette.example/{topic}/{n}",
    )


def wait_until_serving(channel: grpc.Channel, process: subprocess.Popen[bytes]) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the catalog exited early with code {process.returncode}")
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                return
        except grpc.RpcError:
            time.sleep(0.2)
    raise SystemExit("the catalog did not become healthy within 30 s")


def main() -> int:
    operator_key = secrets.token_urlsafe(24)
    port = os.environ.get("LICENTIA_CATALOG_PORT", "50051")
    with tempfile.TemporaryDirectory(prefix="licentia-demo-") as data_dir:
        env = {
            **os.environ,
            "LICENTIA_DATA_DIR": data_dir,
            "LICENTIA_OPERATOR_API_KEY": operator_key,
            "LICENTIA_CATALOG_PORT": port,
            "LICENTIA_LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "catalog"], env=env
        )
        try:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            wait_until_serving(channel, process)
            run_story(api_grpc.CatalogServiceStub(channel), operator_key)
            channel.close()
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    print(f"catalog stopped cleanly (exit code {code})")
    return code


def run_story(stub: api_grpc.CatalogServiceStub, operator_key: str) -> None:
    def as_(key: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {key}")]

    op = as_(operator_key)
    publisher = stub.CreatePublisher(
        api.CreatePublisherRequest(
            publisher=res.Publisher(display_name="The Harbour Gazette"), publisher_id="gazette"
        ),
        metadata=op,
    )
    print(f"1. operator created {publisher.name} ({publisher.display_name})")
    key = stub.CreateApiKey(api.CreateApiKeyRequest(parent=publisher.name), metadata=op).key
    print(f"2. operator issued the publisher an API key ({key[:8]}..., shown once)")
    batches = [
        api.ImportWorksRequest(
            parent=publisher.name, works=[sample_article(i) for i in range(b, b + 20)]
        )
        for b in range(0, 60, 20)
    ]
    results = [
        r for resp in stub.ImportWorks(iter(batches), metadata=as_(key)) for r in resp.results
    ]
    print(
        f"3. publisher imported {len(results)} articles "
        f"({sum(r.outcome == api.ImportWorkResult.OUTCOME_CREATED for r in results)} created)"
    )
    again = [r for resp in stub.ImportWorks(iter(batches), metadata=as_(key)) for r in resp.results]
    print(
        f"4. re-running the import changed nothing "
        f"({sum(r.outcome == api.ImportWorkResult.OUTCOME_UNCHANGED for r in again)} unchanged)"
    )
    page = stub.ListWorks(
        api.ListWorksRequest(parent=publisher.name, section="local", page_size=3), metadata=as_(key)
    )
    print("5. first page of the 'local' section:")
    for work in page.works:
        print(f"     {work.name}  v{work.version}  {work.word_count} words  {work.title}")
    time.sleep(0.5)
    events = stub.ListWorkEvents(api.ListWorkEventsRequest(), metadata=op)
    print(
        f"6. the work event feed holds {len(events.events)} events "
        f"(last sequence {events.last_sequence})"
    )


if __name__ == "__main__":
    sys.exit(main())
