"""Requests that fail to decode (e.g. a string field holding invalid UTF-8) reach the
servicer as an `Undecodable` value instead of failing inside gRPC with INTERNAL, so the
caller gets INVALID_ARGUMENT with a reason like any other bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from services.runtime.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Undecodable:
    error: str


def reject_undecodable(request: object) -> None:
    if isinstance(request, Undecodable):
        raise InvalidArgument(
            "UNDECODABLE_REQUEST",
            "the request could not be decoded; text fields must be valid UTF-8",
            [FieldViolation("request", request.error)],
        )


def _lenient(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError as error:
            return Undecodable(str(error))

    return decode


class _Capture:
    """Stands in for the server while generated code registers its handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.service = ""

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.service = service
        self.handlers = handlers


def add_leniently(
    add_to_server: Callable[[Any, Any], None], servicer: object, server: grpc.Server
) -> None:
    """Like the generated `add_XServicer_to_server`, with lenient request decoding."""
    capture = _Capture()
    add_to_server(servicer, capture)
    handlers = {
        method: handler._replace(request_deserializer=_lenient(handler.request_deserializer))
        for method, handler in capture.handlers.items()
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(capture.service, handlers),)
    )
    server.add_registered_method_handlers(capture.service, handlers)
