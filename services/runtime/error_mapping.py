"""The single mapping from exceptions to google.rpc.Status (AIP-193)."""

from __future__ import annotations

import logging
from typing import NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import trace
from sqlalchemy.exc import OperationalError

from services.runtime.errors import (
    ErrorKind,
    InvalidArgument,
    LicentiaError,
    ResourceExhausted,
    Unavailable,
)

log = logging.getLogger("licentia.errors")

_CODES = {
    ErrorKind.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: code_pb2.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    ErrorKind.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    ErrorKind.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    ErrorKind.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    ErrorKind.CONFLICT: code_pb2.ABORTED,
    ErrorKind.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    ErrorKind.UNAVAILABLE: code_pb2.UNAVAILABLE,
}


# An error never echoes more than a short prefix of what the caller sent: a 9,000
# character name quoted back overflowed gRPC's metadata limit (RESOURCE_EXHAUSTED).
MAX_MESSAGE = 400
MAX_FIELD_TEXT = 200
MAX_VIOLATIONS = 20


def bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def to_status(error: LicentiaError, domain: str) -> status_pb2.Status:
    metadata = {
        bounded(k, MAX_FIELD_TEXT): bounded(v, MAX_FIELD_TEXT)
        for k, v in list(error.metadata.items())[:MAX_VIOLATIONS]
    }
    details = [error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=metadata)]
    if isinstance(error, InvalidArgument) and error.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=bounded(v.field, MAX_FIELD_TEXT),
                        description=bounded(v.description, MAX_FIELD_TEXT),
                    )
                    for v in error.violations[:MAX_VIOLATIONS]
                ]
            )
        )
    if isinstance(error, ResourceExhausted):
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1, int(error.retry_after_seconds * 1e9)))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(
        code=_CODES[error.kind], message=bounded(error.message, MAX_MESSAGE), details=packed
    )


def classify(exc: BaseException) -> LicentiaError | None:
    """Known infrastructure failures that callers should retry."""
    if isinstance(exc, LicentiaError):
        return exc
    if isinstance(exc, OperationalError) and _is_transient(exc):
        return Unavailable("DATABASE_UNAVAILABLE", "the database is unavailable; retry later")
    return None


def _is_transient(exc: OperationalError) -> bool:
    """Lost connections and lock time-outs are worth a retry; a missing table is not."""
    message = str(exc.orig).lower()
    return exc.connection_invalidated or any(
        hint in message for hint in ("database is locked", "connection", "could not connect")
    )


def abort_with(context: grpc.ServicerContext, exc: Exception, domain: str) -> NoReturn:
    if context.code() not in (None, grpc.StatusCode.OK):
        raise exc  # the call was already aborted further in; keep its status
    if isinstance(exc, grpc.RpcError) and not context.is_active():
        # The caller went away (cancelled a stream, hit its deadline) while we read its
        # requests: nothing to answer and nothing wrong here.
        log.info("%s: the caller ended the call", domain)
        raise exc
    error = classify(exc)
    if error is None:
        trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
        log.exception("unexpected error in %s (trace %s)", domain, trace_id)
        status = status_pb2.Status(
            code=code_pb2.INTERNAL,
            message=f"internal error; quote trace id {trace_id} when reporting it",
        )
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=domain))
        status.details.append(info)
    else:
        status = to_status(error, domain)
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("unreachable: abort_with_status raises")


def code_name(error: LicentiaError) -> str:
    """The gRPC status code name for an error reported inside a response (streams)."""
    return str(code_pb2.Code.Name(_CODES[error.kind]))
