"""`licentia up` (the Launcher) trusts its own children, not whatever answers a port."""

from __future__ import annotations

from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.launcher import Launcher, LaunchError
from services.runtime.ports import free_port
from tests.e2e.test_marketplace import service_env, settings_of


def test_up_refuses_a_port_another_process_serves_on(tmp_path: Path) -> None:
    """Someone else's healthy server on the catalog's port: `up` used to report the
    catalog serving while its own child had exited with "Failed to bind"."""
    port = free_port()
    foreign = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    checker = health.HealthServicer()
    checker.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checker, foreign)
    foreign.add_insecure_port(f"127.0.0.1:{port}")
    foreign.start()
    try:
        env = service_env(tmp_path, LICENTIA_CATALOG_PORT=str(port))
        launcher = Launcher(settings_of(env), {**env, "LICENTIA_DATABASE_URL": ""}, ["catalog"])
        with pytest.raises(LaunchError, match=rf"catalog: 127\.0\.0\.1:{port} is already in use"):
            launcher.up(timeout=30)
        assert launcher.status()[0].pid is None  # nothing was started
    finally:
        foreign.stop(0)


def test_a_child_that_exits_while_starting_fails_up_with_its_log(tmp_path: Path) -> None:
    env = service_env(tmp_path, LICENTIA_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    launcher = Launcher(settings_of(env), env, ["catalog"])
    with pytest.raises(LaunchError, match="catalog exited while starting") as failure:
        launcher.up(timeout=60)
    assert "127.0.0.1" in str(failure.value) or "connect" in str(failure.value).lower()
