"""Licenses: read, suspend, resume, revoke; and their event feed for other services."""

from __future__ import annotations

from collections.abc import Callable

from services.licensing.domain import licenses as rules
from services.licensing.domain.licenses import License, LicenseFilter
from services.licensing.service_layer import access
from services.licensing.service_layer.unit_of_work import OUTBOX, UnitOfWorkFactory
from services.runtime import pagination, resource_names
from services.runtime.errors import NotFound
from services.runtime.outbox import OutboxEvent
from services.runtime.principal import Principal, Role
from services.runtime.sqltypes import utc_now


def parse_license_name(name: str, field: str = "name") -> str:
    (license_id,) = resource_names.parse(name, ("licenses",), field)
    return license_id


class LicenseService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def get(self, p: Principal, name: str) -> License:
        license_id = parse_license_name(name)
        with self._uow(write=False) as uow:
            lic = uow.licenses.get(license_id)
        if lic is None or not access.is_party(p, lic.vendor, lic.publisher):
            raise NotFound("LICENSE_NOT_FOUND", f"{name} does not exist")
        return lic

    def list_licenses(
        self,
        p: Principal,
        where: LicenseFilter,
        page_size: int,
        page_token: str,
    ) -> pagination.Page[License]:
        # Vendors and publishers see their own, whatever filter they send.
        if p.role is Role.VENDOR:
            where = LicenseFilter(p.account, where.publisher, where.state)
        elif p.role is Role.PUBLISHER:
            where = LicenseFilter(where.vendor, p.account, where.state)
        filters = {
            "vendor": where.vendor or "",
            "publisher": where.publisher or "",
            "state": where.state.value if where.state else "",
        }
        page = pagination.page_request(page_size, page_token, filters)
        with self._uow(write=False) as uow:
            items = uow.licenses.search(where, page.after, page.size)
        return pagination.page_of(items, page.size, lambda x: x.id, filters)

    def suspend(self, p: Principal, name: str, reason: str) -> License:
        return self._change(p, name, "SUSPENDED", lambda lic: rules.suspend(lic, reason, utc_now()))

    def resume(self, p: Principal, name: str) -> License:
        return self._change(p, name, "RESUMED", lambda lic: rules.resume(lic, utc_now()))

    def revoke(self, p: Principal, name: str, reason: str) -> License:
        return self._change(p, name, "REVOKED", lambda lic: rules.revoke(lic, reason, utc_now()))

    def list_events(self, p: Principal, after_sequence: int, page_size: int) -> list[OutboxEvent]:
        access.trusted_only(p, "read the license event feed")
        with self._uow(write=False) as uow:
            return OUTBOX.read_page(uow.connection, after_sequence, page_size)

    def _change(
        self, p: Principal, name: str, kind: str, move: Callable[[License], License]
    ) -> License:
        license_id = parse_license_name(name)
        with self._uow() as uow:
            lic = uow.licenses.get(license_id, lock=True)
            if lic is None or not access.is_party(p, lic.vendor, lic.publisher):
                raise NotFound("LICENSE_NOT_FOUND", f"{name} does not exist")
            access.act_on_license(p, lic.publisher)
            changed = move(lic)
            uow.licenses.save(changed)
            uow.license_changed(changed, kind)
            uow.commit()
            return changed
