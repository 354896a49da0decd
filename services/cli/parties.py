"""Commands for the marketplace's parties (operator, publishers, vendors, settlement)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the party command modules."""
