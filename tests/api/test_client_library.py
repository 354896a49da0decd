"""The Python client through the real servers: paging, and the usage batcher resending
what got no answer while metering was down, each event counted once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import resources_pb2 as mres

from services.client import Endpoints, Licentia, UsageBatcher
from services.runtime.proto_time import timestamp
from tests.api.market import Market, start_metering, terms


def endpoints(market: Market) -> Endpoints:
    s = market.catalog.settings
    return Endpoints(
        catalog=market.catalog.address,
        licensing=market.licensing.address,
        provenance=s.address_of("provenance"),
        metering=s.address_of("metering"),
        settlement=s.address_of("settlement"),
    )


def test_paged_lists_every_item_across_pages(market: Market) -> None:
    with Licentia(market.pa.account.key, endpoints(market)) as lic:
        request = capi.ListWorksRequest(parent=market.pa.name, page_size=3)
        names = [w.name for w in lic.paged(lic.catalog.ListWorks, request, "works")]
    assert sorted(names) == sorted(market.works_a) and len(market.works_a) == 4


def test_the_batcher_resends_unanswered_batches_and_nothing_counts_twice(market: Market) -> None:
    lic_name = market.license(market.va, market.offer(market.pa, terms(
        scope=lres.Scope(works=market.works_a)
    ))).name  # fmt: skip
    now = timestamp(datetime.now(UTC))
    events = [
        mres.UsageEvent(
            id=f"b{i}", license=lic_name, work=market.works_a[i % 4], use="ai-input",
            unit=mres.UNIT_USES, quantity=1, occur_time=now,
        )
        for i in range(120)
    ]  # fmt: skip
    metering = None
    with Licentia(market.va.account.key, endpoints(market), timeout_seconds=2) as lic:
        batcher = UsageBatcher(lic.metering, batch_size=50, flush_seconds=0.05)
        for event in events:
            batcher.add(event)
        time.sleep(1.0)  # metering is down: the first batch keeps being resent
        assert batcher.batches_sent == 0 and not batcher.results
        started = threading.Event()

        def start() -> None:
            nonlocal metering
            metering = start_metering(market)
            started.set()

        threading.Thread(target=start).start()
        assert batcher.flush(timeout_seconds=60)
        batcher.close()
    try:
        assert started.is_set()
        # A batch metering stored but whose answer was lost (the deadline passed while it
        # started) is answered DUPLICATE when resent: a success, counted once.
        assert set(batcher.counts) <= {"ACCEPTED", "DUPLICATE"}
        assert batcher.counts["ACCEPTED"] + batcher.counts["DUPLICATE"] == 120
        assert set(batcher.results) == {e.id for e in events}
        with Licentia(market.va.account.key, endpoints(market)) as lic:
            rows = lic.metering.GetUsageSummary(
                mapi.GetUsageSummaryRequest(
                    start_time=timestamp(
                        datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                        - timedelta(hours=1)
                    ),
                    end_time=timestamp(
                        datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                        + timedelta(hours=2)
                    ),
                    license=lic_name,
                )
            ).rows
        assert sum(row.quantity for row in rows) == sum(row.events for row in rows) == 120
    finally:
        if metering is not None:
            metering.channel.close()
            metering.server.stop(0)
