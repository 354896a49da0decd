"""Wiring: the edge's license server (Starlette on uvicorn) over the catalog's and
licensing's gRPC contracts. No database: everything durable lives in the services."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider
from starlette.types import ASGIApp

from services.edge.adapters.analytics import CrawlerAnalytics
from services.edge.adapters.budgets import BudgetWatch
from services.edge.adapters.caches import (
    LicenseStateCache,
    Poller,
    TokenKeys,
    WorkUrlMap,
    bot_keys,
    crawl_offers,
    licensing_jwks,
)
from services.edge.adapters.crawl_licenses import OfferBoard, PerCrawlLicenses
from services.edge.adapters.signatures import WebBotAuth
from services.edge.adapters.spool import CrawlSpool, SpoolRelay
from services.edge.adapters.upstream import CatalogClient, LicensingClient
from services.edge.entrypoints.ext_authz import add_to_server as add_ext_authz
from services.edge.entrypoints.http import build_http_app
from services.edge.service_layer.license_server import LicenseServer
from services.edge.service_layer.toll import TollBooth
from services.runtime import metrics
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.http_server import serve_http
from services.runtime.telemetry import build_tracer_provider
from services.runtime.usage_reporting import UsageReporter

NAME = "edge"
log = logging.getLogger("licentia.edge")


def build_app(settings: Settings, tracer_provider: TracerProvider | None = None) -> ASGIApp:
    channels = ServiceChannels(settings, tracer_provider or build_tracer_provider(settings, NAME))
    public_url = settings.public_url_of_edge()
    server = LicenseServer(
        CatalogClient(channels.channel("catalog")),
        LicensingClient(channels.channel("licensing")),
        public_url,
        settings.edge_token_ttl_seconds,
    )
    licenses = LicenseStateCache(channels.channel("licensing"), settings.edge_feed_seconds)
    works = WorkUrlMap(channels.channel("catalog"), settings.edge_feed_seconds)
    spool = CrawlSpool(Path(settings.data_dir) / "edge" / "crawls.db")
    relay = SpoolRelay(
        spool, UsageReporter(channels.channel("metering")), settings.edge_feed_seconds
    )
    keys = TokenKeys(licensing_jwks(channels.channel("licensing")))
    signatures, board = WebBotAuth(), OfferBoard()
    read_bots, read_offers = (
        bot_keys(channels.channel("catalog")),
        crawl_offers(channels.channel("licensing")),
    )
    pollers = [
        Poller(
            "edge-bots", lambda: signatures.replace_keys(read_bots()), settings.edge_feed_seconds
        ),
        Poller("edge-offers", lambda: board.replace(read_offers()), settings.edge_feed_seconds),
    ]
    analytics = CrawlerAnalytics(Path(settings.data_dir) / "edge" / "analytics.db")
    pollers.append(Poller("edge-analytics", analytics.flush, 1.0))
    budgets = BudgetWatch(channels.channel("settlement"))
    pollers.append(Poller("edge-budgets", budgets.refresh, settings.edge_feed_seconds * 5))
    metrics.gauge(
        "licentia_toll_spool_backlog", "Allowed crawls not yet counted by metering", NAME,
        lambda: float(spool.backlog()),
    )  # fmt: skip
    booth = TollBooth(
        keys, licenses, works, spool, public_url, signatures, board,
        PerCrawlLicenses(LicensingClient(channels.channel("licensing"))), analytics, budgets,
    )  # fmt: skip

    authz = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="ext-authz"))
    add_ext_authz(booth, authz)
    if settings.edge_authz_port:
        authz.add_insecure_port(f"{settings.host}:{settings.edge_authz_port}")

    def start() -> None:
        if settings.edge_authz_port:
            authz.start()
        licenses.relay.start()
        works.relay.start()
        relay.start()
        for poller in pollers:
            poller.start()

    def stop() -> None:
        authz.stop(settings.shutdown_grace_seconds).wait()
        for poller in pollers:
            poller.stop()
        for stopping in (
            relay.stop,
            works.relay.stop,
            licenses.relay.stop,
            spool.close,
            analytics.close,
        ):
            stopping()
        channels.close()

    metrics.gauge(
        "licentia_toll_works", "Works whose URL the toll knows (from the catalog's feed)", NAME,
        lambda: float(len(works)),
    )  # fmt: skip
    return build_http_app(
        server, booth, spool.backlog, analytics, lambda: len(works),
        on_startup=start, on_shutdown=stop,
    )  # fmt: skip


def serve(settings: Settings, tracer_provider: TracerProvider, port: int | None = None) -> None:
    """Run until SIGTERM or SIGINT (uvicorn drains in-flight requests for the grace)."""
    serve_http(build_app(settings, tracer_provider), settings, NAME, port)
