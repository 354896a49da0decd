"""Web Bot Auth: a crawler signs its requests (RFC 9421 HTTP Message Signatures,
Ed25519, tag `web-bot-auth`, covering at least `@authority`), with keys its vendor
registered in the catalog (their JWK thumbprints are the `keyid`s). Checked with a kept
library (http-message-signatures); `created`/`expires` within a 5-minute window, and a
nonce that may open content once (replays are refused)."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from services.edge.domain.toll import SignatureInvalid, SignedBot

WINDOW = timedelta(minutes=5)
TAG = "web-bot-auth"


@dataclass(frozen=True)
class KnownKey:
    key: Ed25519PublicKey
    vendor: str
    bot: str  # vendors/{v}/bots/{b}


@dataclass
class _Message:
    method: str
    url: str
    headers: dict[str, str]


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, keys: dict[str, KnownKey]) -> None:
        self._keys = keys

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        known = self._keys.get(key_id)
        if known is None:
            raise HTTPMessageSignaturesException(f"unknown key {key_id[:60]!r}")
        return known.key

    def resolve_private_key(self, key_id: str) -> Any:
        raise HTTPMessageSignaturesException("the edge signs nothing")


class WebBotAuth:
    def __init__(self) -> None:
        self._keys: dict[str, KnownKey] = {}
        self._used: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def replace_keys(self, keys: dict[str, KnownKey]) -> None:
        self._keys = keys

    def verify(self, method: str, url: str, headers: dict[str, str]) -> SignedBot:
        verifier = HTTPMessageVerifier(
            signature_algorithm=algorithms.ED25519, key_resolver=_Keys(self._keys)
        )
        message = _Message(method.upper() or "GET", url, headers)
        try:
            [result] = verifier.verify(
                message, max_age=WINDOW, expect_tag=TAG, require_components=("@authority",)
            )
        except (HTTPMessageSignaturesException, ValueError) as error:
            raise SignatureInvalid(f"the signature does not verify: {str(error)[:200]}") from error
        key_id = str(result.parameters.get("keyid", ""))
        nonce = str(result.nonce or "")
        if not nonce:
            raise SignatureInvalid("the signature has no nonce (replays cannot be told apart)")
        with self._lock:
            if (key_id, nonce) in self._used:
                raise SignatureInvalid("this signature was already used (a replay)")
        known = self._keys[key_id]
        return SignedBot(known.vendor, known.bot, key_id, nonce)

    def used(self, signed: SignedBot) -> None:
        """The nonce opened content: refuse it from now on (for the window)."""
        now = time.monotonic()
        with self._lock:
            if len(self._used) > 200_000:
                self._used = {k: t for k, t in self._used.items() if t > now}
            self._used[(signed.key_id, signed.nonce)] = now + WINDOW.total_seconds()


def public_key(jwk: dict[str, Any]) -> Ed25519PublicKey:
    raw = base64.urlsafe_b64decode(str(jwk["x"]) + "==")
    return Ed25519PublicKey.from_public_bytes(raw)
