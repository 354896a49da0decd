"""License tokens: compact JWS signed with Ed25519 (EdDSA), keys published as a JWKS.

PyJWT does the JOSE work (header, encoding, signature checks); this module keeps the key
ring: which key signs now, and which older keys still verify until their tokens expire.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import Connection, insert, select, update

from services.licensing.adapters import tables as t

ISSUER = "licentia"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    create_time: datetime
    retire_time: datetime | None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def published_at(self, at: datetime) -> bool:
        return self.retire_time is None or at < self.retire_time


def new_signing_key(now: datetime) -> SigningKey:
    return _signing_key(Ed25519PrivateKey.generate(), now)


def signing_key_from_pem(pem: bytes, now: datetime) -> SigningKey:
    """An operator's key (a PKCS#8 PEM Ed25519 private key, e.g. from a Kubernetes
    Secret); the same key always gets the same kid."""
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key (PKCS#8 PEM)")
    return _signing_key(private, now)


def _signing_key(private: Ed25519PrivateKey, now: datetime) -> SigningKey:
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode().rstrip("=")
    return SigningKey(kid, private, now, None)


class SigningKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def all(self) -> list[SigningKey]:
        rows = self._conn.execute(select(t.signing_keys).order_by(t.signing_keys.c.create_time))
        return [_key(r) for r in rows]

    def add(self, key: SigningKey) -> None:
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self._conn.execute(
            insert(t.signing_keys).values(
                kid=key.kid, private_pem=pem, create_time=key.create_time, retire_time=None
            )
        )

    def retire_all_but(self, kid: str, retire_time: datetime) -> None:
        k = t.signing_keys
        self._conn.execute(
            update(k)
            .where(k.c.kid != kid, k.c.retire_time.is_(None))
            .values(retire_time=retire_time)
        )


def _key(row: Any) -> SigningKey:
    private = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return SigningKey(row.kid, private, row.create_time, row.retire_time)


class TokenError(Exception):
    """Why a token does not verify; `reason` is one of VerifyLicenseToken's reasons."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class KeyRing:
    """The keys in memory: the newest unretired one signs, every published one verifies."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self._keys = {k.kid: k for k in keys}
        active = [k for k in keys if k.retire_time is None]
        if not active:
            raise ValueError("no active signing key")
        self.active = max(active, key=lambda k: k.create_time)

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self.active.private_key, algorithm="EdDSA", headers={"kid": self.active.kid}
        )

    def verify(self, token: str, now: datetime) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise TokenError("TOKEN_MALFORMED", "not a compact JWS") from error
        if header.get("alg") != "EdDSA":
            raise TokenError("BAD_SIGNATURE", "only EdDSA tokens are issued here")
        key = self._keys.get(str(header.get("kid", "")))
        if key is None or not key.published_at(now):
            raise TokenError(
                "UNKNOWN_KEY", "signed with a key that is not (or no longer) published"
            )
        try:
            return jwt.decode(
                token,
                key.public_key,
                algorithms=["EdDSA"],
                issuer=ISSUER,
                options={"verify_aud": False, "require": ["exp", "iat", "sub", "lic"]},
                leeway=0,  # one clock: this service issues and verifies
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenError("TOKEN_EXPIRED", "the token has expired") from error
        except jwt.InvalidSignatureError as error:
            raise TokenError("BAD_SIGNATURE", "the signature does not match") from error
        except jwt.InvalidTokenError as error:
            raise TokenError("TOKEN_MALFORMED", str(error)) from error

    def jwks(self, now: datetime) -> str:
        keys = []
        for key in sorted(self._keys.values(), key=lambda k: k.create_time):
            if key.published_at(now):
                jwk = OKPAlgorithm.to_jwk(key.public_key, as_dict=True)
                keys.append({**jwk, "kid": key.kid, "use": "sig", "alg": "EdDSA"})
        return json.dumps({"keys": keys}, sort_keys=True)
