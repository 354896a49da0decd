"""Requests Licentia cannot take are refused as bad input, never as INTERNAL.

Values over the runtime's limits (request_limits.py: text lengths, item counts, enum
numbers, times) are refused here too, with the field named, before any handler runs.

A string field holding invalid UTF-8 fails to decode; one holding a NUL character
decodes, but PostgreSQL's text type cannot store it (SQLite can: the two stores would
keep different data). Either way the request reaches the handler as an `Undecodable`
value instead of failing inside gRPC or the database, and the caller gets
INVALID_ARGUMENT with a reason (`UNDECODABLE_REQUEST`, `NUL_IN_TEXT`) and the field, like
any other bad input. Methods that judge each item on their own (usage events in a batch,
texts in a stream) are named in `judged_per_item`: their requests reach the servicer as
they are, and it refuses what it must (`reject_undecodable`, `refuse_unstorable`) so
that one bad item does not fail the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.request_limits import first_violation

NUL = "\x00"


@dataclass(frozen=True)
class Undecodable:
    error: str
    reason: str = "UNDECODABLE_REQUEST"
    field: str = "request"
    message: str = "the request could not be decoded; text fields must be valid UTF-8"


def reject_undecodable(request: object) -> None:
    if isinstance(request, Undecodable):
        raise InvalidArgument(
            request.reason, request.message, [FieldViolation(request.field, request.error)]
        )


def refuse_unstorable(request: object) -> None:
    """Raises for a request that could not be decoded or holds a NUL character."""
    reject_undecodable(request)
    assert isinstance(request, Message)
    if path := nul_field(request):
        reject_undecodable(_nul_in(path))


def _nul_in(path: str) -> Undecodable:
    return Undecodable(
        "text cannot hold NUL characters",
        reason="NUL_IN_TEXT",
        field=path,
        message=f"{path}: text fields cannot hold NUL characters",
    )


def nul_field(message: Message, prefix: str = "") -> str:
    """The path of the first text field holding a NUL character ('' when none)."""
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.type == FieldDescriptor.TYPE_STRING:
            if not field.is_repeated:
                if NUL in value:
                    return path
                continue
            for i, text in enumerate(value):
                if NUL in text:
                    return f"{path}[{i}]"
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if _is_map(field):
                for key, item in value.items():
                    here = f"{path}[{key!r}]"
                    if (isinstance(key, str) and NUL in key) or (
                        isinstance(item, str) and NUL in item
                    ):
                        return here
                    if isinstance(item, Message) and (inner := nul_field(item, here + ".")):
                        return inner
                continue
            items = value if field.is_repeated else [value]
            for i, item in enumerate(items):
                inner = nul_field(item, f"{path}[{i}]." if field.is_repeated else path + ".")
                if inner:
                    return inner
    return ""


def _is_map(field: FieldDescriptor) -> bool:
    entry = field.message_type
    return entry is not None and bool(entry.GetOptions().map_entry)


def _lenient(deserialize: Callable[[bytes], Any], check: bool) -> Callable[[bytes], Any]:
    """`check`: also refuse NUL characters and values over the runtime's limits
    (request_limits.py) here, for the methods that do not judge items alone."""

    def decode(data: bytes) -> Any:
        try:
            message = deserialize(data)
        except DecodeError as error:
            return Undecodable(str(error))
        if not check:
            return message
        # A NUL character is a zero byte in the encoded text: requests without one (most,
        # and the large ones: imports of whole articles) skip the walk over their fields.
        if b"\x00" in data and (path := nul_field(message)):
            return _nul_in(path)
        if violation := first_violation(message):
            return Undecodable(
                violation.description,
                reason=violation.reason,
                field=violation.field,
                message=f"{violation.field}: {violation.description}",
            )
        return message

    return decode


def _refusing(handler: Any) -> Any:
    """The handler, refusing an Undecodable request before the servicer sees it."""
    if not handler.request_streaming:
        inner = handler.unary_unary or handler.unary_stream

        def unary_request(request: Any, context: grpc.ServicerContext) -> Any:
            reject_undecodable(request)
            return inner(request, context)

        behaviour: Callable[..., Any] = unary_request
    else:
        inner = handler.stream_unary or handler.stream_stream

        def checked(requests: Iterator[Any]) -> Iterator[Any]:
            for request in requests:
                reject_undecodable(request)
                yield request

        def streamed_requests(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            return inner(checked(requests), context)

        behaviour = streamed_requests
    kind = {
        (False, False): "unary_unary",
        (False, True): "unary_stream",
        (True, False): "stream_unary",
        (True, True): "stream_stream",
    }[(handler.request_streaming, handler.response_streaming)]
    return handler._replace(**{kind: behaviour})


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
    add_to_server: Callable[[Any, Any], None],
    servicer: object,
    server: grpc.Server,
    judged_per_item: Collection[str] = (),
) -> None:
    """Like the generated `add_XServicer_to_server`, with lenient request decoding.
    `judged_per_item`: names of the methods whose servicer refuses bad requests itself."""
    capture = _Capture()
    add_to_server(servicer, capture)
    handlers = {}
    for method, handler in capture.handlers.items():
        per_item = method in judged_per_item
        lenient = handler._replace(
            request_deserializer=_lenient(handler.request_deserializer, not per_item)
        )
        handlers[method] = lenient if per_item else _refusing(lenient)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(capture.service, handlers),)
    )
    server.add_registered_method_handlers(capture.service, handlers)
