"""The gRPC adapter: protobuf in, use cases, protobuf out. No logic of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import provenance_service_pb2_grpc as api_grpc
from licentia.provenance.v1 import resources_pb2 as res

from services.provenance.adapters.vector_index import SentenceVectors
from services.provenance.entrypoints import converters as cv
from services.provenance.service_layer.checking import MAX_STREAM_TEXTS, CheckService
from services.provenance.service_layer.indexing import IndexingService
from services.provenance.service_layer.semantic import SemanticIndexer
from services.runtime.error_mapping import MAX_MESSAGE, bounded, code_name
from services.runtime.errors import LicentiaError, ResourceExhausted
from services.runtime.lenient_decoding import refuse_unstorable
from services.runtime.principal import current_principal, require

Context = Any


class ProvenanceServicer(api_grpc.ProvenanceServiceServicer):
    def __init__(
        self,
        checks: CheckService,
        indexing: IndexingService,
        semantic: SemanticIndexer | None = None,
        vectors: SentenceVectors | None = None,
    ) -> None:
        self._checks = checks
        self._indexing = indexing
        self._semantic = semantic
        self._vectors = vectors

    def CheckText(self, request: api.CheckTextRequest, context: Context) -> api.CheckTextResponse:
        result = self._checks.check(
            current_principal(),
            request.text,
            request.use,
            request.record_usage,
            request.request_id,
            cv.mode(request.mode),
        )
        return cv.check_response(result)

    def CheckTexts(
        self, requests: Iterator[api.CheckTextsRequest], context: Context
    ) -> Iterator[api.CheckTextsResponse]:
        principal = current_principal()
        for count, request in enumerate(requests, start=1):
            if count > MAX_STREAM_TEXTS:
                raise ResourceExhausted(
                    "TOO_MANY_TEXTS",
                    f"a stream carries at most {MAX_STREAM_TEXTS} texts; open a new one",
                    retry_after_seconds=0,
                )
            try:
                refuse_unstorable(request)  # this text only, like any bad text
                result = self._checks.check(
                    principal,
                    request.text,
                    request.use,
                    request.record_usage,
                    request.request_id,
                    cv.mode(request.mode),
                )
            except LicentiaError as error:  # this text only; the stream goes on
                yield api.CheckTextsResponse(
                    client_ref=getattr(request, "client_ref", ""),
                    error=api.ErrorDetail(
                        code=code_name(error),
                        reason=error.reason,
                        message=bounded(error.message, MAX_MESSAGE),
                    ),
                )
                continue
            yield cv.stream_response(result, request.client_ref)

    def GetIndexStats(self, request: api.GetIndexStatsRequest, context: Context) -> res.IndexStats:
        p = current_principal()
        require(p.is_trusted, "only the operator and Licentia services read index statistics")
        stats = cv.index_stats(self._indexing.index.stats(), self._indexing.position)
        if self._semantic is not None and self._vectors is not None:
            cv.add_semantic_stats(stats, self._vectors.stats(), self._semantic.progress)
        return stats
