"""Everything the runtime does around a call, in one server interceptor.

For each call, outermost first: a server span (continuing the caller's trace), the
access log line and RPC metrics, error mapping, authentication, rate limiting. One
interceptor instead of a chain of five, and each method's wrapped handler built once
and kept: the per-call work is what the call itself needs, nothing rebuilt.

Tracing uses the OpenTelemetry SDK directly rather than its gRPC instrumentation
package: that package wraps every servicer context and sets a dozen attributes before
knowing whether the span is kept; here the sampler decides first (telemetry.ServerSpans),
and attributes are only set on spans that record. The span's name (the full method) and
its parent (the caller's `traceparent`) are as the instrumentation would make them.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from services.runtime.authentication import Authenticator
from services.runtime.error_mapping import abort_with
from services.runtime.errors import Unauthenticated
from services.runtime.metrics import RPC
from services.runtime.principal import ANONYMOUS, Principal, reset_principal, set_principal
from services.runtime.rate_limit import RateLimiter
from services.runtime.telemetry import ServerSpans

access_log = logging.getLogger("licentia.access")

# Calls that must work without credentials: Kubernetes probes and tooling.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


class RuntimeInterceptor(grpc.ServerInterceptor):
    def __init__(
        self,
        service: str,
        authenticator: Authenticator,
        limiter: RateLimiter,
        tracer_provider: trace.TracerProvider,
        public_methods: frozenset[str] = frozenset(),
    ) -> None:
        self._service = service
        self._domain = f"{service}.licentia.dev"
        self._authenticator = authenticator
        self._limiter = limiter
        self._spans = ServerSpans(tracer_provider)
        self._public_methods = public_methods
        # method -> (the handler it was built from, the wrapped handler)
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        kept = self._wrapped.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)  # a race builds it twice, harmlessly
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        begin, enter, finish, domain = self._begin, self._enter, self._finish, self._domain
        guarded = not method.startswith(PUBLIC_METHOD_PREFIXES)
        if handler.response_streaming:
            streaming_inner = handler.unary_stream or handler.stream_stream

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                call = begin(method, context)
                try:
                    if guarded:
                        enter(call)
                    yield from streaming_inner(request, context)
                except Exception as error:
                    abort_with(context, error, domain)
                finally:
                    finish(call, context)

            behaviour: Callable[..., Any] = streaming
        else:
            unary_inner = handler.unary_unary or handler.stream_unary

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                call = begin(method, context)
                try:
                    if guarded:
                        enter(call)
                    return unary_inner(request, context)
                except Exception as error:
                    abort_with(context, error, domain)
                finally:
                    finish(call, context)

            behaviour = unary
        return _FACTORIES[(handler.request_streaming, handler.response_streaming)](
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _begin(self, method: str, context: grpc.ServicerContext) -> _Call:
        """Before the handler, for every call: the clock, the span (current from here)."""
        started = time.perf_counter()
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        span, parent = self._spans.start(method, metadata)
        attached = otel_context.attach(trace.set_span_in_context(span, parent))
        return _Call(method, metadata, started, span, attached)

    def _enter(self, call: _Call) -> None:
        """Before the handler of a call that needs credentials: who calls, within its
        rate. Raises what the caller is told (mapped like the handler's errors)."""
        metadata = call.metadata
        header = metadata.get("authorization", "")
        if not header and call.method in self._public_methods:
            principal = ANONYMOUS
        else:
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise Unauthenticated(
                    "MISSING_CREDENTIALS",
                    "send `authorization: Bearer <api key>` metadata with every call",
                )
            principal = self._authenticator.authenticate(credential.strip())
        call.caller = principal.account
        call.principal_token = set_principal(principal)
        self._limiter.acquire(principal.account)

    def _finish(self, call: _Call, context: grpc.ServicerContext) -> None:
        """After the handler (or its error, mapped): metrics, span, access log."""
        if call.principal_token is not None:
            reset_principal(call.principal_token)
        code = context.code() or grpc.StatusCode.OK
        if isinstance(code, int):
            code = grpc.StatusCode.UNKNOWN
        seconds = time.perf_counter() - call.started
        method, span = call.method, call.span
        RPC.observe(self._service, method, code.name, seconds)
        if span.is_recording():
            span.set_attributes(
                {"rpc.system": "grpc", "rpc.method": method, "rpc.grpc.status_code": code.value[0]}
            )
            if code is not grpc.StatusCode.OK:
                span.set_status(Status(StatusCode.ERROR, code.name))
        span.end()
        otel_context.detach(call.attached)
        level = logging.INFO if code is grpc.StatusCode.OK else logging.WARNING
        if access_log.isEnabledFor(level):
            access_log.log(
                level,
                "rpc %s %s",
                method,
                code.name,
                extra={
                    "rpc_method": method,
                    "rpc_code": code.name,
                    "duration_ms": round(seconds * 1000, 3),
                    "caller": call.caller,
                },
            )


class _Call:
    """One call in flight, from `_begin` to `_finish`."""

    __slots__ = ("attached", "caller", "metadata", "method", "principal_token", "span", "started")

    def __init__(
        self,
        method: str,
        metadata: dict[str, str],
        started: float,
        span: Span,
        attached: contextvars.Token[Context],
    ) -> None:
        self.method = method
        self.metadata = metadata
        self.started = started
        self.span = span
        self.attached = attached
        self.caller = ""
        self.principal_token: contextvars.Token[Principal | None] | None = None
