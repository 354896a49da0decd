"""Turning a bearer credential into a Principal, without a network hop on the hot path.

API keys look like `lic_<random>`; only their SHA-256 is stored (the keys are 256-bit
random, so a slow hash adds nothing). The catalog owns the keys and checks them against
its own database; other services ask the catalog once and then cache the answer for
`LICENTIA_AUTH_CACHE_TTL_SECONDS` (default 30 s): that is the bound on how long a revoked
key keeps working outside the catalog. Inside the catalog revocation is immediate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from services.runtime.errors import Unauthenticated
from services.runtime.principal import OPERATOR, Principal, Role

KEY_PREFIX = "lic_"
# Unknown keys are remembered briefly so a flood of bad keys cannot hammer the store.
NEGATIVE_TTL_SECONDS = 2.0
CACHE_CAPACITY = 100_000


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Authenticator(Protocol):
    def authenticate(self, credential: str) -> Principal: ...


class StaticCredentials:
    """The bootstrap operator key and the service-to-service token from settings."""

    def __init__(self, operator_api_key: str | None, service_token: str | None) -> None:
        self._operator = operator_api_key
        self._service = service_token

    def match(self, credential: str) -> Principal | None:
        if self._operator and hmac.compare_digest(credential, self._operator):
            return OPERATOR
        if self._service and hmac.compare_digest(credential, self._service):
            return Principal(Role.SERVICE, "services/internal")
        return None


# Looks an API key up; returns None for unknown or revoked keys.
KeyResolver = Callable[[str], Principal | None]


class CachedKeyAuthenticator:
    def __init__(self, static: StaticCredentials, resolve: KeyResolver, ttl_seconds: float) -> None:
        self._static = static
        self._resolve = resolve
        self._ttl = ttl_seconds
        self._cache: OrderedDict[str, tuple[Principal | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    def authenticate(self, credential: str) -> Principal:
        static = self._static.match(credential)
        if static is not None:
            return static
        if not credential.startswith(KEY_PREFIX):
            raise Unauthenticated("INVALID_API_KEY", "the API key is not valid")
        digest = hash_api_key(credential)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            principal = cached[0]
        else:
            principal = self._resolve(credential)
            ttl = self._ttl if principal is not None else min(self._ttl, NEGATIVE_TTL_SECONDS)
            self._remember(digest, principal, now + ttl)
        if principal is None:
            raise Unauthenticated("INVALID_API_KEY", "the API key is not valid or was revoked")
        return principal

    def forget(self, key_hash: str) -> None:
        """Drop a cached answer at once (the catalog calls this on revocation)."""
        with self._lock:
            self._cache.pop(key_hash, None)

    def _remember(self, digest: str, principal: Principal | None, expires: float) -> None:
        with self._lock:
            self._cache[digest] = (principal, expires)
            self._cache.move_to_end(digest)
            while len(self._cache) > CACHE_CAPACITY:
                self._cache.popitem(last=False)
