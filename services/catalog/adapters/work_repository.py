"""Works, their versions and tags."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, delete, insert, select, update

from services.catalog.adapters import tables as t
from services.catalog.domain.model import RightsHolder, Work, WorkFields, WorkFilter, WorkVersion

_LOOKUP_CHUNK = 500  # keeps IN (...) lists well under every driver's parameter limit


class WorkRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add_many(self, works: list[Work]) -> list[Work]:
        """Insert new works with their first version; returns them with `seq` set."""
        if not works:
            return []
        # Sequences are matched back by work, not by the order rows come back: asking
        # for that order makes SQLite's driver insert one row per statement.
        rows = self._conn.execute(
            insert(t.works).returning(t.works.c.publisher_id, t.works.c.id, t.works.c.seq),
            [_row(w) for w in works],
        )
        seqs = {(publisher_id, work_id): seq for publisher_id, work_id, seq in rows}
        stored = [_with_seq(w, seqs[w.publisher_id, w.id]) for w in works]
        self._conn.execute(insert(t.work_versions), [_version_row(w) for w in stored])
        self._insert_tags(stored)
        return stored

    def get(
        self, publisher_id: str, work_id: str, with_body: bool, lock: bool = False
    ) -> Work | None:
        if lock:
            query = self._select(with_body).where(
                t.works.c.publisher_id == publisher_id,
                t.works.c.id == work_id,
                t.works.c.delete_time.is_(None),
            )
            row = self._conn.execute(query.with_for_update(of=t.works)).first()
        else:  # the hot read: a statement built (and its cache key computed) once
            parameters = {"publisher_id": publisher_id, "work_id": work_id}
            row = self._conn.execute(_GET_WITH_BODY if with_body else _GET, parameters).first()
        return _work(row, with_body) if row else None

    def get_many(self, keys: list[tuple[str, str]], with_body: bool) -> list[Work]:
        """Live works for (publisher id, work id) pairs, in no particular order."""
        by_publisher: dict[str, list[str]] = {}
        for publisher_id, work_id in keys:
            by_publisher.setdefault(publisher_id, []).append(work_id)
        found: list[Work] = []
        for publisher_id, ids in by_publisher.items():
            for i in range(0, len(ids), _LOOKUP_CHUNK):
                query = self._select(with_body).where(
                    t.works.c.publisher_id == publisher_id,
                    t.works.c.id.in_(ids[i : i + _LOOKUP_CHUNK]),
                    t.works.c.delete_time.is_(None),
                )
                found.extend(_work(row, with_body) for row in self._conn.execute(query))
        return found

    def find_by_external_ids(
        self, publisher_id: str, external_ids: Iterable[str]
    ) -> dict[str, tuple[Work, bool]]:
        """Works (deleted ones too, flagged True) by the publisher's external id."""
        found: dict[str, tuple[Work, bool]] = {}
        wanted = list(dict.fromkeys(external_ids))
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            rows = self._conn.execute(
                self._select(with_body=True)
                .where(t.works.c.publisher_id == publisher_id, t.works.c.external_id.in_(chunk))
                .with_for_update(of=t.works)
            )
            for row in rows:
                found[row.external_id] = (_work(row, True), row.delete_time is not None)
        return found

    def url_owners(self, publisher_id: str, urls: Iterable[str]) -> dict[str, str]:
        """Which live work (its id) holds each of these canonical URLs, where one does."""
        found: dict[str, str] = {}
        wanted = [u for u in dict.fromkeys(urls) if u]
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            rows = self._conn.execute(
                select(t.works.c.canonical_url, t.works.c.id).where(
                    t.works.c.publisher_id == publisher_id,
                    t.works.c.canonical_url.in_(wanted[start : start + _LOOKUP_CHUNK]),
                    t.works.c.delete_time.is_(None),
                )
            )
            found.update((url, work_id) for url, work_id in rows)
        return found

    def by_url(self, url: str) -> list[Work]:
        """The live works with this canonical URL (one per publisher at most)."""
        rows = self._conn.execute(
            self._select(with_body=False)
            .where(t.works.c.canonical_url == url, t.works.c.delete_time.is_(None))
            .order_by(t.works.c.publisher_id)
        )
        return [_work(r, False) for r in rows]

    def search(
        self, where: WorkFilter, after_seq: int | None, limit: int, with_body: bool
    ) -> list[Work]:
        query = self._select(with_body).where(t.works.c.delete_time.is_(None))
        if where.publisher_id is not None:
            query = query.where(t.works.c.publisher_id == where.publisher_id)
        if where.section:
            query = query.where(t.works.c.section == where.section)
        if where.tag:
            tagged = select(t.work_tags.c.work_seq).where(t.work_tags.c.tag == where.tag)
            query = query.where(t.works.c.seq.in_(tagged))
        if where.published_after:
            query = query.where(t.works.c.publish_time >= where.published_after)
        if where.published_before:
            query = query.where(t.works.c.publish_time < where.published_before)
        if where.updated_since:
            query = query.where(t.works.c.update_time >= where.updated_since)
        if after_seq is not None:
            query = query.where(t.works.c.seq > after_seq)
        rows = self._conn.execute(query.order_by(t.works.c.seq).limit(limit))
        return [_work(r, with_body) for r in rows]

    def update(self, work: Work, new_version: bool) -> None:
        values = _row(work)
        self._conn.execute(update(t.works).where(t.works.c.seq == work.seq).values(**values))
        if new_version:
            self._conn.execute(insert(t.work_versions).values(**_version_row(work)))
        self._conn.execute(delete(t.work_tags).where(t.work_tags.c.work_seq == work.seq))
        self._insert_tags([work])

    def mark_deleted(self, work: Work, now: datetime) -> None:
        self._conn.execute(
            update(t.works)
            .where(t.works.c.seq == work.seq)
            .values(delete_time=now, update_time=now)
        )

    def list_versions(self, work: Work, after: int | None, limit: int) -> list[WorkVersion]:
        v = t.work_versions
        query = select(v.c.version, v.c.content_hash, v.c.word_count, v.c.title, v.c.create_time)
        query = query.where(v.c.work_seq == work.seq)
        if after is not None:
            query = query.where(v.c.version > after)
        rows = self._conn.execute(query.order_by(v.c.version).limit(limit))
        return [WorkVersion(**r._mapping) for r in rows]

    def _insert_tags(self, works: list[Work]) -> None:
        rows = [{"work_seq": w.seq, "tag": tag} for w in works for tag in w.fields.tags]
        if rows:
            self._conn.execute(insert(t.work_tags), rows)

    @staticmethod
    def _select(with_body: bool) -> Select[Any]:
        if not with_body:
            return select(t.works)
        return select(t.works, t.work_versions.c.body).join(
            t.work_versions,
            and_(
                t.work_versions.c.work_seq == t.works.c.seq,
                t.work_versions.c.version == t.works.c.version,
            ),
        )


