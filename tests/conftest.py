"""Shared fixtures: databases (SQLite and PostgreSQL) and an in-process catalog server."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from licentia.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import create_engine, text

from services.catalog import app as catalog_app
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.server import RunningServer, create_server
from services.runtime.telemetry import build_tracer_provider

OPERATOR_KEY = "operator-test-key"
SERVICE_TOKEN = "service-test-token"

_NO_POSTGRES = (
    "PostgreSQL tests did not run: TEST_DATABASE_URL is not set and no Docker engine "
    "answered for testcontainers. Set TEST_DATABASE_URL=postgresql://user@host:5432/db."
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        pytest.skip(_NO_POSTGRES)
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
        yield container.get_connection_url()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Settings]:
    """Settings for one service on a fresh database: a temp SQLite file or a fresh
    PostgreSQL schema (dropped afterwards)."""
    base = dict(
        data_dir=tmp_path,
        operator_api_key=OPERATOR_KEY,
        service_token=SERVICE_TOKEN,
        trace_sample_ratio=1.0,
        shutdown_grace_seconds=2.0,
        max_workers=16,
    )
    if request.param == "sqlite":
        yield Settings(**base)
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield Settings(**base, database_url=url, database_schema=schema)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for service in SERVICE_NAMES:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_{service}" CASCADE'))
    engine.dispose()


class Client:
    """A service stub (CatalogService by default) that sends one credential on every call."""

    def __init__(self, channel: grpc.Channel, key: str | None, stub: Any = None) -> None:
        self._stub = (stub or catalog_grpc.CatalogServiceStub)(channel)
        self._metadata = [("authorization", f"Bearer {key}")] if key else []

    def __getattr__(self, method: str) -> Any:
        call = getattr(self._stub, method)
        return lambda request, **kw: call(request, metadata=self._metadata, timeout=30, **kw)


@dataclass
class ServiceHarness:
    server: RunningServer
    channel: grpc.Channel
    spans: InMemorySpanExporter
    settings: Settings

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def client(self, key: str | None) -> Client:
        return Client(self.channel, key)

    @property
    def operator(self) -> Client:
        return self.client(OPERATOR_KEY)


def start_service(module: Any, settings: Settings, port: int = 0) -> ServiceHarness:
    """Runs a service's real gRPC server in this process (port 0: a free one)."""
    spans = InMemorySpanExporter()
    provider = build_tracer_provider(settings, module.NAME, [SimpleSpanProcessor(spans)])
    app = module.build_app(settings, provider)
    server = create_server(settings, app, provider, port=port).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return ServiceHarness(server, channel, spans, settings)


def start_catalog(settings: Settings) -> ServiceHarness:
    return start_service(catalog_app, settings)


@pytest.fixture
def catalog(settings: Settings) -> Iterator[ServiceHarness]:
    harness = start_catalog(settings)
    yield harness
    harness.channel.close()
    harness.server.stop(0)


# A request whose first field (a string) holds three bytes that are not UTF-8.
INVALID_UTF8_REQUEST = b"\x0a\x03\xff\xfeA"


def send_invalid_utf8(channel: grpc.Channel, method: str, key: str) -> grpc.RpcError:
    """Calls `method` with INVALID_UTF8_REQUEST; returns the error it must fail with."""
    raw = channel.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)
    try:
        raw(INVALID_UTF8_REQUEST, metadata=[("authorization", f"Bearer {key}")])
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{method} accepted a request that is not UTF-8")


def error_reason(error: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call ('' when there is none)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def field_violations(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    fields: list[str] = []
    for detail in status.details if status else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return fields


def eventually(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Polls `condition` until it returns something truthy (returned) or `timeout`
    passes (its last value returned): for what the services do asynchronously, such as
    sequencing an outbox or following a feed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
