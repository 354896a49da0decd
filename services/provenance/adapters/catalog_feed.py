"""What provenance reads from the catalog: the work event feed and the works' texts."""

from __future__ import annotations

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

from services.provenance.domain.works import FeedPage, WorkChange, WorkText
from services.runtime.proto_time import from_timestamp

BODY_BATCH = 200  # bodies per call: up to 500,000 characters each, within message limits


class CatalogFeed:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = api_grpc.CatalogServiceStub(channel)

    def changes(self, after_sequence: int, limit: int) -> FeedPage:
        response = self._stub.ListWorkEvents(
            api.ListWorkEventsRequest(after_sequence=after_sequence, page_size=limit)
        )
        changes = [
            WorkChange(
                e.sequence,
                res.WorkEvent.Kind.Name(e.kind).removeprefix("KIND_"),
                e.work,
                e.version,
                from_timestamp(e, "occur_time"),
            )
            for e in response.events
        ]
        return FeedPage(changes, max(response.head_sequence, response.last_sequence))

    def texts(self, works: list[str]) -> dict[str, WorkText]:
        """Current text of each work that still exists."""
        found: dict[str, WorkText] = {}
        for i in range(0, len(works), BODY_BATCH):
            response = self._stub.BatchGetWorks(
                api.BatchGetWorksRequest(names=works[i : i + BODY_BATCH], view=res.WORK_VIEW_FULL)
            )
            for w in response.works:
                found[w.name] = WorkText(w.name, w.version, w.body)
        return found
