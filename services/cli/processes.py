"""Running the services: one in the foreground (`serve`), all in the background (`up`,
`status`, `down`), and their migrations."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Annotated

import typer

from services.cli.output import console, emit_json, table
from services.cli.profile import client_tls
from services.launcher import Launcher, health_of, http_health_of
from services.runtime import migrations
from services.runtime.config import COMPONENT_NAMES, PROTOCOLS, SERVICE_NAMES, Settings
from services.runtime.logs import configure_logging
from services.runtime.server import create_server, serve
from services.runtime.telemetry import build_tracer_provider

Service = Annotated[str, typer.Argument(help=f"one of: {', '.join(COMPONENT_NAMES)}")]


def register(app: typer.Typer) -> None:
    app.command("serve", help="Run one service in the foreground until SIGTERM or Ctrl-C.")(
        serve_command
    )
    app.command("migrate", help="Apply database migrations (every service by default).")(
        migrate_command
    )
    app.command("up", help="Start every service in the background and wait until they serve.")(
        up_command
    )
    app.command("status", help="Each service's process and health.")(status_command)
    app.command("down", help="Stop the services started by `up`, draining their calls.")(
        down_command
    )
    app.command("health", help="Ask grpc.health.v1 at each address; exit 1 unless all serve.")(
        health_command
    )


def _service_module(name: str, names: tuple[str, ...] = COMPONENT_NAMES) -> ModuleType:
    if name not in names:
        raise typer.BadParameter(f"unknown service {name!r}; one of {', '.join(names)}")
    return importlib.import_module(f"services.{name}.app")


def serve_command(
    service: Service,
    port: Annotated[int | None, typer.Option(help="override the configured port")] = None,
) -> None:
    module = _service_module(service)
    settings = Settings()
    configure_logging(service, settings.log_level)
    provider = build_tracer_provider(settings, service)
    if PROTOCOLS[service] == "http":
        module.serve(settings, provider, port)
        return
    app = module.build_app(settings, provider)
    serve(create_server(settings, app, provider, port=port))


def migrate_command(
    service: Annotated[
        str | None, typer.Argument(help=f"one of {', '.join(SERVICE_NAMES)}; default: all")
    ] = None,
) -> None:
    settings = Settings()
    configure_logging("migrate", settings.log_level)
    for name in [service] if service else SERVICE_NAMES:
        module = _service_module(name, SERVICE_NAMES)
        database = module.open_database(settings)
        try:
            migrations.upgrade(database, module.MIGRATIONS)
            where = database.url.render_as_string(hide_password=True)
            console.print(f"{name}: schema is current ({where})")
        finally:
            database.dispose()


def up_command(
    timeout: Annotated[float, typer.Option(help="seconds to wait for every service")] = 90.0,
) -> None:
    settings = Settings()
    launcher = Launcher(settings)
    launcher.up(
        timeout,
        on_ready=lambda name, seconds: console.print(
            f"{name:<11} serving on {settings.address_of(name)}  ({seconds:.1f} s)"
        ),
    )
    console.print(f"logs in {launcher.log_dir}; stop with `licentia down`")


def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    statuses = Launcher(Settings()).status()
    if as_json:
        emit_json([s.__dict__ for s in statuses])
    else:
        table(
            "Licentia services",
            ["service", "address", "pid", "health"],
            [(s.name, s.address, s.pid or "-", s.health) for s in statuses],
        )
    if not all(s.health == "SERVING" for s in statuses):
        raise typer.Exit(3)


def down_command() -> None:
    codes = Launcher(Settings()).down()
    if not codes:
        console.print("nothing was running")
    for name in codes:
        console.print(f"{name:<11} stopped")


def health_command(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(
            help="host:port of each gRPC service, http://host:port of an HTTP one "
            "(default: every configured service)"
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each")] = 5.0,
) -> None:
    """For probes and `helm test`: every address must answer SERVING. gRPC addresses are
    asked over TLS when a CA is given (--tls-ca before the command, or
    LICENTIA_TLS_CA_FILE)."""
    settings = Settings()
    if not addresses:
        addresses = [
            f"http://{settings.address_of(n)}" if PROTOCOLS[n] == "http" else settings.address_of(n)
            for n in COMPONENT_NAMES
        ]
    tls = client_tls()
    failing = 0
    for address in addresses:
        if address.startswith("http://"):
            answer = http_health_of(address.removeprefix("http://"), timeout)
        else:
            answer = health_of(address, timeout, tls)
        console.print(f"{address:<40} {answer}")
        failing += answer != "SERVING"
    if failing:
        raise typer.Exit(1)
