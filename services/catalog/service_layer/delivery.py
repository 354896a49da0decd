"""Licensed content delivery: a vendor gets a work's text only under a license that
permits the use; every delivery is recorded (metering bills it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from services.catalog.adapters.delivery_repository import Delivery
from services.catalog.adapters.licensing_client import PermissionAnswer
from services.catalog.domain.model import Work
from services.catalog.service_layer.unit_of_work import UnitOfWorkFactory
from services.catalog.service_layer.works import get_work, parse_work_name
from services.runtime import resource_names
from services.runtime.errors import PermissionDenied
from services.runtime.principal import Principal, Role, require
from services.runtime.sqltypes import utc_now


class PermissionChecker(Protocol):
    def check(
        self, vendor: str, work: str, use: str, territory: str, user_type: str
    ) -> PermissionAnswer: ...


@dataclass(frozen=True)
class DeliveredContent:
    work: Work
    license: str
    delivery: str


class ContentService:
    def __init__(self, uow: UnitOfWorkFactory, permissions: PermissionChecker) -> None:
        self._uow = uow
        self._permissions = permissions

    def deliver(
        self,
        p: Principal,
        name: str,
        use: str,
        territory: str,
        user_type: str,
        request_id: str,
    ) -> DeliveredContent:
        require(p.role is Role.VENDOR, "content delivery is for AI vendors (under a license)")
        publisher_id, work_id = parse_work_name(name)
        with self._uow(write=False) as uow:
            get_work(uow, publisher_id, work_id, with_body=False)
        answer = self._permissions.check(p.account, name, use, territory, user_type)
        if not answer.allowed:
            raise PermissionDenied(
                "LICENSE_REQUIRED",
                f"no license permits {use} of {name}: {answer.explanation}",
                denial=answer.denial,
                closest_license=answer.license,
            )
        try:
            return self._record(
                p, publisher_id, work_id, answer.license, use, territory, request_id
            )
        except IntegrityError:  # a concurrent retry recorded it first: answer with that one
            return self._record(
                p, publisher_id, work_id, answer.license, use, territory, request_id
            )

    def _record(
        self,
        p: Principal,
        publisher_id: str,
        work_id: str,
        license_name: str,
        use: str,
        territory: str,
        request_id: str,
    ) -> DeliveredContent:
        with self._uow() as uow:
            work = get_work(uow, publisher_id, work_id, with_body=True)
            if request_id and (known := uow.deliveries.by_request(p.account, request_id)):
                return DeliveredContent(work, known.license, known.id)
            delivery = Delivery(
                resource_names.new_id("d"),
                p.account,
                work.name,
                work.version,
                license_name,
                use,
                territory,
                request_id or None,
                utc_now(),
            )
            uow.deliveries.add(delivery)
            uow.commit()
        return DeliveredContent(work, license_name, delivery.id)
