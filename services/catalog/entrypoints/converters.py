"""Protobuf <-> domain translation for the catalog API."""

from __future__ import annotations

from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import resources_pb2 as res

from services.catalog.domain.bots import Bot
from services.catalog.domain.model import (
    ApiKey,
    OAuthClient,
    Publisher,
    RightsHolder,
    Vendor,
    Work,
    WorkFields,
    WorkVersion,
)
from services.catalog.service_layer.importing import ImportResult
from services.runtime.errors import InvalidArgument
from services.runtime.outbox import OutboxEvent
from services.runtime.proto_time import from_timestamp, timestamp

_ERROR_CODES = {  # google.rpc.Code values for per-item import errors
    "INVALID_ARGUMENT": 3,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "FAILED_PRECONDITION": 9,
    "CONFLICT": 10,
    "RESOURCE_EXHAUSTED": 8,
    "UNAUTHENTICATED": 16,
    "UNAVAILABLE": 14,
}
_EVENT_KINDS = {
    "REGISTERED": res.WorkEvent.KIND_REGISTERED,
    "UPDATED": res.WorkEvent.KIND_UPDATED,
    "DELETED": res.WorkEvent.KIND_DELETED,
}


def publisher(p: Publisher) -> res.Publisher:
    return res.Publisher(
        name=p.name,
        display_name=p.display_name,
        contact_email=p.contact_email,
        create_time=timestamp(p.create_time),
    )


def vendor(v: Vendor) -> res.Vendor:
    return res.Vendor(
        name=v.name,
        display_name=v.display_name,
        contact_email=v.contact_email,
        create_time=timestamp(v.create_time),
    )


def api_key(k: ApiKey) -> res.ApiKey:
    return res.ApiKey(
        name=k.name,
        display_name=k.display_name,
        create_time=timestamp(k.create_time),
        revoke_time=timestamp(k.revoke_time),
    )


def oauth_client(c: OAuthClient) -> res.OAuthClient:
    return res.OAuthClient(
        name=c.name,
        client_id=c.id,
        display_name=c.display_name,
        create_time=timestamp(c.create_time),
        revoke_time=timestamp(c.revoke_time),
    )


def bot(b: Bot) -> res.Bot:
    return res.Bot(
        name=b.name,
        display_name=b.display_name,
        user_agent=b.user_agent,
        public_keys=b.public_keys,
        key_directory_url=b.key_directory_url,
        key_ids=b.key_ids,
        create_time=timestamp(b.create_time),
    )


def work_fields(w: res.Work) -> WorkFields:
    return WorkFields(
        external_id=w.external_id,
        title=w.title,
        authors=tuple(w.authors),
        language=w.language,
        section=w.section,
        tags=tuple(w.tags),
        canonical_url=w.canonical_url,
        publish_time=from_timestamp(w, "publish_time"),
        body=w.body,
        rights_holders=tuple(
            RightsHolder(h.party, h.display_name, h.share_bps) for h in w.rights_holders
        ),
    )


def populated_fields(w: res.Work) -> frozenset[str]:
    """The mutable fields a request sets, for an update without a mask (AIP-134)."""
    return frozenset(f.name for f, _ in w.ListFields()) - {"name", "etag"}


def work(w: Work) -> res.Work:
    f = w.fields
    return res.Work(
        name=w.name,
        external_id=f.external_id,
        title=f.title,
        authors=f.authors,
        language=f.language,
        section=f.section,
        tags=f.tags,
        canonical_url=f.canonical_url,
        publish_time=timestamp(f.publish_time),
        body=f.body,
        content_hash=w.content_hash,
        word_count=w.word_count,
        version=w.version,
        rights_holders=[
            res.RightsHolder(party=h.party, display_name=h.display_name, share_bps=h.share_bps)
            for h in f.rights_holders
        ],
        create_time=timestamp(w.create_time),
        update_time=timestamp(w.update_time),
        etag=w.etag,
    )


def work_version(work_name: str, v: WorkVersion) -> res.WorkVersion:
    return res.WorkVersion(
        name=f"{work_name}/versions/{v.version}",
        version=v.version,
        content_hash=v.content_hash,
        word_count=v.word_count,
        title=v.title,
        create_time=timestamp(v.create_time),
    )


def import_result(r: ImportResult) -> api.ImportWorkResult:
    result = api.ImportWorkResult(
        index=r.index,
        external_id=r.external_id,
        work=r.work,
        outcome=api.ImportWorkResult.Outcome.Value(f"OUTCOME_{r.outcome.value}"),
    )
    if r.error is not None:
        result.error.code = _ERROR_CODES[r.error.kind.value]
        result.error.message = r.error.message
        result.error.reason = r.error.reason
        if isinstance(r.error, InvalidArgument):
            result.error.field_violations.extend(
                api.FieldViolation(field=v.field, description=v.description)
                for v in r.error.violations
            )
    return result


def work_event(e: OutboxEvent) -> res.WorkEvent:
    return res.WorkEvent(
        sequence=e.sequence,
        kind=_EVENT_KINDS[e.event_type],
        work=e.payload["work"],
        version=e.payload["version"],
        content_hash=e.payload["content_hash"],
        occur_time=timestamp(e.occurred_at),
    )
