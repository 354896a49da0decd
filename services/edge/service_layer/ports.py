"""What the license server needs of the other services (adapters/upstream.py speaks
their gRPC contracts), as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class UpstreamRefusal(Exception):
    """A service refused the request: its status code name, ErrorInfo reason, message."""

    def __init__(self, code: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Account:
    """Whose OAuth client credentials (or API key) these are."""

    client_id: str  # the OAuth client's id, or the API key's name
    account: str  # vendors/{v} or publishers/{p}


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expire_time: datetime
    license: str
    uses: tuple[str, ...]
    granted: bool


@dataclass(frozen=True)
class TokenFacts:
    """What licensing says of a token it signed."""

    valid: bool
    reason: str
    license: str
    vendor: str
    publisher: str
    uses: tuple[str, ...]
    expire_time: datetime | None
    issue_time: datetime | None
    work: str
    resource: str
    token_id: str
    client_id: str


class Catalog(Protocol):
    def authenticate_client(self, client_id: str, secret: str) -> Account | None: ...

    def authenticate_key(self, key: str) -> Account | None: ...

    def works_at(self, url: str) -> list[str]: ...


class Licensing(Protocol):
    def acquire(
        self,
        vendor: str,
        work: str,
        uses: tuple[str, ...],
        rsl_license: str,
        resource: str,
        client_id: str,
        ttl_seconds: int,
    ) -> IssuedToken: ...

    def verify(self, token: str) -> TokenFacts: ...

    def jwks(self) -> str: ...

    def license_xml(self, publisher: str, site_url: str, server_url: str) -> str: ...
