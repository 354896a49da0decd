"""The client library (`licentia_client`, distributed as `licentia-client`), as the CLI
and the tools import it."""

from licentia_client import (
    ClientTls,
    Endpoints,
    Licentia,
    UsageBatcher,
    money_text,
    new_request_id,
    price_text,
)

__all__ = [
    "ClientTls",
    "Endpoints",
    "Licentia",
    "UsageBatcher",
    "money_text",
    "new_request_id",
    "price_text",
]
