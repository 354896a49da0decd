"""The `licentia` command: its root, and how every command fails (a one-line reason and a
hint, the ErrorInfo reason for API errors, an exit code; never a traceback)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import grpc
import typer
from pydantic import ValidationError

from services.cli import parties, processes, profile
from services.cli.output import api_error_line
from services.runtime.config import Settings

app = typer.Typer(
    name="licentia",
    help="Licentia: run the marketplace's services and use them from a terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
processes.register(app)
parties.register(app)


def _print_version(asked: bool) -> None:
    if asked:
        print(f"licentia {version('licentia')}")
        raise typer.Exit()


@app.callback()
def root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    tls_ca: Annotated[
        Path | None, typer.Option(help="TLS: the CA certificate to trust (PEM)")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="mutual TLS: the client certificate to present (PEM)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="mutual TLS: its private key (PEM)")] = None,
) -> None:
    """Licentia: run the marketplace's services and use them from a terminal.

    Shell completion: `licentia --install-completion` (bash, zsh, fish, PowerShell)."""
    profile.set_tls_flags(tls_ca, tls_cert, tls_key)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        Settings()  # a bad LICENTIA_* variable is reported before anything starts
    except ValidationError as error:
        print(f"licentia: invalid configuration: {error}", file=sys.stderr)
        return 2
    try:
        # Standalone: typer prints usage errors itself and exits 2.
        app(args=list(argv) if argv is not None else None, prog_name="licentia")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except KeyboardInterrupt:
        return 130
    except grpc.RpcError as error:
        print(api_error_line(error), file=sys.stderr)
        return 1
    except Exception as error:  # one line for people; the traceback only in debug logs
        logging.getLogger("licentia").debug("command failed", exc_info=error)
        print(f"licentia: {error}", file=sys.stderr)
        return 1
    return 0
