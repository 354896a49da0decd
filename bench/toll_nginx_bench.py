"""The toll through real nginx: prints figures; never a pass/fail test.

catalog, licensing, metering and the edge as processes (SQLite, or PostgreSQL with
TEST_DATABASE_URL), and two nginx servers from deploy/nginx in front of a static origin
that nginx itself serves: one with the toll (every request an auth subrequest to the
edge) and the same proxy without it. A crawler with a license token reads the same
licensed page over and over through each, in the same run (re-reads: the token is
verified once and the crawl counted once; a first read adds one Ed25519 verification and
one spool write, see bench/toll_bench.py), from 8 keep-alive
connections of a small asyncio client (the load generator shares the two cores):
requests/s and p50/p99, and the toll's p99 as a multiple of the bare proxy's (target: at
most 2x). Two floors in the same run say what any toll costs here: nginx asking nginx
itself (the auth subrequest alone) and nginx asking a Python server that decides nothing
(bench/floor_auth.py: uvicorn as the edge runs it), beside the same load generator.
Then 10,000 crawls while metering is stopped: the spool
holds them, and once metering is back each is counted exactly once.
Skipped (said so) when nginx is not installed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.harness import running
from bench.license_server_bench import _market
from services.runtime.ports import free_port
from tools.toll_site import nginx_binary, start_nginx

CALLERS, SECONDS = 8, 6.0


def main() -> None:
    if not nginx_binary():
        print("toll through nginx: skipped, nginx is not installed (apt-get install nginx-light)")
        return
    with running(["catalog", "licensing", "metering", "edge"]) as ports:
        edge = f"http://127.0.0.1:{ports['edge']}"
        origin_port, toll_port, bare_port = free_port(), free_port(), free_port()
        sub_port, python_port, floor_port = free_port(), free_port(), free_port()
        with tempfile.TemporaryDirectory() as tmp:
            site = f"http://127.0.0.1:{toll_port}"
            url = f"{site}/news/1"
            vendor, _, _ = _market(ports["catalog"], ports["licensing"], edge, url)
            token = requests.post(
                f"{edge}/token",
                data={"grant_type": "client_credentials", "resource": url, "scope": "search"},
                auth=vendor,
                timeout=30,
            ).json()["access_token"]
            args = (f"127.0.0.1:{ports['edge']}", f"127.0.0.1:{origin_port}", "publishers/p")
            toll = start_nginx(Path(tmp) / "toll", toll_port, *args, static_origin_port=origin_port)
            bare = start_nginx(Path(tmp) / "bare", bare_port, *args, toll=False)
            floor = subprocess.Popen([sys.executable, "-m", "bench.floor_auth", str(floor_port)])
            _wait_up(floor_port)
            origin = f"127.0.0.1:{origin_port}"
            nginx_auth = start_nginx(
                Path(tmp) / "sub", sub_port, origin, origin, "publishers/p"
            )  # the auth subrequest answered by nginx's static origin: 200, no decision
            python_auth = start_nginx(
                Path(tmp) / "python", python_port, f"127.0.0.1:{floor_port}", origin,
                "publishers/p",
            )  # fmt: skip
            try:
                headers = {"Authorization": f"License {token}", "User-Agent": "GPTBot/1.0"}
                _wait_licensed(url, headers)
                bare_p99 = closed_loop(
                    "bare nginx, no toll", f"http://127.0.0.1:{bare_port}/news/1", headers
                )
                toll_p99 = closed_loop("nginx with the toll, licensed crawl", url, headers)
                sub_p99 = closed_loop(
                    "floor: nginx asking nginx (auth subrequest, no decision)",
                    f"http://127.0.0.1:{sub_port}/news/1", headers,
                )  # fmt: skip
                python_p99 = closed_loop(
                    "floor: nginx asking a Python server that decides nothing",
                    f"http://127.0.0.1:{python_port}/news/1", headers,
                )  # fmt: skip
                print(
                    f"the toll's p99 is {toll_p99 / bare_p99:.2f}x the bare proxy's (target <= 2x);"
                    f" floors: the subrequest alone {sub_p99 / bare_p99:.2f}x, a Python answerer "
                    f"that decides nothing {python_p99 / bare_p99:.2f}x; the toll is "
                    f"{toll_p99 / python_p99:.2f}x the Python floor"
                )
            finally:
                for process in (toll, bare, nginx_auth, python_auth):
                    process.send_signal(signal.SIGQUIT)
                    process.wait(10)
                floor.terminate()
                floor.wait(10)
    spool_outage()


def _wait_up(port: int) -> None:
    for _ in range(200):
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("the floor server did not start")


def _wait_licensed(url: str, headers: dict[str, str]) -> None:
    for _ in range(200):
        if requests.get(url, headers=headers, timeout=5).status_code == 200:
            return
        time.sleep(0.1)
    raise SystemExit("the edge never saw the work (feed)")


def closed_loop(label: str, url: str, headers: dict[str, str]) -> float:
    latencies = asyncio.run(_load(url, headers))
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"{label}: {len(latencies) / SECONDS:,.0f} requests/s, p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms ({CALLERS} keep-alive connections)"
    )
    return p99


async def _load(url: str, headers: dict[str, str]) -> list[float]:
    parts = urlsplit(url)
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    stop = time.perf_counter() + SECONDS
    latencies: list[float] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while time.perf_counter() < stop:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:40]
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(CALLERS)))
    return latencies


def spool_outage(crawls: int = 10_000) -> None:
    """10,000 allowed crawls spooled while metering is down, counted once when it is back."""
    code = subprocess.run(
        [sys.executable, "-m", "bench.spool_outage", str(crawls)],
        env={**os.environ}, check=False,
    ).returncode  # fmt: skip
    if code:
        print(f"spool outage bench failed ({code})")


if __name__ == "__main__":
    main()
