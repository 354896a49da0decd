"""Calls to another Licentia service, with its failures turned into our own errors: a
refusal keeps its reason, anything else means the service is unavailable (retry)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.runtime.errors import FailedPrecondition, Unavailable


@contextlib.contextmanager
def upstream(service: str) -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
            raise FailedPrecondition(
                _reason(error) or f"{service.upper()}_REFUSED",
                f"{service}: {error.details()}",
            ) from error
        raise Unavailable(
            f"{service.upper()}_UNAVAILABLE",
            f"{service} did not answer ({error.code().name}); retry",
        ) from error


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""
