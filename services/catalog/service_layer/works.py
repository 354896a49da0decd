"""Use cases for works: register, read, list, revise, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.catalog.domain.model import (
    MUTABLE_FIELDS,
    Work,
    WorkFields,
    WorkFilter,
    WorkVersion,
    canonical_url,
    register_work,
    revise_work,
)
from services.catalog.domain.validation import check_lookup_url, check_work
from services.catalog.service_layer import access
from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork, UnitOfWorkFactory
from services.runtime import pagination, resource_names
from services.runtime.errors import (
    AlreadyExists,
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from services.runtime.outbox import OutboxEvent
from services.runtime.principal import Principal
from services.runtime.sqltypes import utc_now

REGISTERED, UPDATED, DELETED = "REGISTERED", "UPDATED", "DELETED"
MAX_BATCH_GET = 1_000


def work_event(kind: str, work: Work, now: datetime) -> OutboxEvent:
    payload = {"work": work.name, "version": work.version, "content_hash": work.content_hash}
    return OutboxEvent("work", work.name, kind, payload, now)


def parse_work_name(name: str, field: str = "name") -> tuple[str, str]:
    publisher_id, work_id = resource_names.parse(name, ("publishers", "works"), field)
    return publisher_id, work_id


def parse_publisher(parent: str, allow_wildcard: bool = False) -> str:
    (publisher_id,) = resource_names.parse(parent, ("publishers",), "parent", allow_wildcard)
    return publisher_id


class WorkService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def create(
        self, p: Principal, parent: str, fields: WorkFields, work_id: str, request_id: str
    ) -> Work:
        publisher_id = parse_publisher(parent)
        access.write_works(p, parent)
        v = Violations()
        if work_id and not resource_names.is_valid_id(work_id):
            v.add("work_id", resource_names.ID_RULE)
        check_work(fields, v)
        v.raise_if_any()
        now = utc_now()
        work = register_work(publisher_id, work_id or resource_names.new_id("w"), fields, now)
        with self._uow() as uow:
            if request_id and (done := uow.requests.resource_for(p.account, request_id)):
                return get_work(uow, *parse_work_name(done), with_body=True)
            self._require_publisher(uow, publisher_id)
            if uow.works.get(publisher_id, work.id, with_body=False) is not None:
                raise AlreadyExists(
                    "WORK_ALREADY_EXISTS", f"{work.name} already exists", resource=work.name
                )
            if fields.external_id and uow.works.find_by_external_ids(
                publisher_id, [fields.external_id]
            ):
                raise AlreadyExists(
                    "EXTERNAL_ID_ALREADY_EXISTS",
                    f"{parent} already has a work with external_id {fields.external_id!r}",
                )
            _require_free_url(uow, work)
            (work,) = uow.works.add_many([work])
            uow.publish([work_event(REGISTERED, work, now)])
            if request_id:
                uow.requests.remember(p.account, request_id, work.name)
            uow.commit()
        return work

    def lookup_by_url(self, p: Principal, url: str) -> list[Work]:
        """The live works whose canonical URL is `url` (metadata only)."""
        v = Violations()
        check_lookup_url(v, "url", url)
        v.raise_if_any()
        with self._uow(write=False) as uow:
            found = uow.works.by_url(canonical_url(url))
        return [w for w in found if access.may_read(p, w.publisher_name)]

    def get(self, p: Principal, name: str, with_body: bool) -> Work:
        publisher_id, work_id = parse_work_name(name)
        access.read_works(p, f"publishers/{publisher_id}", with_body)
        with self._uow(write=False, autocommit=True) as uow:  # one statement
            return get_work(uow, publisher_id, work_id, with_body)

    def get_many(
        self, p: Principal, names: list[str], with_body: bool
    ) -> tuple[list[Work], list[str]]:
        """The live works among `names` (in request order) and the names not found."""
        if len(names) > MAX_BATCH_GET:
            raise InvalidArgument(
                "TOO_MANY_NAMES",
                f"at most {MAX_BATCH_GET} names per call",
                [FieldViolation("names", f"{len(names)} given")],
            )
        keys = [parse_work_name(name, f"names[{i}]") for i, name in enumerate(names)]
        for publisher_id in {publisher_id for publisher_id, _ in keys}:
            access.read_works(p, f"publishers/{publisher_id}", with_body)
        with self._uow(write=False, autocommit=True) as uow:  # one statement
            found = {w.name: w for w in uow.works.get_many(keys, with_body)}
        return [found[n] for n in names if n in found], [n for n in names if n not in found]

    def list(
        self,
        p: Principal,
        parent: str,
        where: WorkFilter,
        with_body: bool,
        page_size: int,
        page_token: str,
    ) -> pagination.Page[Work]:
        publisher_id = parse_publisher(parent, allow_wildcard=True)
        scope = None if publisher_id == "-" else publisher_id
        access.read_works(p, parent if scope else None, with_body)
        where = WorkFilter(
            scope,
            where.section,
            where.tag,
            where.published_after,
            where.published_before,
            where.updated_since,
        )
        filters = {"where": where.__dict__, "body": with_body}
        page = pagination.page_request(page_size, page_token, filters)
        with self._uow(write=False, autocommit=True) as uow:  # one statement
            items = uow.works.search(where, page.after, page.size, with_body)
        return pagination.page_of(items, page.size, lambda w: w.seq, filters)

    def list_versions(
        self, p: Principal, parent: str, page_size: int, page_token: str
    ) -> pagination.Page[WorkVersion]:
        publisher_id, work_id = parse_work_name(parent, "parent")
        access.read_works(p, f"publishers/{publisher_id}", with_body=False)
        filters = {"work": parent}
        page = pagination.page_request(page_size, page_token, filters)
        with self._uow(write=False) as uow:
            work = get_work(uow, publisher_id, work_id, with_body=False)
            items = uow.works.list_versions(work, page.after, page.size)
        return pagination.page_of(items, page.size, lambda v: v.version, filters)

    def update(
        self, p: Principal, name: str, changes: WorkFields, paths: frozenset[str], etag: str
    ) -> Work:
        publisher_id, work_id = parse_work_name(name, "work.name")
        access.write_works(p, f"publishers/{publisher_id}")
        v = Violations()
        for path in sorted(paths - MUTABLE_FIELDS):
            v.add("update_mask", f"{path!r} is not a field that can be updated")
        check_work(changes, v, paths=paths & MUTABLE_FIELDS)
        v.raise_if_any()
        now = utc_now()
        with self._uow() as uow:
            current = get_work(uow, publisher_id, work_id, with_body=True, lock=True)
            _check_etag(current, etag)
            revised = revise_work(current, changes, paths, now)
            if revised is None:
                return current
            if (
                "external_id" in paths
                and revised.fields.external_id != current.fields.external_id
                and revised.fields.external_id
                and uow.works.find_by_external_ids(publisher_id, [revised.fields.external_id])
            ):
                raise AlreadyExists(
                    "EXTERNAL_ID_ALREADY_EXISTS",
                    f"another work already has external_id {revised.fields.external_id!r}",
                )
            if revised.fields.canonical_url != current.fields.canonical_url:
                _require_free_url(uow, revised)
            uow.works.update(revised, new_version=revised.version != current.version)
            uow.publish([work_event(UPDATED, revised, now)])
            uow.commit()
        return revised

    def delete(self, p: Principal, name: str, etag: str) -> None:
        publisher_id, work_id = parse_work_name(name)
        access.write_works(p, f"publishers/{publisher_id}")
        now = utc_now()
        with self._uow() as uow:
            current = get_work(uow, publisher_id, work_id, with_body=False, lock=True)
            _check_etag(current, etag)
            uow.works.mark_deleted(current, now)
            uow.publish([work_event(DELETED, current, now)])
            uow.commit()

    @staticmethod
    def _require_publisher(uow: CatalogUnitOfWork, publisher_id: str) -> None:
        if uow.accounts.get_publisher(publisher_id) is None:
            raise NotFound("PUBLISHER_NOT_FOUND", f"publishers/{publisher_id} does not exist")


def get_work(
    uow: CatalogUnitOfWork, publisher_id: str, work_id: str, with_body: bool, lock: bool = False
) -> Work:
    """A live work, or WORK_NOT_FOUND."""
    work = uow.works.get(publisher_id, work_id, with_body, lock)
    if work is None:
        name = f"publishers/{publisher_id}/works/{work_id}"
        raise NotFound("WORK_NOT_FOUND", f"{name} does not exist", resource=name)
    return work


def url_taken(work: Work, holder: str) -> AlreadyExists:
    return AlreadyExists(
        "WORK_URL_TAKEN",
        f"publishers/{work.publisher_id}/works/{holder} already has canonical_url "
        f"{work.fields.canonical_url[:200]!r}",
    )


def _require_free_url(uow: Any, work: Work) -> None:
    """A canonical URL names one live work of its publisher."""
    url = work.fields.canonical_url
    holder = uow.works.url_owners(work.publisher_id, [url]).get(url) if url else None
    if holder is not None and holder != work.id:
        raise url_taken(work, holder)


def _check_etag(work: Work, etag: str) -> None:
    if etag and etag != work.etag:
        raise Conflict(
            "ETAG_MISMATCH",
            f"{work.name} changed since it was read; read it again",
            resource=work.name,
        )
