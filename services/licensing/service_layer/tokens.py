"""License tokens: issue (to the licensee), verify (for anyone), publish and rotate keys."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.licensing.adapters.signing import (
    ISSUER,
    KeyRing,
    SigningKey,
    TokenError,
    new_signing_key,
)
from services.licensing.domain.licenses import License, LicenseState
from services.licensing.service_layer import access
from services.licensing.service_layer.licenses import parse_license_name
from services.licensing.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import resource_names
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.principal import Principal
from services.runtime.sqltypes import utc_now

DEFAULT_TOKEN_TTL = timedelta(minutes=15)
MAX_TOKEN_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Verification:
    """What a token proves (its signed claims), and whether it still holds."""

    valid: bool
    reason: str = ""
    license: str = ""
    vendor: str = ""
    publisher: str = ""
    uses: tuple[str, ...] = ()
    expire_time: datetime | None = None
    license_state: LicenseState | None = None
    # Set when the token was issued for one resource (the license server's tokens).
    work: str = ""
    resource: str = ""
    issue_time: datetime | None = None
    token_id: str = ""
    client_id: str = ""


class TokenService:
    def __init__(self, uow: UnitOfWorkFactory, configured_key: SigningKey | None = None) -> None:
        self._uow = uow
        self._configured = configured_key
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None

    def start(self) -> None:
        """Load the keys: the operator's configured key becomes the signing key (a new
        one rotates, the old stay published until their tokens expire); without one,
        a fresh database gets a generated key."""
        with self._uow() as uow:
            keys = uow.keys.all()
            wanted = self._configured
            if wanted is None and not keys:
                wanted = new_signing_key(utc_now())
            if wanted is not None and wanted.kid not in {k.kid for k in keys}:
                uow.keys.add(wanted)
                uow.keys.retire_all_but(wanted.kid, utc_now() + MAX_TOKEN_TTL)
                uow.commit()
                keys = uow.keys.all()
        self._ring = KeyRing(keys)

    def issue(
        self,
        p: Principal,
        license_name: str,
        ttl: timedelta | None,
        work: str = "",
        uses: tuple[str, ...] = (),
        resource: str = "",
        client_id: str = "",
    ) -> tuple[str, datetime]:
        """A token for the license; `work`, `uses` and `resource` narrow it to one
        resource and the uses asked for (the license server's tokens)."""
        license_id = parse_license_name(license_name, "license")
        with self._uow(write=False) as uow:
            lic = uow.licenses.get(license_id)
        if lic is None or not (p.owns(lic.vendor) or p.is_trusted):
            raise NotFound("LICENSE_NOT_FOUND", f"{license_name} does not exist")
        return self.issue_for(lic, ttl, work, uses, resource, client_id)

    def issue_for(
        self,
        lic: License,
        ttl: timedelta | None,
        work: str = "",
        uses: tuple[str, ...] = (),
        resource: str = "",
        client_id: str = "",
    ) -> tuple[str, datetime]:
        """A token for a license already read (and the caller's right to it checked)."""
        ttl = ttl or DEFAULT_TOKEN_TTL
        if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
            raise InvalidArgument(
                "INVALID_FIELDS", "bad ttl", [FieldViolation("ttl", "positive, at most 24 hours")]
            )
        now = utc_now()
        if lic.state_at(now) is not LicenseState.ACTIVE:
            raise FailedPrecondition(
                "LICENSE_NOT_ACTIVE", f"{lic.name} is {lic.state_at(now).value}"
            )
        expires = now + ttl
        if lic.end_time is not None:
            expires = min(expires, lic.end_time)  # never outlive the license
        scope = lic.terms.scope
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": lic.vendor,
            "aud": lic.publisher,
            "lic": lic.name,
            "uses": list(uses or lic.terms.permitted_uses),
            "prohibited": list(lic.terms.prohibited_uses),
            "scope": (
                {"works": [work]}
                if work
                else {
                    "sections": list(scope.sections),
                    "tags": list(scope.tags),
                    "works": list(scope.works),
                    "urls": list(scope.urls),
                }
            ),
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": resource_names.new_id("t"),
        }
        if work:
            claims["work"] = work
        if resource:
            claims["resource"] = resource
        if client_id:
            claims["client_id"] = client_id
        return self._keys().sign(claims), datetime.fromtimestamp(
            int(expires.timestamp()), now.tzinfo
        )

    def verify(self, token: str) -> Verification:
        now = utc_now()
        try:
            claims = self._verified_claims(token, now)
        except TokenError as error:
            return Verification(False, error.reason)
        claimed = Verification(
            False,
            license=str(claims["lic"]),
            vendor=str(claims["sub"]),
            publisher=str(claims.get("aud", "")),
            uses=tuple(str(u) for u in claims.get("uses", [])),
            expire_time=datetime.fromtimestamp(int(claims["exp"]), UTC),
            work=str(claims.get("work", "")),
            resource=str(claims.get("resource", "")),
            issue_time=datetime.fromtimestamp(int(claims.get("iat", 0)), UTC),
            token_id=str(claims.get("jti", "")),
            client_id=str(claims.get("client_id", "")),
        )
        license_id = claimed.license.partition("/")[2]
        with self._uow(write=False) as uow:
            lic = uow.licenses.get(license_id) if resource_names.is_valid_id(license_id) else None
        if lic is None:
            return replace(claimed, reason="LICENSE_NOT_FOUND")
        state = lic.state_at(now)
        valid = state is LicenseState.ACTIVE
        reason = "" if valid else f"LICENSE_{state.value}"
        return replace(claimed, valid=valid, reason=reason, license_state=state)

    def _verified_claims(self, token: str, now: datetime) -> dict[str, Any]:
        try:
            return self._keys().verify(token, now)
        except TokenError as error:
            if error.reason != "UNKNOWN_KEY":
                raise
        self.reload()  # another replica may have rotated: look once more
        return self._keys().verify(token, now)

    def jwks(self) -> tuple[str, str]:
        self.reload()  # rarely called; always the keys in the database
        ring = self._keys()
        return ring.jwks(utc_now()), ring.active.kid

    def rotate(self, p: Principal) -> str:
        access.operator_only(p, "rotate signing keys")
        now = utc_now()
        key = new_signing_key(now)
        with self._lock, self._uow() as uow:
            uow.keys.add(key)
            # Old keys stay published until every token they signed has expired.
            uow.keys.retire_all_but(key.kid, now + MAX_TOKEN_TTL)
            uow.commit()
            self._ring = KeyRing(uow.keys.all())
        return key.kid

    def reload(self) -> None:
        """Pick up a rotation made through another replica."""
        with self._uow(write=False) as uow:
            self._ring = KeyRing(uow.keys.all())

    def _keys(self) -> KeyRing:
        if self._ring is None:
            raise RuntimeError("TokenService.start() was not called")
        return self._ring
