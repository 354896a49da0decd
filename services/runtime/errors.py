"""The one error hierarchy of every service.

Domain and service-layer code raise these; a single gRPC interceptor maps them to
`google.rpc.Status` (see error_mapping.py). They import nothing from gRPC, so the
domain stays plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ErrorKind(Enum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    CONFLICT = "CONFLICT"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class LicentiaError(Exception):
    """Base error. `reason` is an UPPER_SNAKE_CASE ErrorInfo reason."""

    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, reason: str, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = metadata


class InvalidArgument(LicentiaError):
    kind = ErrorKind.INVALID_ARGUMENT

    def __init__(
        self,
        reason: str,
        message: str,
        violations: list[FieldViolation] | None = None,
        **metadata: str,
    ) -> None:
        super().__init__(reason, message, **metadata)
        self.violations = list(violations or [])


class NotFound(LicentiaError):
    kind = ErrorKind.NOT_FOUND


class AlreadyExists(LicentiaError):
    kind = ErrorKind.ALREADY_EXISTS


class PermissionDenied(LicentiaError):
    kind = ErrorKind.PERMISSION_DENIED


class Unauthenticated(LicentiaError):
    kind = ErrorKind.UNAUTHENTICATED


class FailedPrecondition(LicentiaError):
    kind = ErrorKind.FAILED_PRECONDITION


class Conflict(LicentiaError):
    """A concurrent change won (etag mismatch, lost race): re-read and retry."""

    kind = ErrorKind.CONFLICT


class ResourceExhausted(LicentiaError):
    kind = ErrorKind.RESOURCE_EXHAUSTED

    def __init__(self, reason: str, message: str, retry_after_seconds: float) -> None:
        super().__init__(reason, message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(LicentiaError):
    kind = ErrorKind.UNAVAILABLE


@dataclass
class Violations:
    """Collects field violations so a request reports every problem at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def raise_if_any(self, reason: str = "INVALID_FIELDS") -> None:
        if self.items:
            summary = "; ".join(f"{v.field}: {v.description}" for v in self.items)
            raise InvalidArgument(reason, f"invalid request: {summary}", self.items)
