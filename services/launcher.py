"""Every service as its own process on one machine: `licentia up`, `status` and `down`,
and the demo.

`up` starts `licentia serve <name>` for each service in its own session (so a terminal's
Ctrl-C does not reach it), with its log in `{data_dir}/logs/{name}.log` and its pid in
`{data_dir}/run/{name}.pid`, then waits until each answers SERVING on grpc.health.v1
(HTTP components: 200 on GET /healthz).
`down` sends SIGTERM (each server drains its calls), waits, and kills only what is still
running after the drain time. `status` reads the pid files and asks each one's health.
Ports, data directory and everything else come from the same LICENTIA_* settings the
services read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.clients import ClientTls, secure_or_plain, tls_of
from services.runtime.config import COMPONENT_NAMES, PROTOCOLS, Settings


class LaunchError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    running: bool
    # SERVING, NOT_SERVING (starting or draining), or UNREACHABLE.
    health: str


class Launcher:
    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        services: Sequence[str] = COMPONENT_NAMES,
    ) -> None:
        self._settings = settings
        self._env = {**os.environ, **(env or {})}
        self._services = list(services)
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self.run_dir = Path(settings.data_dir) / "run"
        self.log_dir = Path(settings.data_dir) / "logs"

    def up(
        self,
        timeout: float = 90.0,
        on_ready: Callable[[str, float], None] = lambda name, seconds: None,
    ) -> None:
        """Start every service that is not running; return once all are SERVING."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        if self._settings.tls_cert_file and not self._settings.tls_ca_file:
            raise LaunchError(
                "the services would serve TLS (LICENTIA_TLS_CERT_FILE) but nothing says which "
                "CA to trust to reach them: set LICENTIA_TLS_CA_FILE (for a self-signed "
                "certificate, the certificate itself)"
            )
        for name in self._services:
            if self._pid(name) is not None:
                continue  # already up
            if _accepting(self._address(name)):
                # A health check there would answer for someone else's process while
                # ours fails to bind: refuse before starting anything.
                raise LaunchError(
                    f"{name}: {self._address(name)} is already in use by a process `licentia "
                    f"up` did not start; stop it, or set LICENTIA_{name.upper()}_PORT"
                )
        for name in self._services:
            if self._pid(name) is not None:
                continue  # already up
            with open(self.log_dir / f"{name}.log", "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "services.cli", "serve", name],
                    env=self._env,
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._processes[name] = process
            (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        waiting = set(self._services)
        while waiting:
            for name in sorted(waiting):
                # Our own child first: a process that exited is a failure, whatever answers.
                if self._pid(name) is None:
                    raise LaunchError(f"{name} exited while starting:\n{self.log_tail(name)}")
                if self._health(name) == "SERVING":
                    waiting.discard(name)
                    on_ready(name, time.monotonic() - started)
            if waiting and time.monotonic() - started > timeout:
                names = ", ".join(sorted(waiting))
                raise LaunchError(f"not serving after {timeout:.0f} s: {names}")
            time.sleep(0.1)

    def status(self) -> list[ServiceStatus]:
        out = []
        for name in self._services:
            pid = self._pid(name)
            health = self._health(name) if pid is not None else "UNREACHABLE"
            out.append(ServiceStatus(name, self._address(name), pid, pid is not None, health))
        return out

    def down(self, grace_seconds: float | None = None) -> dict[str, int | None]:
        """SIGTERM every service, wait for the drains, SIGKILL what is left. Returns each
        one's exit code when this process started it (else None)."""
        grace = self._settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        pids = {name: pid for name in self._services if (pid := self._pid(name)) is not None}
        for pid in pids.values():
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace + 5.0
        while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
            for child in self._processes.values():
                child.poll()  # reap our own children so they stop counting as alive
            time.sleep(0.05)
        for name, pid in pids.items():
            if _alive(pid):
                _signal(pid, signal.SIGKILL)
                print(f"{name} did not stop within {grace + 5:.0f} s: killed", file=sys.stderr)
        codes: dict[str, int | None] = {}
        for name in pids:
            own = self._processes.pop(name, None)
            codes[name] = own.wait(5) if own is not None else None
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        return codes

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _address(self, name: str) -> str:
        return self._settings.address_of(name)

    def _pid(self, name: str) -> int | None:
        """The service's pid while it runs (a stale pid file is removed)."""
        path = self.run_dir / f"{name}.pid"
        try:
            pid = int(path.read_text())
        except (OSError, ValueError):
            return None
        process = self._processes.get(name)
        if process is not None and process.poll() is not None:
            path.unlink(missing_ok=True)
            return None
        if not _alive(pid):
            path.unlink(missing_ok=True)
            return None
        return pid

    def _health(self, name: str) -> str:
        if PROTOCOLS.get(name) == "http":
            return http_health_of(self._address(name))
        return health_of(self._address(name), tls=tls_of(self._settings))


def http_health_of(address: str, timeout: float = 1.0) -> str:
    """SERVING when GET /healthz answers 200, as HTTP components report health."""
    try:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=timeout) as answer:
            return "SERVING" if answer.status == 200 else "NOT_SERVING"
    except (OSError, ValueError):
        return "UNREACHABLE"


def health_of(address: str, timeout: float = 1.0, tls: ClientTls | None = None) -> str:
    """SERVING, NOT_SERVING... as grpc.health.v1 answers, or UNREACHABLE."""
    with secure_or_plain(address, tls) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return "UNREACHABLE"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))


def _accepting(address: str) -> bool:
    """Whether something already listens at host:port."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it stopped on its own meanwhile
        os.kill(pid, sig)
