"""The server interceptors every service runs, outermost first:
request logging -> error mapping -> authentication -> rate limiting.
(OpenTelemetry's own server interceptor runs outside all of them.)
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Iterator

import grpc

from services.runtime.authentication import Authenticator
from services.runtime.error_mapping import abort_with
from services.runtime.errors import Unauthenticated
from services.runtime.interceptor_base import AroundInterceptor, CallInfo
from services.runtime.metrics import observe_rpc
from services.runtime.principal import (
    ANONYMOUS,
    current_principal,
    reset_principal,
    set_principal,
)
from services.runtime.rate_limit import RateLimiter

access_log = logging.getLogger("licentia.access")
# Filled in by inner interceptors for the access log line (the principal itself is
# scoped to the inner part of the call).
_call_record: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "licentia_call_record", default=None
)


class RequestLoggingInterceptor(AroundInterceptor):
    """One structured line per call (method, status, duration, caller, trace id), and the
    call counted in the RPC metrics."""

    def __init__(self, service: str) -> None:
        self._service = service

    @contextlib.contextmanager
    def around(self, call: CallInfo, context: grpc.ServicerContext) -> Iterator[None]:
        started = time.perf_counter()
        record: dict[str, str] = {}
        token = _call_record.set(record)
        try:
            yield
        finally:
            _call_record.reset(token)
            code = context.code() or grpc.StatusCode.OK
            if isinstance(code, int):
                code = grpc.StatusCode.UNKNOWN
            seconds = time.perf_counter() - started
            observe_rpc(self._service, call.method, code.name, seconds)
            level = logging.INFO if code is grpc.StatusCode.OK else logging.WARNING
            if access_log.isEnabledFor(level):
                access_log.log(
                    level,
                    "rpc %s %s",
                    call.method,
                    code.name,
                    extra={
                        "rpc_method": call.method,
                        "rpc_code": code.name,
                        "duration_ms": round(seconds * 1000, 3),
                        "caller": record.get("caller", ""),
                    },
                )


class ErrorMappingInterceptor(AroundInterceptor):
    """Domain errors become google.rpc.Status; anything else becomes a bare INTERNAL."""

    def __init__(self, domain: str) -> None:
        self._domain = domain

    @contextlib.contextmanager
    def around(self, call: CallInfo, context: grpc.ServicerContext) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            abort_with(context, exc, self._domain)


class AuthenticationInterceptor(AroundInterceptor):
    def __init__(
        self, authenticator: Authenticator, public_methods: frozenset[str] = frozenset()
    ) -> None:
        self._authenticator = authenticator
        self._public_methods = public_methods

    @contextlib.contextmanager
    def around(self, call: CallInfo, context: grpc.ServicerContext) -> Iterator[None]:
        if call.is_public:
            yield
            return
        header = call.metadata.get("authorization", "")
        if not header and call.method in self._public_methods:
            token = set_principal(ANONYMOUS)
            try:
                yield
            finally:
                reset_principal(token)
            return
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated(
                "MISSING_CREDENTIALS",
                "send `authorization: Bearer <api key>` metadata with every call",
            )
        principal = self._authenticator.authenticate(credential.strip())
        record = _call_record.get()
        if record is not None:
            record["caller"] = principal.account
        token = set_principal(principal)
        try:
            yield
        finally:
            reset_principal(token)


class RateLimitInterceptor(AroundInterceptor):
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    @contextlib.contextmanager
    def around(self, call: CallInfo, context: grpc.ServicerContext) -> Iterator[None]:
        if not call.is_public:
            self._limiter.acquire(current_principal().account)
        yield
