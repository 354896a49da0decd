"""`make demo`: start the five services as processes on SQLite in a throwaway directory,
play the marketplace's story, print it, stop everything. Exit 0, or 1 with the reason.

`make demo KEEP=1` (`--keep`) leaves the marketplace running after the story, with the
web console's address and each party's sign-in printed, until Ctrl-C."""

from __future__ import annotations

import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from services.cli.output import api_error_line, console
from services.client import Endpoints, Licentia
from services.launcher import Launcher, LaunchError
from services.runtime.config import COMPONENT_NAMES, Settings
from services.runtime.ports import free_port
from tools.demo import market as story
from tools.demo.crawl import crawl_at_the_edge
from tools.demo.settle import Settled, close_period, running_charges
from tools.demo.traces import trace_tree
from tools.demo.usage import report_usage, use_content, wait_until_indexed
from tools.trace_receiver import TraceReceiver

ARTICLES_PER_PUBLISHER = 100


def demo_env(data_dir: str, ports: dict[str, int], operator_key: str, otlp: str) -> dict[str, str]:
    """The environment of the demo's processes: SQLite in `data_dir`, one port each."""
    return {
        "LICENTIA_DATA_DIR": data_dir,
        "LICENTIA_OPERATOR_API_KEY": operator_key,
        "LICENTIA_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "LICENTIA_LOG_LEVEL": "WARNING",
        "LICENTIA_OTLP_ENDPOINT": otlp,
        "LICENTIA_TRACE_SAMPLE_RATIO": "1.0",
        "LICENTIA_PROVENANCE_POLL_SECONDS": "0.1",
        "LICENTIA_LICENSE_REFRESH_SECONDS": "0.3",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export spans within a fraction of a second
        **{f"LICENTIA_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }


@contextmanager
def demo_marketplace() -> Iterator[tuple[Settings, Launcher, TraceReceiver, str, str]]:
    """Every component as a process on SQLite in a throwaway directory; yields the
    settings, the launcher, the trace receiver, its OTLP endpoint and the operator's key,
    and stops everything after."""
    receiver = TraceReceiver()
    endpoint = receiver.start()
    operator_key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="licentia-demo-") as data_dir:
        ports = {name: free_port() for name in COMPONENT_NAMES}
        env = demo_env(data_dir, ports, operator_key, endpoint)
        env.pop("LICENTIA_DATABASE_URL", None)
        settings = Settings.model_validate(
            {"data_dir": data_dir, **{f"{name}_port": port for name, port in ports.items()}}
        )
        launcher = Launcher(settings, env)
        try:
            yield settings, launcher, receiver, endpoint, operator_key
        finally:
            exits = launcher.down()
            receiver.stop()
            clean = all(c == 0 for c in exits.values())
            console.print(
                f"stopped {len(exits)} services ({'all exited cleanly' if clean else exits})"
            )
            if not clean:
                raise SystemExit(1)


def main(keep: bool = False) -> int:
    with demo_marketplace() as (settings, launcher, receiver, endpoint, operator_key):
        try:
            launcher.up(on_ready=lambda name, s: console.print(f"   {name} serving ({s:.1f} s)"))
            started = time.monotonic()
            facts = play(
                Endpoints.from_settings(settings), operator_key, receiver, endpoint,
                settings.public_url_of_edge(),
            )  # fmt: skip
            console.print(f"\nthe story took {time.monotonic() - started:.1f} s")
            console_url = f"http://{settings.address_of('console')}/"
            console.print(
                f"[bold]8.[/] the web console, on the same marketplace: {console_url}",
                soft_wrap=True,
            )
            if keep:
                show_sign_ins(console_url, [("operator", operator_key), *facts.sign_ins])
                wait_for_interrupt()
            else:
                console.print("   (`make demo KEEP=1` keeps the marketplace running to look at)")
            return 0
        except grpc.RpcError as error:
            console.print(f"[red]demo failed[/]: {api_error_line(error)}")
        except (LaunchError, RuntimeError) as error:
            console.print(f"[red]demo failed[/]: {error}")
            for name in COMPONENT_NAMES:  # what the services said, to see why
                tail = launcher.log_tail(name, 8)
                if "WARNING" in tail or "ERROR" in tail:
                    console.print(f"[dim]{name}.log:[/]\n{tail}", markup=True, highlight=False)
    return 1


@dataclass(frozen=True)
class Facts:
    """What the story established, for the end-to-end test to check."""

    trace_id: str
    retried_duplicates: int
    settled: Settled
    crawls: int
    # (account, API key) of each party, to sign in to the console with.
    sign_ins: list[tuple[str, str]]


def show_sign_ins(url: str, sign_ins: list[tuple[str, str]]) -> None:
    console.print(f"   open {url} and sign in as any of these (account, then API key):")
    for account, key in sign_ins:
        console.print(f"     {account:<34} {key}", highlight=False, soft_wrap=True)
    console.print("   the marketplace keeps running until Ctrl-C")


def wait_for_interrupt() -> None:
    stop = {"now": False}

    def stopping(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGTERM, stopping)
    while not stop["now"]:
        time.sleep(0.2)


def play(
    endpoints: Endpoints,
    operator_key: str,
    receiver: TraceReceiver,
    otlp_endpoint: str,
    edge_url: str,
    articles: int = ARTICLES_PER_PUBLISHER,
) -> Facts:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = hour - timedelta(hours=2), hour
    with Licentia(operator_key, endpoints) as operator:
        market = story.open_accounts(operator, endpoints, console)
        story.import_catalogues(market, articles, console)
        offers = story.publish_offers(market, start, console)
        story.license_offers(market, offers, console)
        wait_until_indexed(market, articles * len(story.PUBLISHERS), console)
        tracing = TracerProvider(resource=Resource.create({"service.name": "vendor-a-app"}))
        tracing.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
        vendor_a = market.vendors["answer-engine"]
        vendor_a.client.close()  # vendor A's calls are traced from here on
        vendor_a.client = Licentia(vendor_a.key, endpoints, tracer_provider=tracing)
        trace_id = use_content(market, tracing.get_tracer("demo"), console)
        duplicates = report_usage(market, end, console)
        settled = close_period(market, start, end, console)
        running_charges(market, console)
        crawls = crawl_at_the_edge(market, edge_url, console)
        wanted = {"vendor-a-app", "licentia-provenance", "licentia-licensing", "licentia-metering"}
        receiver.wait_for(trace_id, wanted)
        console.print("[bold]7.[/] one vendor request, traced across the services it crossed:")
        console.print(trace_tree(f"trace {trace_id}", receiver.tree(trace_id)))
        tracing.shutdown()
        parties = [*market.publishers.values(), *market.vendors.values()]
        for party in parties:
            party.client.close()
    return Facts(trace_id, duplicates, settled, crawls, [(p.name, p.key) for p in parties])


if __name__ == "__main__":
    sys.exit(main(keep="--keep" in sys.argv[1:]))
