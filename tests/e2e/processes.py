"""Helpers for tests that run services as real processes."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_healthy(channel: grpc.Channel, timeout: float = 60.0) -> None:
    """Until the service answers SERVING on grpc.health.v1."""
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                return
        except grpc.RpcError:
            assert time.monotonic() < deadline, "service did not become healthy"
            time.sleep(0.1)
