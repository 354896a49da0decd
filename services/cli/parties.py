"""Commands for the marketplace's parties, each group in its own module."""

from __future__ import annotations

import typer

from services.cli import operator, publisher, settlement, vendor


def register(app: typer.Typer) -> None:
    app.add_typer(operator.app, name="operator")
    app.add_typer(publisher.app, name="publisher")
    app.add_typer(vendor.app, name="vendor")
    app.add_typer(settlement.app, name="settlement")