def _get(with_body: bool) -> Select[Any]:
    return WorkRepository._select(with_body).where(
        t.works.c.publisher_id == bindparam("publisher_id"),
        t.works.c.id == bindparam("work_id"),
        t.works.c.delete_time.is_(None),
    )


_GET = _get(with_body=False)
_GET_WITH_BODY = _get(with_body=True)


def _row(work: Work) -> dict[str, Any]:
    f = work.fields
    return {
        "publisher_id": work.publisher_id,
        "id": work.id,
        "external_id": f.external_id or None,
        "title": f.title,
        "authors": list(f.authors),
        "language": f.language,
        "section": f.section,
        "tags": list(f.tags),
        "canonical_url": f.canonical_url,
        "publish_time": f.publish_time,
        "rights_holders": [h.__dict__ for h in f.rights_holders],
        "content_hash": work.content_hash,
        "word_count": work.word_count,
        "version": work.version,
        "etag": work.etag,
        "create_time": work.create_time,
        "update_time": work.update_time,
    }


def _version_row(work: Work) -> dict[str, Any]:
    return {
        "work_seq": work.seq,
        "version": work.version,
        "title": work.fields.title,
        "body": work.fields.body,
        "content_hash": work.content_hash,
        "word_count": work.word_count,
        "create_time": work.update_time,
    }


def _with_seq(work: Work, seq: int) -> Work:
    return replace(work, seq=seq)


def _work(row: Any, with_body: bool) -> Work:
    fields = WorkFields(
        external_id=row.external_id or "",
        title=row.title,
        authors=tuple(row.authors),
        language=row.language,
        section=row.section,
        tags=tuple(row.tags),
        canonical_url=row.canonical_url,
        publish_time=row.publish_time,
        body=row.body if with_body else "",
        rights_holders=tuple(RightsHolder(**h) for h in row.rights_holders),
    )
    return Work(
        publisher_id=row.publisher_id,
        id=row.id,
        fields=fields,
        content_hash=row.content_hash,
        word_count=row.word_count,
        version=row.version,
        create_time=row.create_time,
        update_time=row.update_time,
        etag=row.etag,
        seq=row.seq,
    )
