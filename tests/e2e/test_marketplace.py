"""The marketplace end to end: the five services as real processes (SQLite), driven
through the Python client by the demo's story on a smaller catalogue; its invariants and
the trace of one vendor request across the services; `licentia up / status / down`."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.client import Endpoints
from services.launcher import Launcher
from services.runtime.config import COMPONENT_NAMES, Settings
from services.runtime.ports import free_port
from tools.demo.__main__ import play
from tools.trace_receiver import ReceivedSpan, TraceReceiver


def service_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "LICENTIA_DATA_DIR": str(data_dir),
        "LICENTIA_OPERATOR_API_KEY": "e2e-operator-" + secrets.token_hex(4),
        "LICENTIA_SERVICE_TOKEN": "e2e-service-" + secrets.token_hex(4),
        "LICENTIA_LOG_LEVEL": "WARNING",
        "LICENTIA_PROVENANCE_POLL_SECONDS": "0.1",
        "LICENTIA_SHUTDOWN_GRACE_SECONDS": "2",
        **{f"LICENTIA_{name.upper()}_PORT": str(free_port()) for name in COMPONENT_NAMES},
        **extra,
    }
    return env


def settings_of(env: dict[str, str]) -> Settings:
    return Settings.model_validate(
        {
            k.removeprefix("LICENTIA_").lower(): v
            for k, v in env.items()
            if k.startswith("LICENTIA_")
        }
    )


@pytest.fixture
def traced_market(tmp_path: Path) -> Iterator[tuple[Settings, dict[str, str], TraceReceiver]]:
    receiver = TraceReceiver()
    endpoint = receiver.start()
    env = service_env(
        tmp_path,
        LICENTIA_OTLP_ENDPOINT=endpoint,
        LICENTIA_TRACE_SAMPLE_RATIO="1.0",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    launcher = Launcher(settings_of(env), {**env, "LICENTIA_DATABASE_URL": ""})
    launcher.up()
    try:
        yield settings_of(env), env, receiver
    finally:
        codes = launcher.down()
        receiver.stop()
        assert all(code == 0 for code in codes.values()), codes
        for name in COMPONENT_NAMES:
            assert "Traceback" not in launcher.log_tail(name, 400), launcher.log_tail(name)


def test_the_story_reconciles_and_one_request_is_one_trace(
    traced_market: tuple[Settings, dict[str, str], TraceReceiver],
) -> None:
    settings, env, receiver = traced_market
    facts = play(
        Endpoints.from_settings(settings),
        env["LICENTIA_OPERATOR_API_KEY"],
        receiver,
        env["LICENTIA_OTLP_ENDPOINT"],
        settings.public_url_of_edge(),
        articles=20,
    )
    assert facts.retried_duplicates == 250  # a retried batch is counted once
    assert facts.crawls == 4  # the edge: 3 licensed crawls and 1 paid, each counted once
    assert facts.settled.invoiced == facts.settled.stated > 0
    assert facts.settled.balanced and facts.settled.verified

    spans = receiver.spans(facts.trace_id)
    by_id = {s.span_id: s for s in spans}

    def server(service: str, method: str) -> list[ReceivedSpan]:
        return [
            s for s in spans
            if s.service == f"licentia-{service}" and s.name.endswith(method)
            and s.attributes.get("rpc.system") == "grpc" and _kind_server(s, by_id)
        ]  # fmt: skip

    [check] = server("provenance", "/CheckText")
    root = by_id[by_id[check.parent_id].parent_id]
    assert root.service == "vendor-a-app" and root.parent_id == ""
    [recorded] = server("metering", "/RecordUsage")
    permissions = server("licensing", "/BatchCheckPermissions")
    assert _ancestors(recorded, by_id)[:2] == [recorded.parent_id, check.span_id]
    assert any(_ancestors(p, by_id)[1] == check.span_id for p in permissions)
    assert any(s.service == "licentia-metering" and "db.system" in s.attributes for s in spans)
    assert {s.trace_id for s in spans} == {facts.trace_id}


def _kind_server(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> bool:
    """A server span's parent is another process's client span (or none)."""
    parent = by_id.get(span.parent_id)
    return parent is None or parent.service != span.service


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[str]:
    chain = []
    while span.parent_id and span.parent_id in by_id:
        chain.append(span.parent_id)
        span = by_id[span.parent_id]
    return chain


def licentia(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_up_status_down(tmp_path: Path) -> None:
    env = service_env(tmp_path, LICENTIA_LOG_LEVEL="INFO")
    up = licentia(env, "up")
    try:
        assert up.returncode == 0, up.stderr
        status = licentia(env, "status", "--json")
        assert status.returncode == 0
        rows = json.loads(status.stdout)
        assert [(r["name"], r["health"]) for r in rows] == [(n, "SERVING") for n in COMPONENT_NAMES]
        again = licentia(env, "up")  # already up: starts nothing
        assert again.returncode == 0
        still = json.loads(licentia(env, "status", "--json").stdout)
        assert [r["pid"] for r in still] == [r["pid"] for r in rows]
    finally:
        down = licentia(env, "down")
    assert down.returncode == 0, down.stderr
    after = licentia(env, "status", "--json")
    assert after.returncode == 3
    assert {r["health"] for r in json.loads(after.stdout)} == {"UNREACHABLE"}
    assert not list((tmp_path / "run").glob("*.pid"))
    logs = (tmp_path / "logs" / "catalog.log").read_text()
    assert "received SIGTERM; draining" in logs and "catalog stopped" in logs


def test_cli_usage_errors_are_one_clear_line(tmp_path: Path) -> None:
    env = service_env(tmp_path)
    unknown = licentia(env, "serve", "billing")
    assert unknown.returncode == 2 and "unknown service 'billing'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
