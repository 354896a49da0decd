"""What commands print: rich tables for people, JSON for scripts, and API errors as one
line with their reason and a hint."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table

from services.runtime import money_text

console = Console()
errors = Console(stderr=True)

_HINTS = {
    "UNAUTHENTICATED": "check the API key (LICENTIA_API_KEY or the profile's api_key)",
    "PERMISSION_DENIED": "this key's account may not do that",
    "UNAVAILABLE": "is the service running? try `licentia status`",
    "DEADLINE_EXCEEDED": "the service is slow or stuck; try again",
    "INVALID_ARGUMENT": "fix the fields named above",
    "NOT_FOUND": "check the resource name",
}


def api_error_line(error: grpc.RpcError) -> str:
    code = error.code().name if error.code() else "UNKNOWN"
    reason, fields = "", []
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason = info.reason
        elif detail.Unpack(bad):
            fields += [f"{v.field}: {v.description}" for v in bad.field_violations]
    message = error.details() or ""
    line = f"licentia: {code}{f' {reason}' if reason else ''}: {message}"
    if fields:
        line += "\n  " + "\n  ".join(fields)
    hint = _HINTS.get(code)
    return f"{line}\n  hint: {hint}" if hint else line


def enum_name(enum: Any, value: int) -> str:
    """`STATE_PUBLISHED` -> `PUBLISHED`: an enum value without its type's prefix."""
    name = str(enum.Name(value))
    prefix = name.split("_")[0] + "_"
    for candidate in ("LICENSE_STATUS_", "MATCH_TYPE_"):
        if name.startswith(candidate):
            prefix = candidate
    return name.removeprefix(prefix) or "-"


def as_dict(message: Message) -> dict[str, Any]:
    """The message as JSON, money as decimal strings with their currency: a field in
    minor units (`total`, `gross`...) becomes `"7.00"`, a `*_micros` price its decimal
    under the name without the suffix (`amount_micros` -> `amount: "0.004"`), beside
    the `currency` of the message (or of the one that holds it)."""
    data = MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=False
    )
    return _money_as_text(data, "")


# Fields in minor units wherever a `currency` is in scope.
_MINOR_FIELDS = frozenset(
    ("total", "gross", "commission", "net", "amount", "balance", "budget_amount",
     "total_debits", "total_credits", "pool")
)  # fmt: skip


def _money_as_text(value: Any, currency: str) -> Any:
    if isinstance(value, list):
        return [_money_as_text(v, currency) for v in value]
    if not isinstance(value, dict):
        return value
    currency = value.get("currency", currency)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key.endswith("_micros") and isinstance(item, str | int):
            out[key.removesuffix("_micros")] = money_text.micros_text(int(item))
        elif key in _MINOR_FIELDS and currency and isinstance(item, str | int):
            out[key] = money_text.minor_text(int(item), currency)
        else:
            out[key] = _money_as_text(item, currency)
    return out


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def say(answer: Message | dict[str, Any], as_json: bool, text: str) -> None:
    """An action's answer: the API's message as JSON with --json, else a line of text."""
    if as_json:
        emit_json(answer if isinstance(answer, dict) else as_dict(answer))
    else:
        console.print(text)


def listing(
    found: Sequence[Message],
    as_json: bool,
    title: str,
    columns: Sequence[str],
    row: Callable[[Any], Sequence[Any]],
) -> None:
    """What a List call returned: JSON with --json, else a table of one row per item."""
    if as_json:
        emit_json([as_dict(item) for item in found])
    else:
        table(title, columns, [row(item) for item in found])


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    view = Table(title=title, title_justify="left")
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*(str(cell) for cell in row))
    console.print(view)


def money(amount: int, currency: str) -> str:
    """A billed amount (minor units): `7.00 USD`."""
    return money_text.money(amount, currency)


def price_text(amount_micros: int, currency: str) -> str:
    """A price (micro-units): `0.004 USD`."""
    return money_text.price(amount_micros, currency)
