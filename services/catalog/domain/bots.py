"""Vendors' crawlers and their signing keys (Web Bot Auth): plain rules, no storage."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from services.runtime.errors import Violations

MAX_KEYS = 5
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Bot:
    id: str
    vendor: str  # vendors/{v}
    display_name: str
    user_agent: str
    public_keys: tuple[str, ...]  # JWK JSON, as registered
    key_ids: tuple[str, ...]  # RFC 7638 thumbprints
    key_directory_url: str
    create_time: datetime

    @property
    def name(self) -> str:
        return f"{self.vendor}/bots/{self.id}"


def ed25519_thumbprint(jwk: dict[str, object]) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order, no spaces."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def check_bot(
    display_name: str, user_agent: str, keys: tuple[str, ...], directory: str, v: Violations
) -> tuple[str, ...]:
    """Violations of a bot's fields; returns the keys' thumbprints."""
    if len(display_name) > 200:
        v.add("bot.display_name", "at most 200 characters")
    if not 1 <= len(user_agent.strip()) <= 200:
        v.add("bot.user_agent", "1..200 characters: a substring of the bot's User-Agent")
    if not 1 <= len(keys) <= MAX_KEYS:
        v.add("bot.public_keys", f"1..{MAX_KEYS} Ed25519 public keys as JWKs")
    thumbprints = []
    for i, text in enumerate(keys):
        try:
            jwk = json.loads(text)
            valid = (
                isinstance(jwk, dict)
                and jwk.get("kty") == "OKP"
                and jwk.get("crv") == "Ed25519"
                and isinstance(jwk.get("x"), str)
                and _B64URL.match(jwk["x"]) is not None
                and len(base64.urlsafe_b64decode(jwk["x"] + "==")) == 32
                and "d" not in jwk  # never a private key
            )
        except (ValueError, TypeError):
            valid = False
        if not valid:
            v.add(
                f"bot.public_keys[{i}]", "must be an Ed25519 public JWK (kty OKP, crv Ed25519, x)"
            )
            continue
        thumbprints.append(ed25519_thumbprint(jwk))
    if directory:
        parts = urlsplit(directory)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(directory) > 2_048:
            v.add("bot.key_directory_url", "must be an absolute http(s) URL")
    return tuple(thumbprints)
