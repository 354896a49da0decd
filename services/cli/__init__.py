"""`licentia`: run the services and use the marketplace from a terminal."""

from services.cli.main import main

__all__ = ["main"]
