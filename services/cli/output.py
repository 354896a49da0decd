"""What commands print: rich tables for people, JSON for scripts, and API errors as one
line with their reason and a hint."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table

from services.settlement.domain.money import decimal_text

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
    return MessageToDict(message, preserving_proto_field_name=True)


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    view = Table(title=title, title_justify="left")
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*(str(cell) for cell in row))
    console.print(view)


def money(amount: int, currency: str) -> str:
    return f"{decimal_text(amount, currency)} {currency}"
