"""The JSON face: every public RPC of the five services over the Connect protocol
(connect-python), from the services' own descriptors, forwarded over gRPC with the
caller's own credential.

Nothing here is per method: the routes, request and response types come from the protos
at start, so the JSON face cannot drift from the contract. The service behind answers
exactly as it answers a gRPC caller — authentication (the API key as bearer), access
rules, rate limits, validation — and its error (code, message, ErrorInfo and the other
details) is handed back as Connect's JSON error. Unary methods take a JSON body;
streaming methods take Connect's enveloped messages (`application/connect+json`): the
request messages are handed on to the service as they arrive and its answers sent back
as they come (over HTTP/1.1 a client sends its messages, then reads the answers).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import grpc
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.method import IdempotencyLevel, MethodInfo
from connectrpc.request import RequestContext
from connectrpc.server import ConnectASGIApplication, Endpoint
from google.protobuf import descriptor, json_format, message_factory
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2
from licentia.catalog.v1 import catalog_service_pb2
from licentia.licensing.v1 import licensing_service_pb2
from licentia.metering.v1 import metering_service_pb2
from licentia.provenance.v1 import provenance_service_pb2
from licentia.settlement.v1 import settlement_service_pb2

log = logging.getLogger("licentia.console")
DOMAIN = "console.licentia.dev"
# The services' public contracts, by the component that serves each.
CONTRACTS: Mapping[str, ModuleType] = {
    "catalog": catalog_service_pb2,
    "licensing": licensing_service_pb2,
    "provenance": provenance_service_pb2,
    "metering": metering_service_pb2,
    "settlement": settlement_service_pb2,
}
# Request metadata handed on to the service: the credential and the request's identity.
FORWARDED = ("authorization", "x-request-id", "traceparent", "tracestate")
DEFAULT_DEADLINE_SECONDS = 30.0
# A stream (a bulk import, an export) may run long: its bound, unless the caller sets one.
STREAM_DEADLINE_SECONDS = 3600.0
MAX_REQUEST_BYTES = 8 * 1024 * 1024

Channels = Callable[[str], grpc.aio.Channel]


def methods() -> Iterator[tuple[str, descriptor.MethodDescriptor]]:
    """(component, method) for every RPC of every public service."""
    for component, module in CONTRACTS.items():
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield component, method


def service_paths() -> list[str]:
    """`/licentia.catalog.v1.CatalogService` and the other services' path prefixes."""
    return sorted(
        {f"/{m.containing_service.full_name}" for _, m in methods()}  # one per service
    )


class ConnectFace(ConnectASGIApplication[Channels]):
    """One Connect application for every service; mounted under each service's path."""

    def __init__(self, channels: Channels) -> None:
        super().__init__(service=channels, endpoints=_endpoints, read_max_bytes=MAX_REQUEST_BYTES)

    @property
    def path(self) -> str:
        return "/licentia."

    async def _handle_error(
        self, exc: Exception, ctx: RequestContext[Any, Any] | None, send: Any
    ) -> None:
        # connect-python answers a body it cannot decode with UNKNOWN and the parser's
        # text; that is the caller's bad input, as the gRPC services say it.
        if isinstance(exc, json_format.ParseError | DecodeError | UnicodeError | ValueError):
            exc = _bad_body(str(exc))
        elif not isinstance(exc, ConnectError) and type(exc).__name__ != "HTTPException":
            if isinstance(exc, RuntimeError) and "trailers" in str(exc):
                exc = ConnectError(
                    Code.UNIMPLEMENTED,
                    "gRPC over this HTTP/1.1 endpoint is not served: speak gRPC to the "
                    "services' own ports, or Connect (JSON) here",
                )
            else:
                log.exception("unexpected error in the JSON face")
                exc = ConnectError(Code.INTERNAL, "internal error")
        await super()._handle_error(exc, ctx, send)


def _bad_body(problem: str) -> ConnectError:
    message = f"the request body is not this method's JSON: {problem}"[:400]
    return ConnectError(
        Code.INVALID_ARGUMENT,
        message,
        details=[
            error_details_pb2.ErrorInfo(reason="MALFORMED_REQUEST", domain=DOMAIN),
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="body", description=message)
                ]
            ),
        ],
    )


