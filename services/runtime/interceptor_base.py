"""A base for server interceptors that run code around every call of every kind.

gRPC's ServerInterceptor hands back method handlers; wrapping their behaviour for the
four call shapes (unary/streaming request x response) is the same each time, so it
lives here once and each interceptor only writes `around`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

# Calls that must work without credentials: Kubernetes probes and tooling.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


@dataclass(frozen=True)
class CallInfo:
    method: str
    metadata: dict[str, str]

    @property
    def is_public(self) -> bool:
        return self.method.startswith(PUBLIC_METHOD_PREFIXES)


class AroundInterceptor(grpc.ServerInterceptor):
    def around(self, call: CallInfo, context: grpc.ServicerContext) -> Any:
        """A context manager entered for the whole call, response stream included."""
        return contextlib.nullcontext()

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        call = CallInfo(
            details.method,
            {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)},
        )
        if handler.response_streaming:
            inner = handler.unary_stream or handler.stream_stream

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                with self.around(call, context):
                    yield from inner(request, context)

            behaviour: Callable[..., Any] = streaming
        else:
            inner = handler.unary_unary or handler.stream_unary

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                with self.around(call, context):
                    return inner(request, context)

            behaviour = unary
        factory = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(handler.request_streaming, handler.response_streaming)]
        return factory(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
