"""Domain results to protobuf messages."""

from __future__ import annotations

from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import resources_pb2 as res

from services.provenance.adapters.vector_index import VectorStats
from services.provenance.domain.fingerprint_index import IndexStats
from services.provenance.domain.matching import MatchType
from services.provenance.service_layer.checking import CheckedMatch, CheckResult, Mode
from services.provenance.service_layer.indexing import FeedPosition
from services.provenance.service_layer.semantic import SemanticProgress
from services.runtime.errors import Violations
from services.runtime.proto_time import timestamp
from services.runtime.sqltypes import utc_now

_MATCH_TYPES = {
    MatchType.EXACT: res.MATCH_TYPE_EXACT,
    MatchType.NEAR_EXACT: res.MATCH_TYPE_NEAR_EXACT,
    MatchType.EDITED: res.MATCH_TYPE_EDITED,
    MatchType.PARAPHRASE: res.MATCH_TYPE_PARAPHRASE,
}


_MODES: dict[int, Mode] = {
    api.CHECK_MODE_UNSPECIFIED: Mode.LEXICAL,
    api.CHECK_MODE_LEXICAL: Mode.LEXICAL,
    api.CHECK_MODE_SEMANTIC: Mode.SEMANTIC,
}


def mode(value: int) -> Mode:
    """CHECK_MODE_* to the use case's mode; a value this version does not know is refused."""
    found = _MODES.get(value)
    if found is None:
        v = Violations()
        v.add("mode", f"unknown mode {value}: CHECK_MODE_LEXICAL or CHECK_MODE_SEMANTIC")
        v.raise_if_any("INVALID_FIELDS")
    assert found is not None
    return found


def check_response(result: CheckResult) -> api.CheckTextResponse:
    return api.CheckTextResponse(
        matches=[work_match(m) for m in result.matches], text_words=result.text_words
    )


def stream_response(result: CheckResult, client_ref: str) -> api.CheckTextsResponse:
    return api.CheckTextsResponse(
        client_ref=client_ref,
        matches=[work_match(m) for m in result.matches],
        text_words=result.text_words,
    )


def work_match(checked: CheckedMatch) -> res.WorkMatch:
    m = checked.match
    out = res.WorkMatch(
        work=m.document.work,
        publisher=m.document.publisher,
        version=m.document.version,
        spans=[
            res.MatchedSpan(
                text_start=s.query_start,
                text_end=s.query_end,
                work_start=s.work_start,
                work_end=s.work_end,
                matched_words=s.matched_words,
                edited_words=s.edits,
                similarity=round(s.similarity, 4),
            )
            for s in m.spans
        ],
        text_coverage=round(m.query_coverage, 4),
        work_coverage=round(m.work_coverage, 4),
        longest_run_words=m.longest_run,
        matched_words=m.matched_words,
        match_type=_MATCH_TYPES[m.match_type],
        score=m.score,
        similarity=m.similarity,
        usage_event=checked.usage_event,
    )
    answer = checked.license
    if answer is not None:
        if answer.allowed is None:
            out.license_status = res.LICENSE_STATUS_UNKNOWN
        else:
            allowed = answer.allowed
            out.license_status = (
                res.LICENSE_STATUS_LICENSED if allowed else res.LICENSE_STATUS_UNLICENSED
            )
        out.license = answer.license
        out.license_explanation = answer.explanation
    return out


def index_stats(stats: IndexStats, position: FeedPosition) -> res.IndexStats:
    return res.IndexStats(
        works=stats.documents,
        fingerprints=stats.fingerprints,
        memory_bytes=stats.memory_bytes,
        last_event_sequence=position.sequence,
        last_event_time=timestamp(position.change.occur_time) if position.change else None,
        catalog_last_sequence=max(position.head_sequence, position.sequence),
        works_behind=position.works_behind,
        seconds_behind=round(position.seconds_behind(utc_now()), 3),
    )


def add_semantic_stats(
    stats: res.IndexStats, vectors: VectorStats, progress: SemanticProgress
) -> None:
    stats.semantic_enabled = True
    stats.semantic_works = vectors.documents
    stats.semantic_sentences = vectors.sentences
    stats.semantic_memory_bytes = vectors.memory_bytes
    stats.semantic_works_behind = progress.behind
