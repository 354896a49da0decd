"""CheckText: which indexed works a text derives from, and may the caller use them.

Limits (documented in the API): a text holds 1..200,000 characters; a stream carries
at most 100,000 texts. The words of candidate documents are read from the database
through a bounded cache, so memory does not grow with the catalog.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol

from services.provenance.domain.documents import analyse
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.matching import (
    IndexedDocument,
    Match,
    MatchRules,
    candidates,
    verify,
)
from services.provenance.domain.paraphrase import Sentence
from services.provenance.domain.works import LicenseAnswer
from services.provenance.service_layer.caching import LruCache
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.errors import FailedPrecondition, Unavailable, Violations
from services.runtime.principal import Principal, Role, require
from services.runtime.sqltypes import utc_now
from services.runtime.usage_reporting import ServiceUsage, UsageRecorder, service_event_id
from services.runtime.uses import CONCRETE_USES

MAX_TEXT_CHARS = 200_000
MAX_STREAM_TEXTS = 100_000
DEFAULT_USE = "ai-input"


class Mode(Enum):
    LEXICAL = "lexical"
    SEMANTIC = "semantic"  # lexical, then paraphrase (the works restated in other words)


class Paraphrases(Protocol):
    def sentences_of(self, text: str) -> list[Sentence]: ...
    def matches(
        self,
        text: str,
        text_words: int,
        exclude: set[int],
        quoted: Sequence[tuple[int, int]],
        split: Sequence[Sentence] | None,
    ) -> list[Match]: ...


class LicenseSource(Protocol):
    def answers(self, vendor: str, works: list[str], use: str) -> dict[str, LicenseAnswer]: ...


class DocumentSource(Protocol):
    """Verification data of documents by id (the database, through a cache)."""

    def get(self, doc_ids: Iterable[int]) -> dict[int, IndexedDocument]: ...


@dataclass(frozen=True)
class CheckedMatch:
    match: Match
    # None when the caller is not a vendor (nothing to check).
    license: LicenseAnswer | None
    # The attribution usage event recorded for it, if asked for.
    usage_event: str = ""


@dataclass(frozen=True)
class CheckResult:
    matches: list[CheckedMatch]
    text_words: int


class DocumentCache(LruCache[IndexedDocument]):
    """Verification data of recently matched documents, least recently used out."""

    def __init__(self, uow: UnitOfWorkFactory, capacity: int) -> None:
        def load(doc_ids: list[int]) -> dict[int, IndexedDocument]:
            # Reads by id that need no common snapshot: no transaction (one round trip).
            with uow(write=False, autocommit=True) as u:
                return {d.doc_id: d for d in u.index.documents(doc_ids)}

        super().__init__(load, capacity)


class CheckService:
    def __init__(
        self,
        index: FingerprintIndex,
        documents: DocumentSource,
        licenses: LicenseSource,
        usage: UsageRecorder | None = None,
        rules: MatchRules | None = None,
        paraphrases: Paraphrases | None = None,
    ) -> None:
        self._paraphrases = paraphrases
        self._index = index
        self._documents = documents
        self._licenses = licenses
        self._usage = usage
        self._rules = rules or MatchRules()

    def check(
        self,
        p: Principal,
        text: str,
        use: str,
        record_usage: bool = False,
        request_id: str = "",
        mode: Mode = Mode.LEXICAL,
    ) -> CheckResult:
        use = use or DEFAULT_USE
        _validate(text, use, p if record_usage else None, request_id)
        paraphrases = self._paraphrases if mode is Mode.SEMANTIC else None
        if mode is Mode.SEMANTIC and paraphrases is None:
            raise FailedPrecondition(
                "SEMANTIC_INDEX_OFF",
                "this deployment has no semantic index (LICENTIA_PROVENANCE_SEMANTIC): "
                "check in lexical mode",
            )
        split = paraphrases.sentences_of(text) if paraphrases else None  # refuses too long
        analysed = analyse(text)
        hits = self._index.lookup(analysed.grams)
        wanted = candidates(hits, self._rules)
        documents = self._documents.get(wanted) if wanted else {}
        # A document removed since the lookup is not reported.
        live = {d: doc for d, doc in documents.items() if self._index.is_live(d)}
        matches = verify(analysed, hits, live, self._rules)
        if paraphrases is not None:
            found = {m.document.doc_id for m in matches}  # by wording: not again by meaning
            quoted = [(s.query_start, s.query_end) for m in matches for s in m.spans]
            matches += paraphrases.matches(text, analysed.word_count, found, quoted, split)
        answers: dict[str, LicenseAnswer] = {}
        if p.role is Role.VENDOR and matches:
            works = [m.document.work for m in matches]
            answers = self._licenses.answers(p.account, works, use)
        checked = [CheckedMatch(m, answers.get(m.document.work)) for m in matches]
        if record_usage:
            checked = self._record(p.account, checked, use, request_id)
        return CheckResult(checked, analysed.word_count)

    def _record(
        self, vendor: str, checked: list[CheckedMatch], use: str, request_id: str
    ) -> list[CheckedMatch]:
        """One attribution unit per licensed work, under an id fixed by the request and
        the work: a retried request is recognised by metering and counted once."""
        assert self._usage is not None
        now = utc_now()
        licensed = [c for c in checked if c.license is not None and c.license.allowed]
        events = [
            ServiceUsage(
                id=service_event_id("attribution", _digest(request_id, c.match.document.work)),
                license=c.license.license,  # type: ignore[union-attr]
                work=c.match.document.work,
                use=use,
                unit="attribution",
                quantity=1,
                occur_time=now,
                source="licentia-provenance",
                attributes={"request": request_id},
            )
            for c in licensed
        ]
        answers = self._usage.record(vendor, events)
        if any(a.retry_later for a in answers):
            raise Unavailable("LICENSING_UNAVAILABLE", "usage could not be recorded now; retry")
        # CONFLICT: this request's attribution was counted before (a retry, another time).
        recorded = {
            e.work: e.id
            for e, a in zip(events, answers, strict=True)
            if a.recorded or a.status == "CONFLICT"
        }
        return [replace(c, usage_event=recorded.get(c.match.document.work, "")) for c in checked]


def _digest(request_id: str, work: str) -> str:
    return hashlib.sha256(f"{request_id}\x1f{work}".encode()).hexdigest()[:32]


def _validate(text: str, use: str, recording_for: Principal | None, request_id: str) -> None:
    if recording_for is not None:
        require(
            recording_for.role is Role.VENDOR, "only vendors record attribution usage (their own)"
        )
    v = Violations()
    if recording_for is not None and not 1 <= len(request_id) <= 64:
        v.add("request_id", "1..64 characters: needed with record_usage, so retries count once")
    if not text.strip():
        v.add("text", "required: the text to check")
    elif len(text) > MAX_TEXT_CHARS:
        v.add("text", f"{len(text)} characters; at most {MAX_TEXT_CHARS}")
    if use not in CONCRETE_USES:
        v.add("use", f"must be one of {', '.join(CONCRETE_USES)}")
    v.raise_if_any("TEXT_TOO_LONG" if len(text) > MAX_TEXT_CHARS else "INVALID_FIELDS")
