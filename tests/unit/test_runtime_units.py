"""Runtime pieces with no server: page tokens, key cache, rate limiter, RPC metrics."""

from __future__ import annotations

import random
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from services.runtime import pagination
from services.runtime.authentication import (
    CachedKeyAuthenticator,
    StaticCredentials,
    hash_api_key,
)
from services.runtime.errors import InvalidArgument, ResourceExhausted, Unauthenticated
from services.runtime.metrics import RpcMetrics
from services.runtime.principal import Principal, Role
from services.runtime.rate_limit import RateLimiter
from services.runtime.telemetry import DecidedIds


@given(
    st.one_of(st.integers(), st.text(max_size=20)),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
)
def test_page_tokens_round_trip_and_bind_to_filters(key: object, filters: dict[str, str]) -> None:
    token = pagination.next_page_token(key, filters)
    assert pagination.page_request(10, token, filters).after == key
    with pytest.raises(InvalidArgument):
        pagination.page_request(10, token, {**filters, "extra": "x"})


def test_page_size_defaults_and_caps() -> None:
    assert pagination.page_request(0, "", {}).size == pagination.DEFAULT_PAGE_SIZE
    assert pagination.page_request(10**6, "", {}).size == pagination.MAX_PAGE_SIZE


def test_key_cache_asks_once_per_ttl_and_forgets_on_revocation() -> None:
    calls: list[str] = []
    vendor = Principal(Role.VENDOR, "vendors/v", "vendors/v/apiKeys/k")

    def resolve(key: str) -> Principal | None:
        calls.append(key)
        return vendor if key == "lic_good" else None

    auth = CachedKeyAuthenticator(StaticCredentials("op", None), resolve, ttl_seconds=60)
    assert auth.authenticate("lic_good") == vendor
    assert auth.authenticate("lic_good") == vendor
    assert calls == ["lic_good"]
    assert auth.authenticate("op").is_operator
    with pytest.raises(Unauthenticated):
        auth.authenticate("lic_bad")
    with pytest.raises(Unauthenticated):
        auth.authenticate("no-prefix")
    auth.forget(hash_api_key("lic_good"))
    auth.authenticate("lic_good")
    assert calls == ["lic_good", "lic_bad", "lic_good"]


def test_rate_limiter_is_per_caller_and_says_how_long_to_wait() -> None:
    limiter = RateLimiter(per_second=10, burst=2)
    limiter.acquire("a")
    limiter.acquire("a")
    with pytest.raises(ResourceExhausted) as limited:
        limiter.acquire("a")
    assert 0 < limited.value.retry_after_seconds <= 0.1
    limiter.acquire("b")


def test_envoy_stubs_and_the_otlp_exporter_import_side_by_side() -> None:
    """xds-protos ships older OpenTelemetry protos under opentelemetry-proto's package
    path; `make setup` reinstalls OpenTelemetry's last so that both work."""
    from envoy.service.auth.v3 import external_auth_pb2
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.common.v1 import common_pb2

    assert external_auth_pb2.CheckRequest and OTLPSpanExporter
    assert hasattr(common_pb2, "InstrumentationScope")


def test_rpc_metrics_counted_per_thread_add_up_when_scraped() -> None:
    """Calls counted by many threads at once, with no lock on the way: a scrape (taken
    while they count, and after) sees every call once, in the right bucket."""
    metrics = RpcMetrics()
    registry = CollectorRegistry()
    registry.register(metrics)
    method = "/x.v1.S/M"

    def count(n: int) -> None:
        for i in range(5_000):
            code = "OK" if i % 5 else "NOT_FOUND"
            metrics.observe("svc", method, code, 0.0004 if n % 2 else 0.003)

    threads = [threading.Thread(target=count, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    generate_latest(registry)  # scraping while counting neither fails nor loses counts
    for thread in threads:
        thread.join()
    page = generate_latest(registry).decode()
    labels = f'method="{method}",service="svc"'
    assert f'licentia_rpc_requests_total{{code="OK",{labels}}} 32000.0' in page
    assert f'licentia_rpc_requests_total{{code="NOT_FOUND",{labels}}} 8000.0' in page
    assert f'licentia_rpc_duration_seconds_bucket{{le="0.0005",{labels}}} 20000.0' in page
    assert f'licentia_rpc_duration_seconds_bucket{{le="0.005",{labels}}} 40000.0' in page
    assert f"licentia_rpc_duration_seconds_count{{{labels}}} 40000.0" in page


def test_trace_ids_leave_the_programs_random_state_alone() -> None:
    """Served calls draw span and trace ids all the time, in every thread: from the
    provider's own generator, never the `random` module's (a test seeding it, or
    hypothesis drawing examples beside running servers, would see it move)."""
    ids = DecidedIds()
    state = random.getstate()
    drawn = {ids.generate_span_id() for _ in range(100)} | {ids.generate_trace_id()}
    assert random.getstate() == state
    assert len(drawn) == 101 and 0 not in drawn
    ids.use_next(12345)
    assert ids.generate_trace_id() == 12345  # a trace id drawn ahead to decide sampling
    assert ids.generate_trace_id() != 12345
