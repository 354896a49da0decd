"""Wiring: builds the provenance service's database, index, use cases and gRPC service.

The index is loaded from the database before the server opens its port, so a replica
never answers from a partial index; the catalog feed is followed once it serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import provenance_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace import TracerProvider

from services.provenance.adapters import tables
from services.provenance.adapters.analysis_pool import AnalysisPool
from services.provenance.adapters.catalog_feed import CatalogFeed
from services.provenance.adapters.licensing_client import LicensingPermissions
from services.provenance.adapters.sentence_encoder import SentenceEncoder, packaged_minilm
from services.provenance.adapters.vector_index import SentenceVectors
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.entrypoints.grpc_servicer import ProvenanceServicer
from services.provenance.service_layer.checking import CheckService, DocumentCache
from services.provenance.service_layer.indexing import IndexingService
from services.provenance.service_layer.semantic import (
    SemanticChecker,
    SemanticIndexer,
    SentenceRecordCache,
)
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.bootstrap import (
    catalog_key_authenticator,
    open_service_database,
    ready_database,
)
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.event_relay import SqlCursorStore
from services.runtime.lenient_decoding import add_leniently
from services.runtime.memory import map_large_allocations
from services.runtime.server import ServiceApp
from services.runtime.sqltypes import utc_now
from services.runtime.usage_reporting import UsageReporter

NAME = "provenance"
MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICE = api.DESCRIPTOR.services_by_name["ProvenanceService"].full_name


def open_database(settings: Settings) -> Database:
    return open_service_database(settings, NAME)


@dataclass(frozen=True)
class SemanticStage:
    indexer: SemanticIndexer
    vectors: SentenceVectors
    checker: SemanticChecker


def _semantic_stage(
    settings: Settings,
    uow: UnitOfWorkFactory,
    catalog: CatalogFeed,
    index: FingerprintIndex,
    documents: DocumentCache,
) -> SemanticStage | None:
    """The paraphrase stage, when the deployment has it: the model (checked against its
    digests), the vector index, its indexer and the checker."""
    if not settings.provenance_semantic:
        return None
    files = packaged_minilm()
    encoder = SentenceEncoder(files, threads=settings.provenance_semantic_threads)
    vectors = SentenceVectors(encoder.dimensions)
    model = files.digests["model.safetensors"][:16]
    indexer = SemanticIndexer(
        uow,
        catalog,
        index,
        vectors,
        encoder,
        model=model,
        poll_seconds=settings.provenance_poll_seconds,
        batch=settings.provenance_semantic_batch,
    )
    records = SentenceRecordCache(uow, model, settings.provenance_semantic_cache)
    checker = SemanticChecker(encoder, vectors, index, documents, records)
    return SemanticStage(indexer, vectors, checker)


def build_app(settings: Settings, tracer_provider: TracerProvider) -> ServiceApp:
    map_large_allocations()  # the index's merges free arrays of tens of megabytes
    database = ready_database(settings, NAME, MIGRATIONS, tracer_provider)

    channels = ServiceChannels(settings, tracer_provider)
    uow = UnitOfWorkFactory(database)
    index = FingerprintIndex(settings.provenance_max_postings)
    analysis = AnalysisPool(settings.provenance_index_workers)
    catalog = CatalogFeed(channels.channel("catalog"))
    indexing = IndexingService(
        uow,
        catalog,
        index,
        SqlCursorStore(database, tables.event_cursors, "catalog-works"),
        settings.provenance_poll_seconds,
        analysis.analyse,
    )
    indexing.load()
    permissions = LicensingPermissions(
        channels.channel("licensing"),
        settings.license_refresh_seconds,
        max_age_seconds=settings.work_cache_ttl_seconds,
    )
    documents = DocumentCache(uow, settings.provenance_document_cache)
    semantic = _semantic_stage(settings, uow, catalog, index, documents)
    checks = CheckService(
        index,
        documents,
        permissions,
        UsageReporter(channels.channel("metering")),
        paraphrases=semantic.checker if semantic else None,
    )
    servicer = ProvenanceServicer(
        checks,
        indexing,
        semantic.indexer if semantic else None,
        semantic.vectors if semantic else None,
    )
    semantic_work = [semantic.indexer] if semantic else []
    authenticator = catalog_key_authenticator(settings, channels)

    def register(server: grpc.Server) -> None:
        add_leniently(
            api_grpc.add_ProvenanceServiceServicer_to_server,
            servicer,
            server,
            judged_per_item=("CheckTexts",),  # a bad text gets its own error, the stream goes on
        )

    return ServiceApp(
        name=NAME,
        grpc_service_names=(GRPC_SERVICE,),
        register=register,
        authenticator=authenticator,
        on_start=[indexing.start, permissions.start, *(s.start for s in semantic_work)],
        on_stop=[
            *(s.stop for s in semantic_work),
            database.dispose,
            channels.close,
            analysis.close,
            indexing.stop,
            permissions.stop,
        ],
        gauges={
            "licentia_provenance_index_works": (
                "Works in this replica's index",
                lambda: float(index.stats().documents),
            ),
            "licentia_provenance_index_fingerprints": (
                "Fingerprints in this replica's index",
                lambda: float(index.stats().fingerprints),
            ),
            "licentia_provenance_index_bytes": (
                "Bytes held by this replica's query arrays",
                lambda: float(index.stats().memory_bytes),
            ),
            "licentia_provenance_feed_sequence": (
                "The last catalog work event this replica applied (index freshness)",
                lambda: float(indexing.position.sequence),
            ),
            "licentia_provenance_works_behind": (
                "Work changes in the catalog this replica has not applied yet",
                lambda: float(indexing.position.works_behind),
            ),
            "licentia_provenance_seconds_behind": (
                "How long the oldest change not applied yet has waited",
                lambda: indexing.position.seconds_behind(utc_now()),
            ),
        },
    )
