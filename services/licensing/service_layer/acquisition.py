"""Acquiring a license for a crawler (the license server's token endpoint): the license
the vendor holds for a work and its uses, or one taken from a published offer at terms
the request accepts; then a token for that work and those uses only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.licensing.adapters.rsl import license_terms
from services.licensing.domain import acquisition as rules
from services.licensing.domain import vocabulary as vocab
from services.licensing.domain.licenses import License
from services.licensing.domain.permissions import WorkRef
from services.licensing.service_layer import access
from services.licensing.service_layer.negotiation import NegotiationService
from services.licensing.service_layer.permissions import PermissionService, WorkDirectory
from services.licensing.service_layer.tokens import TokenService
from services.licensing.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import resource_names
from services.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from services.runtime.principal import Principal, Role
from services.runtime.sqltypes import utc_now


@dataclass(frozen=True)
class Acquired:
    license: License
    granted: bool
    token: str
    expire_time: datetime
    uses: tuple[str, ...]


class AcquisitionService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        works: WorkDirectory,
        permissions: PermissionService,
        negotiation: NegotiationService,
        tokens: TokenService,
    ) -> None:
        self._uow = uow
        self._works = works
        self._permissions = permissions
        self._negotiation = negotiation
        self._tokens = tokens

    def acquire(
        self,
        p: Principal,
        vendor: str,
        work: str,
        uses: tuple[str, ...],
        rsl_license: str,
        resource: str,
        ttl: timedelta | None,
        client_id: str = "",
    ) -> Acquired:
        access.trusted_only(p, "acquire licenses for vendors")
        v = Violations()
        if not resource_names.matches(vendor, ("vendors",)):
            v.add("vendor", "must be vendors/{vendor}")
        if not resource_names.matches(work, ("publishers", "works")):
            v.add("work", "must be publishers/{publisher}/works/{work}")
        for i, use in enumerate(uses):
            if use not in vocab.CONCRETE_USES:
                v.add(f"uses[{i}]", f"must be one of {', '.join(vocab.CONCRETE_USES)}")
        v.raise_if_any()
        wanted = None
        if rsl_license:
            try:
                wanted = license_terms(rsl_license)
            except InvalidArgument as error:
                raise InvalidArgument(
                    "INVALID_RSL_LICENSE",
                    error.message,
                    [FieldViolation("rsl_license", error.message)],
                ) from error
            uses = uses or tuple(sorted(vocab.concrete_uses(wanted.permitted_uses)))
        ref = self._works.get(work)
        if ref is None:
            raise NotFound("WORK_NOT_FOUND", f"{work} does not exist")
        now = utc_now()
        held = self._held(vendor, ref, uses, now)
        if held is not None:
            return self._token(held, False, ref, uses, resource, ttl, client_id)
        if not uses:
            raise FailedPrecondition(
                "USES_REQUIRED",
                f"{vendor} holds no license for {work}: name the uses wanted (scope, e.g. "
                "ai-input) to take an offer",
            )
        with self._uow(write=False) as uow:
            published = uow.offers.published_by(ref.publisher.removeprefix("publishers/"))
        choice = rules.choose(
            rules.covering(published, ref, uses, now), wanted.price if wanted else None
        )
        if isinstance(choice, rules.Refusal):
            raise FailedPrecondition(choice.reason, choice.message)
        # One proposal per vendor, offer and terms: a retried request finds its license.
        request_id = (
            "olp-"
            + hashlib.sha256(f"{vendor}|{choice.offer.name}|{choice.terms!r}".encode()).hexdigest()[
                :40
            ]
        )
        _, lic = self._negotiation.create(
            Principal(Role.VENDOR, vendor),
            choice.offer.name,
            choice.terms,
            None,
            "taken through the license server",
            request_id,
        )
        if lic is None:
            raise FailedPrecondition(
                "PRICE_NOT_ACCEPTED", f"{choice.offer.name} did not accept the terms asked"
            )
        self._permissions.refresh(lic)
        return self._token(lic, True, ref, uses, resource, ttl, client_id)

    def _held(
        self, vendor: str, ref: WorkRef, uses: tuple[str, ...], now: datetime
    ) -> License | None:
        """The vendor's license that permits every use (or, with none named, covers the
        work for some use)."""
        for use in uses or vocab.CONCRETE_USES:
            decision = self._permissions.index.check(vendor, ref, use, "", "", now)
            if decision.allowed and (
                not uses
                or all(
                    self._permissions.index.check(
                        vendor, ref, u, "", "", now, decision.license
                    ).allowed
                    for u in uses
                )
            ):
                held = self._permissions.index.license(decision.license)
                if held is not None:
                    return held
                with self._uow(write=False) as uow:
                    return uow.licenses.get(decision.license.removeprefix("licenses/"))
        return None

    def _token(
        self,
        lic: License,
        granted: bool,
        ref: WorkRef,
        uses: tuple[str, ...],
        resource: str,
        ttl: timedelta | None,
        client_id: str,
    ) -> Acquired:
        if not uses:
            uses = tuple(sorted(vocab.concrete_uses(lic.terms.permitted_uses)))
        token, expires = self._tokens.issue_for(
            lic,
            ttl,
            work=ref.name,
            uses=uses,
            resource=resource,
            client_id=client_id,
        )
        return Acquired(lic, granted, token, expires, uses)
