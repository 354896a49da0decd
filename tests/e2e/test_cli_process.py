"""`licentia serve` as a real process: it starts, serves, and drains on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

from services.runtime.ports import free_port


def test_serve_migrate_and_graceful_stop(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LICENTIA_DATA_DIR": str(tmp_path),
        "LICENTIA_CATALOG_PORT": str(port),
        "LICENTIA_OPERATOR_API_KEY": "e2e-operator",
        "LICENTIA_MIGRATE_ON_START": "false",
    }
    env.pop("LICENTIA_DATABASE_URL", None)
    migrate = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate", "catalog"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert (tmp_path / "catalog.db").exists()

    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "catalog"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "catalog did not become healthy"
                time.sleep(0.2)
        stub = api_grpc.CatalogServiceStub(channel)
        created = stub.CreatePublisher(
            api.CreatePublisherRequest(
                publisher=res.Publisher(display_name="E2E"), publisher_id="e2e"
            ),
            metadata=[("authorization", "Bearer e2e-operator")],
        )
        assert created.name == "publishers/e2e"
        channel.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "received SIGTERM; draining" in stderr and "catalog stopped" in stderr
    assert "Traceback" not in stderr


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "LICENTIA_DATA_DIR": str(tmp_path), "LICENTIA_TRACE_SAMPLE_RATIO": "7"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "catalog"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "trace_sample_ratio" in result.stderr
