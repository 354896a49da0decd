"""`licentia`: run and administer Licentia services.

licentia serve catalog        run one service until SIGTERM/SIGINT
licentia migrate [service]    apply database migrations (all services by default)
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.logs import configure_logging
from services.runtime.server import create_server, serve
from services.runtime.telemetry import build_tracer_provider

# Services whose implementation has landed; the others join as they are built.
AVAILABLE = ("catalog", "licensing", "provenance", "metering", "settlement")


def _service_module(name: str) -> ModuleType:
    return importlib.import_module(f"services.{name}.app")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(args.service, settings.log_level)
    provider = build_tracer_provider(settings, args.service)
    app = _service_module(args.service).build_app(settings, provider)
    serve(create_server(settings, app, provider, port=args.port))
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("migrate", settings.log_level)
    for name in [args.service] if args.service else AVAILABLE:
        module = _service_module(name)
        database = module.open_database(settings)
        try:
            migrations.upgrade(database, module.MIGRATIONS)
            print(
                f"{name}: schema is current ({database.url.render_as_string(hide_password=True)})"
            )
        finally:
            database.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="licentia", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run one service")
    serve_cmd.add_argument("service", choices=AVAILABLE)
    serve_cmd.add_argument("--port", type=int, default=None, help="override the configured port")
    serve_cmd.set_defaults(run=cmd_serve)
    migrate_cmd = commands.add_parser("migrate", help="apply database migrations")
    migrate_cmd.add_argument("service", nargs="?", choices=AVAILABLE)
    migrate_cmd.set_defaults(run=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as error:
        print(f"licentia: invalid configuration: {error}", file=sys.stderr)
        return 2
    try:
        return int(args.run(args, settings))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a clear one-line reason, the traceback in the logs
        logging.getLogger("licentia").exception("%s failed", args.command)
        print(f"licentia {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