def _endpoints(channels: Channels) -> dict[str, Any]:
    endpoints: dict[str, Any] = {}
    for component, method in methods():
        path = f"/{method.containing_service.full_name}/{method.name}"
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        info = MethodInfo(
            name=method.name,
            service_name=method.containing_service.full_name,
            input=request_type,
            output=response_type,
            # Every call is a POST: a GET could be triggered cross-site by a link.
            idempotency_level=IdempotencyLevel.UNKNOWN,
        )
        grpc_path = f"/{method.containing_service.full_name}/{method.name}"
        if method.client_streaming or method.server_streaming:
            # Served as a stream both ways whatever its kind: the request messages then
            # reach this code undecoded, so a malformed one is refused as bad input.
            endpoints[path] = Endpoint.bidi_stream(
                info,
                _stream(channels, component, grpc_path, response_type, method.client_streaming),
            )
        else:
            endpoints[path] = Endpoint.unary(
                info, _unary(channels, component, grpc_path, response_type)
            )
    return endpoints


def _metadata(ctx: RequestContext[Any, Any]) -> list[tuple[str, str]]:
    headers = ctx.request_headers()
    return [(name, value) for name in FORWARDED if (value := headers.get(name))]


def _deadline(ctx: RequestContext[Any, Any], default: float = DEFAULT_DEADLINE_SECONDS) -> float:
    """The caller's Connect-Timeout-Ms, else `default`."""
    timeout_ms = ctx.timeout_ms()
    return default if timeout_ms is None else max(0.001, timeout_ms / 1000)


def _unary(
    channels: Channels, component: str, path: str, response_type: type[Message]
) -> Callable[[Message, RequestContext[Any, Any]], Awaitable[Message]]:
    async def call(request: Message, ctx: RequestContext[Any, Any]) -> Message:
        stub = channels(component).unary_unary(
            path,
            request_serializer=_serialize,
            response_deserializer=response_type.FromString,
        )
        try:
            response: Message = await stub(request, metadata=_metadata(ctx), timeout=_deadline(ctx))
        except grpc.aio.AioRpcError as error:
            raise as_connect_error(error) from None
        return response

    return call


def _stream(
    channels: Channels,
    component: str,
    path: str,
    response_type: type[Message],
    many_requests: bool,
) -> Callable[[AsyncIterator[Message], RequestContext[Any, Any]], AsyncIterator[Message]]:
    async def call(
        requests: AsyncIterator[Message], ctx: RequestContext[Any, Any]
    ) -> AsyncIterator[Message]:
        refused: list[ConnectError] = []

        async def decoded() -> AsyncIterator[Message]:
            """The caller's messages; one that does not decode ends the stream here,
            and the call ends with INVALID_ARGUMENT once the service has answered the
            messages before it."""
            try:
                async for request in requests:
                    yield request
            except ConnectError as error:
                refused.append(error)
            except (json_format.ParseError, DecodeError, UnicodeError, ValueError) as error:
                refused.append(_bad_body(str(error)))

        if many_requests:
            stream = channels(component).stream_stream(
                path,
                request_serializer=_serialize,
                response_deserializer=response_type.FromString,
            )(decoded(), metadata=_metadata(ctx), timeout=_deadline(ctx, STREAM_DEADLINE_SECONDS))
        else:
            received = [request async for request in decoded()]
            if refused:
                raise refused[0]
            if len(received) != 1:
                raise ConnectError(
                    Code.INVALID_ARGUMENT,
                    f"this method takes exactly one request message, got {len(received)}",
                    details=[error_details_pb2.ErrorInfo(reason="ONE_MESSAGE", domain=DOMAIN)],
                )
            stream = channels(component).unary_stream(
                path,
                request_serializer=_serialize,
                response_deserializer=response_type.FromString,
            )(received[0], metadata=_metadata(ctx), timeout=_deadline(ctx, STREAM_DEADLINE_SECONDS))
        try:
            async for item in stream:
                yield item
        except grpc.aio.AioRpcError as error:
            raise as_connect_error(error) from None
        except ConnectError:
            raise
        except Exception:  # never the exception's own text to the caller
            log.exception("unexpected error in a stream of the JSON face")
            raise ConnectError(Code.INTERNAL, "internal error") from None
        if refused:
            raise refused[0]

    return call


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


_CODES = {
    status.name: code for code in Code for status in grpc.StatusCode if status.name == code.name
}
_CODES["CANCELLED"] = Code.CANCELED


def as_connect_error(error: grpc.aio.AioRpcError) -> ConnectError:
    """The service's gRPC status as the same Connect error: code, message and details
    (ErrorInfo, BadRequest, RetryInfo...) from `grpc-status-details-bin`."""
    code = _CODES.get(error.code().name, Code.UNKNOWN)
    details: list[Any] = []
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            details = list(status.details)
    if error.code() is grpc.StatusCode.UNAVAILABLE and not details:
        # The service could not be reached: say which, not the channel's internals.
        return ConnectError(code, "the service is unavailable; retry shortly")
    return ConnectError(code, error.details() or "", details=details)
