"""The RSL license server's use cases (OLP 1.0 draft over OAuth 2.0): who a client is,
tokens for a resource, introspection, discovery documents. The HTTP adapter
(entrypoints/) speaks the protocol; this module decides.

Refusals are `OAuthRefusal`s carrying the RFC 6749 §5.2 error code (or RFC 8707's
`invalid_target`, RFC 7662's answers) and a description that says what to do next.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.edge.service_layer.ports import (
    Account,
    Catalog,
    IssuedToken,
    Licensing,
    UpstreamRefusal,
)
from services.runtime.uses import CONCRETE_USES

MAX_RESOURCE = 2_048
CLIENT_CACHE_SECONDS = 30.0
JWKS_CACHE_SECONDS = 60.0
WORKS_CACHE_SECONDS = 60.0


class OAuthRefusal(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Discovery:
    license_url: str
    robots_line: str
    link_header: str


class LicenseServer:
    def __init__(
        self, catalog: Catalog, licensing: Licensing, public_url: str, token_ttl_seconds: int
    ) -> None:
        self._catalog = catalog
        self._licensing = licensing
        self.public_url = public_url.rstrip("/")
        self._ttl = token_ttl_seconds
        self._clients: dict[str, tuple[float, Account | None]] = {}
        self._works: dict[str, tuple[float, list[str]]] = {}
        self._jwks: tuple[float, str, str] | None = None
        self._lock = threading.Lock()

    # Who is asking

    def authenticate(self, client_id: str, secret: str) -> Account | None:
        """Client credentials, checked with the catalog and cached briefly (a revoked
        client stops working within CLIENT_CACHE_SECONDS)."""
        return self._cached(
            f"client\x00{client_id}\x00{secret}",
            lambda: self._catalog.authenticate_client(client_id, secret),
        )

    def authenticate_key(self, api_key: str) -> Account | None:
        """An account's API key (the web console's sign-in), cached as clients are."""
        return self._cached(f"key\x00{api_key}", lambda: self._catalog.authenticate_key(api_key))

    def _cached(self, credential: str, check: Callable[[], Account | None]) -> Account | None:
        key = hashlib.sha256(credential.encode()).hexdigest()
        now = time.monotonic()
        cached = self._clients.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        account = check()
        with self._lock:
            if len(self._clients) > 10_000:
                self._clients.clear()
            self._clients[key] = (now + (CLIENT_CACHE_SECONDS if account else 5.0), account)
        return account

    # Tokens

    def token(self, client: Account, resource: str, scope: str, rsl_license: str) -> IssuedToken:
        if not client.account.startswith("vendors/"):
            raise OAuthRefusal(
                "unauthorized_client", "only AI vendors' clients obtain license tokens"
            )
        url = _resource(resource)
        uses = _uses(scope)
        works = self._works_at(url)
        if not works:
            raise OAuthRefusal(
                "invalid_target",
                f"no licensed work is known at {url[:200]}: check the URL against the "
                "publisher's license.xml",
            )
        if len(works) > 1:
            raise OAuthRefusal(
                "invalid_target",
                f"{url[:200]} is listed by several publishers; ask each publisher's license "
                "server through its license.xml",
            )
        try:
            return self._licensing.acquire(
                client.account, works[0], uses, rsl_license, url, client.client_id, self._ttl
            )
        except UpstreamRefusal as refusal:
            raise _oauth_refusal(refusal) from refusal

    def _works_at(self, url: str) -> list[str]:
        """The works at a URL, cached WORKS_CACHE_SECONDS (a crawler asks for the same
        pages again and again; a URL moved to another work is seen within the bound)."""
        now = time.monotonic()
        cached = self._works.get(url)
        if cached is not None and cached[0] > now:
            return cached[1]
        works = self._catalog.works_at(url)
        with self._lock:
            if len(self._works) > 100_000:
                self._works.clear()
            self._works[url] = (now + (WORKS_CACHE_SECONDS if works else 5.0), works)
        return works

    # Introspection (RFC 7662)

    def introspect(self, client: Account, token: str) -> dict[str, object]:
        """A resource server (a publisher's client) asks about a token: active only
        when it is genuine, unexpired, its license ACTIVE, and it licenses this
        publisher's content; otherwise `active: false` and nothing else."""
        facts = self._licensing.verify(token)
        if not facts.valid or facts.expire_time is None:
            return {"active": False}
        if client.account.startswith("publishers/") and facts.publisher != client.account:
            return {"active": False}
        if not client.account.startswith("publishers/"):
            return {"active": False}
        answer: dict[str, object] = {
            "active": True,
            "token_type": "License",
            "iss": self.public_url,
            "sub": facts.vendor,
            "aud": facts.publisher,
            "client_id": facts.client_id,
            "license": facts.license,
            "scope": " ".join(facts.uses),
            "exp": int(facts.expire_time.timestamp()),
            "jti": facts.token_id,
        }
        if facts.issue_time is not None:
            answer["iat"] = int(facts.issue_time.timestamp())
        if facts.resource:
            answer["resource"] = facts.resource
        if facts.work:
            answer["work"] = facts.work
        return answer

    # Discovery

    def jwks(self) -> tuple[str, str]:
        """The token keys and their ETag, cached JWKS_CACHE_SECONDS."""
        now = time.monotonic()
        cached = self._jwks
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        body = self._licensing.jwks()
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
        self._jwks = (now + JWKS_CACHE_SECONDS, body, etag)
        return body, etag

    def license_xml(self, publisher_id: str, site_url: str) -> str:
        try:
            return self._licensing.license_xml(
                f"publishers/{publisher_id}", site_url, self.public_url
            )
        except UpstreamRefusal as refusal:
            raise OAuthRefusal("not_found", refusal.message, 404) from refusal

    def discovery(self, publisher_id: str) -> Discovery:
        url = f"{self.public_url}/publishers/{publisher_id}/license.xml"
        return Discovery(
            url, f"License: {url}", f'<{url}>; rel="license"; type="application/rsl+xml"'
        )

    def metadata(self) -> dict[str, object]:
        """OAuth 2.0 Authorization Server Metadata (RFC 8414)."""
        base = self.public_url
        return {
            "issuer": base,
            "token_endpoint": f"{base}/token",
            "introspection_endpoint": f"{base}/introspect",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials", "rsl"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "scopes_supported": list(CONCRETE_USES),
            # No authorization endpoint: machine clients only (RFC 8414 requires the field).
            "response_types_supported": ["none"],
        }


def _resource(resource: str) -> str:
    if not resource:
        raise OAuthRefusal("invalid_request", "resource: the URL of the content is required")
    parts = urlsplit(resource)
    if len(resource) > MAX_RESOURCE or parts.scheme not in ("http", "https") or not parts.netloc:
        raise OAuthRefusal("invalid_target", "resource must be an absolute http(s) URL")
    return resource


def _uses(scope: str) -> tuple[str, ...]:
    uses = tuple(dict.fromkeys(scope.split()))
    unknown = [u for u in uses if u not in CONCRETE_USES]
    if unknown:
        raise OAuthRefusal(
            "invalid_scope",
            f"unknown use {unknown[0][:40]!r}: scope names RSL uses, "
            f"one or more of {', '.join(CONCRETE_USES)}",
        )
    return uses


_REFUSALS = {
    "NOT_OFFERED": "invalid_grant",
    "PRICE_NOT_ACCEPTED": "invalid_grant",
    "USES_REQUIRED": "invalid_scope",
    "WORK_NOT_FOUND": "invalid_target",
    "INVALID_RSL_LICENSE": "invalid_request",
    "LICENSE_NOT_ACTIVE": "invalid_grant",
}


def _oauth_refusal(refusal: UpstreamRefusal) -> OAuthRefusal:
    error = _REFUSALS.get(refusal.reason)
    if error is None:
        error = "invalid_request" if refusal.code == "INVALID_ARGUMENT" else "invalid_grant"
    return OAuthRefusal(error, refusal.message[:400])
