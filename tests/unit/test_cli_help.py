"""The `licentia` command explains itself: help on every command, option and argument,
a version, and shell completion."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import typer
from typer.testing import CliRunner

from services.cli.main import app, main


def commands() -> list[tuple[str, Any]]:
    """Every command under `licentia` (typer's own click types: duck-typed)."""
    found: list[tuple[str, Any]] = []

    def walk(command: Any, path: str) -> None:
        found.append((path, command))
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "licentia")
    return found


def test_every_command_option_and_argument_has_help() -> None:
    missing = []
    for path, command in commands():
        if not (command.help or command.short_help):
            missing.append(path)
        for param in command.params:
            if param.name == "help":
                continue
            if not getattr(param, "help", None):
                missing.append(f"{path} {param.name}")
    assert len(commands()) > 30
    assert missing == []


def test_version_and_completion(capsys: object) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"licentia {version('licentia')}"  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--version" in result.output


# Commands whose output is a document or a process, not an API answer.
NOT_JSON = {
    "serve", "migrate", "up", "down", "health",  # processes; `status` has --json
    "rsl", "token", "export-payouts", "signing-keys",  # RSL XML, a JWS, CSV, JWKS JSON
    "work",  # JSON already
}  # fmt: skip


def test_every_command_answering_from_the_api_takes_json() -> None:
    missing = [
        path
        for path, command in commands()
        if not hasattr(command, "commands")
        and path.split()[-1] not in NOT_JSON
        and not any(p.name == "as_json" for p in command.params)
    ]
    assert missing == []
