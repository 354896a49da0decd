"""Works through the real gRPC server, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
import time

import grpc
import pytest
from google.protobuf import field_mask_pb2
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import resources_pb2 as res

from services.catalog.service_layer.importing import ImportService
from tests.api.helpers import article, make_publisher
from tests.conftest import ServiceHarness, error_reason, field_violations, send_invalid_utf8


def test_create_get_update_delete_work(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    created = acme.client.CreateWork(api.CreateWorkRequest(parent=acme.name, work=article(1)))
    assert created.name.startswith("publishers/acme/works/")
    assert created.version == 1 and created.word_count == 40
    assert created.content_hash.startswith("sha256:")
    assert [(h.party, h.share_bps) for h in created.rights_holders] == [("publishers/acme", 10_000)]

    basic = acme.client.GetWork(api.GetWorkRequest(name=created.name))
    assert basic.body == "" and basic.title == "Article 1"
    full = acme.client.GetWork(api.GetWorkRequest(name=created.name, view=res.WORK_VIEW_FULL))
    assert full.body == article(1).body

    # Metadata change: same version. Body change: new version, history kept.
    retitled = acme.client.UpdateWork(
        api.UpdateWorkRequest(
            work=res.Work(name=created.name, title="New title", etag=created.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["title"]),
        )
    )
    assert retitled.title == "New title" and retitled.version == 1
    assert retitled.etag != created.etag
    rewritten = acme.client.UpdateWork(
        api.UpdateWorkRequest(
            work=res.Work(name=created.name, body="A wholly new text."),
            update_mask=field_mask_pb2.FieldMask(paths=["body"]),
        )
    )
    assert rewritten.version == 2 and rewritten.word_count == 4
    assert rewritten.content_hash != created.content_hash
    versions = acme.client.ListWorkVersions(api.ListWorkVersionsRequest(parent=created.name))
    assert [v.version for v in versions.versions] == [1, 2]
    assert versions.versions[0].content_hash == created.content_hash

    acme.client.DeleteWork(api.DeleteWorkRequest(name=created.name))
    with pytest.raises(grpc.RpcError) as gone:
        acme.client.GetWork(api.GetWorkRequest(name=created.name))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(gone.value) == "WORK_NOT_FOUND"


def test_update_with_stale_etag_is_aborted_and_changes_nothing(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    work = acme.client.CreateWork(api.CreateWorkRequest(parent=acme.name, work=article(1)))
    acme.client.UpdateWork(
        api.UpdateWorkRequest(
            work=res.Work(name=work.name, title="First edit"),
            update_mask=field_mask_pb2.FieldMask(paths=["title"]),
        )
    )
    with pytest.raises(grpc.RpcError) as stale:
        acme.client.UpdateWork(
            api.UpdateWorkRequest(
                work=res.Work(name=work.name, title="Lost edit", etag=work.etag),
                update_mask=field_mask_pb2.FieldMask(paths=["title"]),
            )
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED
    assert error_reason(stale.value) == "ETAG_MISMATCH"
    assert acme.client.GetWork(api.GetWorkRequest(name=work.name)).title == "First edit"


@pytest.mark.parametrize(
    ("work", "expected_fields"),
    [
        (article(1, title=""), ["work.title"]),
        (article(1, canonical_url="ftp://x"), ["work.canonical_url"]),
        (article(1, language="english!"), ["work.language"]),
        (article(1, body="x" * 500_001), ["work.body"]),
        (
            article(
                1,
                rights_holders=[
                    res.RightsHolder(party="people/jo", share_bps=6000),
                    res.RightsHolder(party="publishers/acme", share_bps=3000),
                ],
            ),
            ["work.rights_holders"],
        ),
        (article(1, title="", language=""), ["work.title", "work.language"]),
    ],
)
def test_bad_work_is_invalid_argument_and_writes_nothing(
    catalog: ServiceHarness, work: res.Work, expected_fields: list[str]
) -> None:
    acme = make_publisher(catalog, "acme")
    with pytest.raises(grpc.RpcError) as bad:
        acme.client.CreateWork(api.CreateWorkRequest(parent=acme.name, work=work))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(bad.value) == "INVALID_FIELDS"
    assert field_violations(bad.value) == expected_fields
    assert not acme.client.ListWorks(api.ListWorksRequest(parent=acme.name)).works


def test_text_that_cannot_be_stored_is_refused_and_writes_nothing(
    catalog: ServiceHarness,
) -> None:
    """A NUL character (PostgreSQL's text cannot hold it) or invalid UTF-8, anywhere in a
    request: INVALID_ARGUMENT naming the field, on both stores, never INTERNAL."""
    acme = make_publisher(catalog, "acme")
    with pytest.raises(grpc.RpcError) as bad:
        acme.client.CreateWork(
            api.CreateWorkRequest(parent=acme.name, work=article(1, title="a\x00b"))
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(bad.value) == "NUL_IN_TEXT"
    assert field_violations(bad.value) == ["work.title"]

    works = [article(0), article(1, body="one\x00two")]
    with pytest.raises(grpc.RpcError) as bad:
        list(acme.client.ImportWorks(iter([api.ImportWorksRequest(parent=acme.name, works=works)])))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(bad.value) == ["works[1].body"]

    error = send_invalid_utf8(
        catalog.channel, "/licentia.catalog.v1.CatalogService/CreateWork", acme.key
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == "UNDECODABLE_REQUEST"
    assert not acme.client.ListWorks(api.ListWorksRequest(parent=acme.name)).works


@pytest.mark.parametrize(
    ("request_", "reason", "field"),
    [
        (
            api.ListWorksRequest(parent="publishers/acme", page_size=-1),
            "INVALID_PAGE_SIZE",
            "page_size",
        ),
        (
            api.ListWorksRequest(parent="publishers/acme", page_token="garbage"),
            "INVALID_PAGE_TOKEN",
            "page_token",
        ),
        (api.ListWorksRequest(parent="pubs/acme"), "INVALID_RESOURCE_NAME", "parent"),
        (api.GetWorkRequest(name="publishers/acme/works/Bad_Id"), "INVALID_RESOURCE_NAME", "name"),
        (
            api.UpdateWorkRequest(
                work=res.Work(name="publishers/acme/works/w1", title="t"),
                update_mask=field_mask_pb2.FieldMask(paths=["content_hash"]),
            ),
            "INVALID_FIELDS",
            "update_mask",
        ),
    ],
)
def test_malformed_requests(
    catalog: ServiceHarness, request_: object, reason: str, field: str
) -> None:
    acme = make_publisher(catalog, "acme")
    method = type(request_).__name__.removesuffix("Request")
    with pytest.raises(grpc.RpcError) as bad:
        getattr(acme.client, method)(request_)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(bad.value) == reason
    assert field in field_violations(bad.value)


def test_pagination_returns_every_work_once_across_pages(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    list(
        acme.client.ImportWorks(
            iter([api.ImportWorksRequest(parent=acme.name, works=[article(i) for i in range(23)])])
        )
    )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = acme.client.ListWorks(
            api.ListWorksRequest(parent=acme.name, page_size=5, page_token=token)
        )
        seen += [w.name for w in page.works]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 5 and len(seen) == 23 and len(set(seen)) == 23
    # A token only fits the filters it was issued for.
    first = acme.client.ListWorks(api.ListWorksRequest(parent=acme.name, page_size=5))
    with pytest.raises(grpc.RpcError) as mismatch:
        acme.client.ListWorks(
            api.ListWorksRequest(
                parent=acme.name, page_size=5, page_token=first.next_page_token, section="business"
            )
        )
    assert error_reason(mismatch.value) == "INVALID_PAGE_TOKEN"


def test_list_filters(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    works = []
    for i in range(6):
        w = article(i)
        w.publish_time.FromSeconds(1_700_000_000 + i * 86_400)
        works.append(w)
    list(acme.client.ImportWorks(iter([api.ImportWorksRequest(parent=acme.name, works=works)])))

    def ids(**filters: object) -> list[str]:
        page = acme.client.ListWorks(api.ListWorksRequest(parent=acme.name, **filters))
        return sorted(w.external_id for w in page.works)

    assert ids(section="politics") == ["ext-1", "ext-3", "ext-5"]
    assert ids(tag="daily") == ["ext-0", "ext-3"]
    after = res.Work().publish_time.__class__(seconds=1_700_000_000 + 2 * 86_400)
    before = res.Work().publish_time.__class__(seconds=1_700_000_000 + 4 * 86_400)
    assert ids(published_after=after, published_before=before) == ["ext-2", "ext-3"]
    time.sleep(0.01)
    mark = res.Work().publish_time.__class__()
    mark.GetCurrentTime()
    time.sleep(0.01)
    target = acme.client.ListWorks(
        api.ListWorksRequest(parent=acme.name, section="business")
    ).works[0]
    acme.client.UpdateWork(
        api.UpdateWorkRequest(
            work=res.Work(name=target.name, title="changed"),
            update_mask=field_mask_pb2.FieldMask(paths=["title"]),
        )
    )
    assert ids(updated_since=mark) == [target.external_id]


def test_import_is_idempotent_by_external_id(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    batches = [
        api.ImportWorksRequest(
            parent=acme.name, works=[article(i) for i in range(b * 10, b * 10 + 10)]
        )
        for b in range(3)
    ]
    first = list(acme.client.ImportWorks(iter(batches)))
    assert len(first) == 3
    outcomes = [r.outcome for resp in first for r in resp.results]
    assert outcomes == [api.ImportWorkResult.OUTCOME_CREATED] * 30

    again = list(acme.client.ImportWorks(iter(batches)))
    assert {r.outcome for resp in again for r in resp.results} == {
        api.ImportWorkResult.OUTCOME_UNCHANGED
    }
    assert [r.work for resp in again for r in resp.results] == [
        r.work for resp in first for r in resp.results
    ]

    changed = article(3, body="Corrected text of article three.")
    (resp,) = acme.client.ImportWorks(
        iter([api.ImportWorksRequest(parent=acme.name, works=[changed])])
    )
    assert resp.results[0].outcome == api.ImportWorkResult.OUTCOME_UPDATED
    assert acme.client.GetWork(api.GetWorkRequest(name=resp.results[0].work)).version == 2

    listed = []
    token = ""
    while True:
        page = acme.client.ListWorks(
            api.ListWorksRequest(parent=acme.name, page_size=1000, page_token=token)
        )
        listed += page.works
        if not (token := page.next_page_token):
            break
    assert len(listed) == 30


def test_batches_in_flight_together_are_answered_in_order_and_counted_once(
    catalog: ServiceHarness,
) -> None:
    """Two batches of a stream are stored at once: one naming works the one before it
    creates (still uncommitted) is judged against them, and answers keep their order."""
    acme = make_publisher(catalog, "acme")
    first = [article(i) for i in range(20)]
    revised = [article(i, body=f"Revised text of article {i}.") for i in range(10)]
    batches = [
        api.ImportWorksRequest(parent=acme.name, works=first),
        api.ImportWorksRequest(parent=acme.name, works=revised),
        api.ImportWorksRequest(parent=acme.name, works=first[10:]),
        api.ImportWorksRequest(parent=acme.name, works=[article(i) for i in range(20, 30)]),
    ]
    responses = list(acme.client.ImportWorks(iter(batches)))
    outcome = api.ImportWorkResult
    assert [[r.outcome for r in resp.results] for resp in responses] == [
        [outcome.OUTCOME_CREATED] * 20,
        [outcome.OUTCOME_UPDATED] * 10,
        [outcome.OUTCOME_UNCHANGED] * 10,
        [outcome.OUTCOME_CREATED] * 10,
    ]
    assert [r.work for r in responses[1].results] == [r.work for r in responses[0].results[:10]]
    works = acme.client.ListWorks(api.ListWorksRequest(parent=acme.name, page_size=100)).works
    assert len(works) == 30
    assert sorted(w.version for w in works) == [1] * 20 + [2] * 10


def test_a_later_batch_never_lands_before_the_one_sent_before_it(
    catalog: ServiceHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch's transaction is held open until the second batch has been
    written (or a second has passed): batches stored side by side would let the revision
    land first and the original text overwrite it. Stored in order, the revision wins."""
    original = ImportService._store
    calls = itertools.count()
    second_written = threading.Event()

    def held(self: ImportService, *args: object) -> object:
        call = next(calls)
        if call == 0:
            second_written.wait(timeout=1.0)
        try:
            return original(self, *args)  # type: ignore[arg-type]
        finally:
            if call == 1:
                second_written.set()

    monkeypatch.setattr(ImportService, "_store", held)
    acme = make_publisher(catalog, "acme")
    first = [article(i) for i in range(10)]
    revised = [article(i, body=f"Revised text of article {i}.") for i in range(10)]
    responses = list(
        acme.client.ImportWorks(
            iter(
                [
                    api.ImportWorksRequest(parent=acme.name, works=first),
                    api.ImportWorksRequest(parent=acme.name, works=revised),
                ]
            )
        )
    )
    outcome = api.ImportWorkResult
    assert [[r.outcome for r in resp.results] for resp in responses] == [
        [outcome.OUTCOME_CREATED] * 10,
        [outcome.OUTCOME_UPDATED] * 10,
    ]
    for result in responses[0].results:
        stored = acme.client.GetWork(api.GetWorkRequest(name=result.work, view=res.WORK_VIEW_FULL))
        assert stored.body == f"Revised text of {stored.title.lower()}."
        assert stored.version == 2
        history = acme.client.ListWorkVersions(api.ListWorkVersionsRequest(parent=result.work))
        assert [v.version for v in history.versions] == [1, 2]


def test_a_batch_revising_a_failed_one_is_not_stored(
    catalog: ServiceHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ImportService._store
    calls = itertools.count()

    def failing_first(self: ImportService, *args: object) -> object:
        if next(calls) == 0:
            raise ConnectionError("the database went away")
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ImportService, "_store", failing_first)
    acme = make_publisher(catalog, "acme")
    revised = [article(i, body=f"Revised text of article {i}.") for i in range(5)]
    batches = [
        api.ImportWorksRequest(parent=acme.name, works=[article(i) for i in range(5)]),
        api.ImportWorksRequest(parent=acme.name, works=revised),  # the same works
    ]
    with pytest.raises(grpc.RpcError):
        list(acme.client.ImportWorks(iter(batches)))
    assert not acme.client.ListWorks(api.ListWorksRequest(parent=acme.name)).works


def test_import_reports_each_bad_item_and_keeps_the_rest(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    works = [article(0), article(1, title=""), article(2, external_id=""), article(3), article(3)]
    (resp,) = acme.client.ImportWorks(iter([api.ImportWorksRequest(parent=acme.name, works=works)]))
    outcome = api.ImportWorkResult
    assert [r.outcome for r in resp.results] == [
        outcome.OUTCOME_CREATED,
        outcome.OUTCOME_FAILED,
        outcome.OUTCOME_FAILED,
        outcome.OUTCOME_CREATED,
        outcome.OUTCOME_FAILED,
    ]
    assert resp.results[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert [v.field for v in resp.results[1].error.field_violations] == ["works[1].title"]
    assert [v.field for v in resp.results[2].error.field_violations] == ["works[2].external_id"]
    assert "twice" in resp.results[4].error.field_violations[0].description
    assert len(acme.client.ListWorks(api.ListWorksRequest(parent=acme.name)).works) == 2


def test_import_rejects_oversized_batch_without_writing(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    too_many = [article(i, words=3) for i in range(1001)]
    with pytest.raises(grpc.RpcError) as bad:
        list(
            acme.client.ImportWorks(
                iter([api.ImportWorksRequest(parent=acme.name, works=too_many)])
            )
        )
    assert error_reason(bad.value) == "BATCH_TOO_LARGE"
    assert not acme.client.ListWorks(api.ListWorksRequest(parent=acme.name)).works


def test_create_with_request_id_is_idempotent(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    request = api.CreateWorkRequest(parent=acme.name, work=article(1), request_id="req-1")
    first = acme.client.CreateWork(request)
    second = acme.client.CreateWork(request)
    assert first.name == second.name
    assert len(acme.client.ListWorks(api.ListWorksRequest(parent=acme.name)).works) == 1


def test_duplicate_ids_are_already_exists(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    acme.client.CreateWork(
        api.CreateWorkRequest(parent=acme.name, work=article(1), work_id="story")
    )
    with pytest.raises(grpc.RpcError) as dup:
        acme.client.CreateWork(
            api.CreateWorkRequest(parent=acme.name, work=article(2), work_id="story")
        )
    assert dup.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(dup.value) == "WORK_ALREADY_EXISTS"
    with pytest.raises(grpc.RpcError) as ext:
        acme.client.CreateWork(api.CreateWorkRequest(parent=acme.name, work=article(1)))
    assert error_reason(ext.value) == "EXTERNAL_ID_ALREADY_EXISTS"


def test_work_events_feed_in_commit_order(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    work = acme.client.CreateWork(api.CreateWorkRequest(parent=acme.name, work=article(1)))
    acme.client.UpdateWork(
        api.UpdateWorkRequest(
            work=res.Work(name=work.name, body="Second text."),
            update_mask=field_mask_pb2.FieldMask(paths=["body"]),
        )
    )
    acme.client.DeleteWork(api.DeleteWorkRequest(name=work.name))
    deadline = time.monotonic() + 5
    events: list[res.WorkEvent] = []
    while time.monotonic() < deadline and len(events) < 3:
        events = list(catalog.operator.ListWorkEvents(api.ListWorkEventsRequest()).events)
        time.sleep(0.05)
    kinds = [(e.kind, e.version) for e in events]
    assert kinds == [
        (res.WorkEvent.KIND_REGISTERED, 1),
        (res.WorkEvent.KIND_UPDATED, 2),
        (res.WorkEvent.KIND_DELETED, 2),
    ]
    assert [e.sequence for e in events] == [1, 2, 3]
    later = catalog.operator.ListWorkEvents(api.ListWorkEventsRequest(after_sequence=2))
    assert [e.sequence for e in later.events] == [3] and later.last_sequence == 3
