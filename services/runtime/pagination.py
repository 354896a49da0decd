"""Page sizes and opaque page tokens (AIP-158).

A token records where the previous page ended and a digest of the request's filters,
so a token replayed with different filters is rejected instead of skipping results.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from services.runtime.errors import FieldViolation, InvalidArgument

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: Any  # the ordering key of the last item already returned, or None


def page_request(page_size: int, page_token: str, filters: dict[str, Any]) -> PageRequest:
    if page_size < 0:
        raise InvalidArgument(
            "INVALID_PAGE_SIZE",
            "page_size must not be negative",
            [FieldViolation("page_size", "must be >= 0")],
        )
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if not page_token:
        return PageRequest(size, None)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(page_token.encode()))
        after, digest = decoded["a"], decoded["f"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad_token("page_token is not one this service issued") from exc
    if digest != _digest(filters):
        raise _bad_token("page_token was issued for a request with other filters")
    return PageRequest(size, after)


def next_page_token(last_key: Any, filters: dict[str, Any]) -> str:
    payload = json.dumps({"a": last_key, "f": _digest(filters)}).encode()
    return base64.urlsafe_b64encode(payload).decode()


def _digest(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _bad_token(message: str) -> InvalidArgument:
    return InvalidArgument("INVALID_PAGE_TOKEN", message, [FieldViolation("page_token", message)])


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


def page_of(items: list[T], size: int, key: Callable[[T], Any], filters: dict[str, Any]) -> Page[T]:
    """A full page gets a token for the next one; a short page is the last."""
    token = next_page_token(key(items[-1]), filters) if len(items) == size else ""
    return Page(items, token)
