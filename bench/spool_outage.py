"""The toll's spool through a metering outage: prints figures; never a pass/fail test.

catalog, licensing and metering as processes; N allowed crawls (a real license, real
works) go into the edge's spool while metering cannot be reached (the relay points at a
port nothing listens on), then the relay is pointed at metering: every crawl is counted
exactly once (metering's own summary says so), and sending them all again counts nothing
more. `python -m bench.spool_outage 10000`.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as cgrpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lgrpc
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mgrpc

from bench.harness import OPERATOR, SERVICE_TOKEN, running
from services.edge.adapters.spool import CrawlSpool, SpoolRelay
from services.edge.domain.toll import Crawl, crawl_id
from services.runtime.clients import open_channel
from services.runtime.errors import Unavailable
from services.runtime.ports import free_port
from services.runtime.usage_reporting import UsageReporter


def main(crawls: int) -> None:
    op = [("authorization", f"Bearer {OPERATOR}")]
    with running(["catalog", "licensing", "metering"]) as ports:
        catalog = cgrpc.CatalogServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports['catalog']}"))
        licensing = lgrpc.LicensingServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ports['licensing']}")
        )
        catalog.CreatePublisher(
            capi.CreatePublisherRequest(
                publisher=cres.Publisher(display_name="P"), publisher_id="p"
            ),
            metadata=op,
        )
        catalog.CreateVendor(
            capi.CreateVendorRequest(vendor=cres.Vendor(display_name="V"), vendor_id="v"),
            metadata=op,
        )
        works = [
            catalog.CreateWork(
                capi.CreateWorkRequest(
                    parent="publishers/p",
                    work=cres.Work(external_id=str(i), title="T", body="b", language="en"),
                ),
                metadata=op,
            ).name
            for i in range(20)
        ]
        offer = licensing.CreateOffer(
            lapi.CreateOfferRequest(
                parent="publishers/p",
                offer=lres.Offer(
                    display_name="Crawl",
                    terms=lres.Terms(
                        permitted_uses=["ai-train"],
                        price=lres.Price(
                            model=lres.Price.MODEL_PER_CRAWL, currency="USD", amount_micros=10_000
                        ),
                    ),
                ),
            ),
            metadata=op,
        )
        licensing.PublishOffer(lapi.PublishOfferRequest(name=offer.name), metadata=op)
        key = catalog.CreateApiKey(capi.CreateApiKeyRequest(parent="vendors/v"), metadata=op).key
        proposal = licensing.CreateProposal(
            lapi.CreateProposalRequest(offer=offer.name),
            metadata=[("authorization", f"Bearer {key}")],
        )
        now = datetime.now(UTC)
        with tempfile.TemporaryDirectory() as tmp:
            spool = CrawlSpool(Path(tmp) / "crawls.db")
            started = time.perf_counter()
            for i in range(crawls):
                spool.add(
                    Crawl(crawl_id(f"n{i}", f"https://p/{i}"), "vendors/v", proposal.license,
                          works[i % len(works)], "ai-train", now)
                )  # fmt: skip
            spooled = time.perf_counter() - started
            down = open_channel(f"127.0.0.1:{free_port()}", SERVICE_TOKEN, timeout_seconds=1.0)
            with contextlib.suppress(Unavailable):
                SpoolRelay(spool, UsageReporter(down, 1.0), 0.1).run_once()
            print(f"spool: {crawls:,} crawls written in {spooled:.2f} s while metering is down; "
                  f"backlog {spool.backlog():,}")  # fmt: skip
            up = open_channel(f"127.0.0.1:{ports['metering']}", SERVICE_TOKEN)
            relay = SpoolRelay(spool, UsageReporter(up), 0.1)
            started = time.perf_counter()
            while spool.backlog():
                relay.run_once()
            drained = time.perf_counter() - started
            for i in range(crawls):  # every crawl decided again
                spool.add(
                    Crawl(crawl_id(f"n{i}", f"https://p/{i}"), "vendors/v", proposal.license,
                          works[i % len(works)], "ai-train", now)
                )  # fmt: skip
            while spool.backlog():
                relay.run_once()
            metering = mgrpc.MeteringServiceStub(up)
            hour = now.replace(minute=0, second=0, microsecond=0)
            rows = metering.GetUsageSummary(
                mapi.GetUsageSummaryRequest(
                    start_time=Timestamp(seconds=int((hour - timedelta(hours=1)).timestamp())),
                    end_time=Timestamp(seconds=int((hour + timedelta(hours=2)).timestamp())),
                    license=proposal.license,
                ),
                metadata=op,
            ).rows
            counted = sum(r.quantity for r in rows)
            print(
                f"spool: metering back, {crawls:,} crawls sent in {drained:.1f} s; all sent "
                f"again; metering counts {counted:,} (exactly once: {counted == crawls})"
            )
            spool.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
