"""The shared runtime, through the real catalog server."""

from __future__ import annotations

import threading
import time
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from services.catalog.app import open_database
from services.runtime.clients import open_channel
from services.runtime.config import Settings
from services.runtime.ports import free_port
from services.runtime.telemetry import build_tracer_provider
from tests.api.helpers import article, make_publisher
from tests.conftest import (
    OPERATOR_KEY,
    SERVICE_TOKEN,
    ServiceHarness,
    error_reason,
    start_catalog,
)


def test_health_and_reflection_need_no_credentials(catalog: ServiceHarness) -> None:
    health = health_pb2_grpc.HealthStub(catalog.channel)
    for service in ("", "licentia.catalog.v1.CatalogService"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(catalog.channel)
    responses = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert "licentia.catalog.v1.CatalogService" in names


def test_one_noisy_caller_is_limited_and_others_are_not(
    settings: Settings,
) -> None:
    harness = start_catalog(
        settings.model_copy(update={"rate_limit_per_second": 1.0, "rate_limit_burst": 3})
    )
    try:
        noisy = harness.operator
        codes = []
        for _ in range(5):
            try:
                noisy.ListPublishers(api.ListPublishersRequest())
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
                last = error
        assert codes[:3] == [grpc.StatusCode.OK] * 3
        assert codes[3:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
        assert error_reason(last) == "RATE_LIMITED"
        status = rpc_status.from_call(last)
        retry = error_details_pb2.RetryInfo()
        assert any(d.Unpack(retry) for d in status.details)
        assert 0 < retry.retry_delay.ToNanoseconds() <= 1_000_000_000
        # Another caller has its own bucket and is served at once.
        harness.client(SERVICE_TOKEN).ListPublishers(api.ListPublishersRequest())
    finally:
        harness.server.stop(0)


def test_traces_cover_rpc_and_sql_and_continue_a_callers_trace(catalog: ServiceHarness) -> None:
    client_spans = InMemorySpanExporter()
    provider = build_tracer_provider(
        catalog.settings, "test-client", [SimpleSpanProcessor(client_spans)]
    )
    channel = open_channel(catalog.address, OPERATOR_KEY, provider)
    stub = api_grpc.CatalogServiceStub(channel)
    stub.ListPublishers(api.ListPublishersRequest())
    channel.close()
    (client_span,) = client_spans.get_finished_spans()
    trace_id = client_span.context.trace_id
    server_spans = [s for s in catalog.spans.get_finished_spans() if s.context.trace_id == trace_id]
    rpc = [
        s for s in server_spans if s.name == "/licentia.catalog.v1.CatalogService/ListPublishers"
    ]
    sql = [
        s
        for s in server_spans
        if (s.attributes and "db.statement" in s.attributes)
        or (s.attributes and "db.query.text" in s.attributes)
    ]
    assert len(rpc) == 1 and rpc[0].parent.span_id == client_span.context.span_id
    assert sql and all(s.parent.span_id == rpc[0].context.span_id for s in sql)


def test_sampling_is_decided_once_per_call_and_follows_the_caller(settings: Settings) -> None:
    """At a ratio of one half, about half the calls that start a trace are recorded, each
    with the trace id its sampling was decided on (a second, independent draw would keep
    a quarter); a caller's decision is followed either way."""
    harness = start_catalog(settings.model_copy(update={"trace_sample_ratio": 0.5}))
    method = "/licentia.catalog.v1.CatalogService/ListPublishers"
    try:
        client = harness.client(OPERATOR_KEY)
        for _ in range(400):
            client.ListPublishers(api.ListPublishersRequest())
        roots = [s for s in harness.spans.get_finished_spans() if s.name == method]
        assert 140 <= len(roots) <= 260  # 200 expected; a quarter would be 100
        bound = round(0.5 * (2**64))
        for span in roots:
            assert span.parent is None
            assert span.context.trace_id & (2**64 - 1) < bound
        harness.spans.clear()

        stub = api_grpc.CatalogServiceStub(harness.channel)
        auth = ("authorization", f"Bearer {OPERATOR_KEY}")
        trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        for flags in ("00", "01"):
            parent = ("traceparent", f"00-{trace_id}-{caller_span}-{flags}")
            stub.ListPublishers(api.ListPublishersRequest(), metadata=[auth, parent])
        (continued,) = [s for s in harness.spans.get_finished_spans() if s.name == method]
        assert format(continued.context.trace_id, "032x") == trace_id
        assert continued.parent is not None
        assert format(continued.parent.span_id, "016x") == caller_span
    finally:
        harness.channel.close()
        harness.server.stop(0)


def test_unexpected_errors_become_internal_without_internals(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    # Break the schema under the running server: a failure no use case expects.
    database = open_database(catalog.settings)
    with database.write_transaction() as conn:
        conn.execute(text("DROP TABLE work_tags"))
    database.dispose()
    channel = grpc.insecure_channel(catalog.address)
    client = api_grpc.CatalogServiceStub(channel)
    with pytest.raises(grpc.RpcError) as broken:
        client.CreateWork(
            api.CreateWorkRequest(parent=acme.name, work=article(1, tags=["x"])),
            metadata=[("authorization", f"Bearer {acme.key}")],
        )
    channel.close()
    assert broken.value.code() == grpc.StatusCode.INTERNAL
    assert error_reason(broken.value) == "INTERNAL"
    details = broken.value.details() or ""
    assert "trace id" in details and "work_tags" not in details and "Traceback" not in details


def test_draining_server_reports_not_serving_and_finishes_inflight_calls(
    catalog: ServiceHarness,
) -> None:
    acme = make_publisher(catalog, "acme")
    works = [article(i, words=400) for i in range(1000)]
    results: list[int] = []

    def slow_import() -> None:
        responses = acme.client.ImportWorks(
            iter([api.ImportWorksRequest(parent=acme.name, works=works)])
        )
        results.extend(len(r.results) for r in responses)

    worker = threading.Thread(target=slow_import)
    worker.start()
    time.sleep(0.15)
    stopper = threading.Thread(target=catalog.server.stop, kwargs={"grace_seconds": 30})
    stopper.start()
    time.sleep(0.05)
    health = health_pb2_grpc.HealthStub(catalog.channel)
    try:
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=2).status
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    except grpc.RpcError as error:  # already past the drain: the port is closed
        assert error.code() == grpc.StatusCode.UNAVAILABLE
    worker.join(60)
    stopper.join(60)
    assert results == [1000]


def test_prometheus_metrics_count_calls_and_show_service_gauges(settings: Settings) -> None:
    port = free_port()
    harness = start_catalog(settings.model_copy(update={"metrics_port": port}))
    try:
        publisher = make_publisher(harness, "metrics")
        publisher.client.CreateWork(api.CreateWorkRequest(parent=publisher.name, work=article(1)))
        with pytest.raises(grpc.RpcError):
            publisher.client.GetWork(api.GetWorkRequest(name=f"{publisher.name}/works/nope"))
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        text_page = page.decode()
    finally:
        harness.channel.close()
        harness.server.stop(0)
    created = (
        'licentia_rpc_requests_total{code="OK",method="/licentia.catalog.v1.CatalogService/'
        'CreateWork",service="catalog"}'
    )
    assert created in text_page
    assert 'code="NOT_FOUND",method="/licentia.catalog.v1.CatalogService/GetWork"' in text_page
    assert 'licentia_rpc_duration_seconds_bucket{le="0.5",method=' in text_page
    assert 'licentia_outbox_backlog{service="catalog"}' in text_page
    assert 'licentia_deliveries_unmetered{service="catalog"} 0.0' in text_page
