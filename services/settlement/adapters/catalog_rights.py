"""Settlement's view of the catalog: who holds the rights of each billed work."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc

from services.runtime.upstream import upstream
from services.settlement.domain.postings import Holder

BATCH = 1_000  # BatchGetWorks' limit


class CatalogRights:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = api_grpc.CatalogServiceStub(channel)

    def holders(self, works: Sequence[str]) -> dict[str, tuple[Holder, ...]]:
        """Works that no longer exist are left out: their publisher is paid in full."""
        found: dict[str, tuple[Holder, ...]] = {}
        with upstream("catalog"):
            for i in range(0, len(works), BATCH):
                response = self._stub.BatchGetWorks(
                    api.BatchGetWorksRequest(names=list(works[i : i + BATCH]))
                )
                for w in response.works:
                    found[w.name] = tuple(Holder(h.party, h.share_bps) for h in w.rights_holders)
        return found
