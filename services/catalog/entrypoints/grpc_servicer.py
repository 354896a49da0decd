"""CatalogService over gRPC: request -> use case -> response, nothing more.

No try/except here: domain errors are mapped to statuses by the runtime's interceptor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf import empty_pb2
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

from services.catalog.domain.model import MUTABLE_FIELDS, WorkFilter
from services.catalog.entrypoints import converters as cv
from services.catalog.service_layer.accounts import AccountInput, AccountService
from services.catalog.service_layer.bots import BotService
from services.catalog.service_layer.delivery import ContentService
from services.catalog.service_layer.events import EventFeedService
from services.catalog.service_layer.importing import ImportResult, ImportService
from services.catalog.service_layer.works import WorkService
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.principal import current_principal

Context = Any


class CatalogServicer(api_grpc.CatalogServiceServicer):
    def __init__(
        self,
        accounts: AccountService,
        works: WorkService,
        imports: ImportService,
        events: EventFeedService,
        content: ContentService,
        bots: BotService,
    ) -> None:
        self._bots = bots
        self._accounts = accounts
        self._works = works
        self._imports = imports
        self._events = events
        self._content = content

    def CreatePublisher(
        self, request: api.CreatePublisherRequest, context: Context
    ) -> res.Publisher:
        data = AccountInput(request.publisher.display_name, request.publisher.contact_email)
        created = self._accounts.create_publisher(
            current_principal(), data, request.publisher_id, request.request_id
        )
        return cv.publisher(created)

    def GetPublisher(self, request: api.GetPublisherRequest, context: Context) -> res.Publisher:
        return cv.publisher(self._accounts.get_publisher(current_principal(), request.name))

    def ListPublishers(
        self, request: api.ListPublishersRequest, context: Context
    ) -> api.ListPublishersResponse:
        page = self._accounts.list_publishers(
            current_principal(), request.page_size, request.page_token
        )
        return api.ListPublishersResponse(
            publishers=[cv.publisher(p) for p in page.items], next_page_token=page.next_page_token
        )

    def CreateVendor(self, request: api.CreateVendorRequest, context: Context) -> res.Vendor:
        data = AccountInput(request.vendor.display_name, request.vendor.contact_email)
        created = self._accounts.create_vendor(
            current_principal(), data, request.vendor_id, request.request_id
        )
        return cv.vendor(created)

    def GetVendor(self, request: api.GetVendorRequest, context: Context) -> res.Vendor:
        return cv.vendor(self._accounts.get_vendor(current_principal(), request.name))

    def ListVendors(
        self, request: api.ListVendorsRequest, context: Context
    ) -> api.ListVendorsResponse:
        page = self._accounts.list_vendors(
            current_principal(), request.page_size, request.page_token
        )
        return api.ListVendorsResponse(
            vendors=[cv.vendor(v) for v in page.items], next_page_token=page.next_page_token
        )

    def CreateApiKey(
        self, request: api.CreateApiKeyRequest, context: Context
    ) -> api.CreateApiKeyResponse:
        key, secret = self._accounts.create_api_key(
            current_principal(), request.parent, request.api_key.display_name, request.request_id
        )
        return api.CreateApiKeyResponse(api_key=cv.api_key(key), key=secret)

    def ListApiKeys(
        self, request: api.ListApiKeysRequest, context: Context
    ) -> api.ListApiKeysResponse:
        page = self._accounts.list_api_keys(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return api.ListApiKeysResponse(
            api_keys=[cv.api_key(k) for k in page.items], next_page_token=page.next_page_token
        )

    def RevokeApiKey(self, request: api.RevokeApiKeyRequest, context: Context) -> res.ApiKey:
        return cv.api_key(self._accounts.revoke_api_key(current_principal(), request.name))

    def AuthenticateApiKey(
        self, request: api.AuthenticateApiKeyRequest, context: Context
    ) -> api.AuthenticateApiKeyResponse:
        principal = self._accounts.authenticate_for_service(current_principal(), request.key)
        return api.AuthenticateApiKeyResponse(account=principal.account, api_key=principal.api_key)

    def CreateOAuthClient(
        self, request: api.CreateOAuthClientRequest, context: Context
    ) -> api.CreateOAuthClientResponse:
        client, secret = self._accounts.create_oauth_client(
            current_principal(),
            request.parent,
            request.oauth_client.display_name,
            request.request_id,
        )
        return api.CreateOAuthClientResponse(
            oauth_client=cv.oauth_client(client), client_secret=secret
        )

    def ListOAuthClients(
        self, request: api.ListOAuthClientsRequest, context: Context
    ) -> api.ListOAuthClientsResponse:
        page = self._accounts.list_oauth_clients(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return api.ListOAuthClientsResponse(
            oauth_clients=[cv.oauth_client(c) for c in page.items],
            next_page_token=page.next_page_token,
        )

    def RevokeOAuthClient(
        self, request: api.RevokeOAuthClientRequest, context: Context
    ) -> res.OAuthClient:
        return cv.oauth_client(
            self._accounts.revoke_oauth_client(current_principal(), request.name)
        )

    def AuthenticateOAuthClient(
        self, request: api.AuthenticateOAuthClientRequest, context: Context
    ) -> api.AuthenticateOAuthClientResponse:
        client = self._accounts.authenticate_oauth_client(
            current_principal(), request.client_id, request.client_secret
        )
        return api.AuthenticateOAuthClientResponse(account=client.account, oauth_client=client.name)

    def CreateBot(self, request: api.CreateBotRequest, context: Context) -> res.Bot:
        b = request.bot
        created = self._bots.create(
            current_principal(),
            request.parent,
            b.display_name,
            b.user_agent,
            tuple(b.public_keys),
            b.key_directory_url,
            request.bot_id,
        )
        return cv.bot(created)

    def ListBots(self, request: api.ListBotsRequest, context: Context) -> api.ListBotsResponse:
        page = self._bots.list_bots(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return api.ListBotsResponse(
            bots=[cv.bot(b) for b in page.items], next_page_token=page.next_page_token
        )

    def DeleteBot(self, request: api.DeleteBotRequest, context: Context) -> empty_pb2.Empty:
        self._bots.delete(current_principal(), request.name)
        return empty_pb2.Empty()

    def LookupWorks(
        self, request: api.LookupWorksRequest, context: Context
    ) -> api.LookupWorksResponse:
        works = self._works.lookup_by_url(current_principal(), request.url)
        return api.LookupWorksResponse(works=[cv.work(w) for w in works])

    def CreateWork(self, request: api.CreateWorkRequest, context: Context) -> res.Work:
        created = self._works.create(
            current_principal(),
            request.parent,
            cv.work_fields(request.work),
            request.work_id,
            request.request_id,
        )
        return cv.work(created)

    def GetWork(self, request: api.GetWorkRequest, context: Context) -> res.Work:
        full = request.view == res.WORK_VIEW_FULL
        return cv.work(self._works.get(current_principal(), request.name, with_body=full))

    def BatchGetWorks(
        self, request: api.BatchGetWorksRequest, context: Context
    ) -> api.BatchGetWorksResponse:
        full = request.view == res.WORK_VIEW_FULL
        works, missing = self._works.get_many(current_principal(), list(request.names), full)
        return api.BatchGetWorksResponse(works=[cv.work(w) for w in works], missing=missing)

    def ListWorks(self, request: api.ListWorksRequest, context: Context) -> api.ListWorksResponse:
        where = WorkFilter(
            section=request.section,
            tag=request.tag,
            published_after=cv.from_timestamp(request, "published_after"),
            published_before=cv.from_timestamp(request, "published_before"),
            updated_since=cv.from_timestamp(request, "updated_since"),
        )
        page = self._works.list(
            current_principal(),
            request.parent,
            where,
            request.view == res.WORK_VIEW_FULL,
            request.page_size,
            request.page_token,
        )
        return api.ListWorksResponse(
            works=[cv.work(w) for w in page.items], next_page_token=page.next_page_token
        )

    def ListWorkVersions(
        self, request: api.ListWorkVersionsRequest, context: Context
    ) -> api.ListWorkVersionsResponse:
        page = self._works.list_versions(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return api.ListWorkVersionsResponse(
            versions=[cv.work_version(request.parent, v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    def UpdateWork(self, request: api.UpdateWorkRequest, context: Context) -> res.Work:
        paths = frozenset(request.update_mask.paths)
        if paths == {"*"}:
            paths = MUTABLE_FIELDS
        elif not paths:
            paths = cv.populated_fields(request.work)
            if not paths:
                raise InvalidArgument(
                    "EMPTY_UPDATE",
                    "the request changes no field",
                    [FieldViolation("update_mask", "name the fields to change")],
                )
        updated = self._works.update(
            current_principal(),
            request.work.name,
            cv.work_fields(request.work),
            paths,
            request.work.etag,
        )
        return cv.work(updated)

    def DeleteWork(self, request: api.DeleteWorkRequest, context: Context) -> empty_pb2.Empty:
        self._works.delete(current_principal(), request.name, request.etag)
        return empty_pb2.Empty()

    def GetWorkContent(
        self, request: api.GetWorkContentRequest, context: Context
    ) -> api.WorkContent:
        delivered = self._content.deliver(
            current_principal(),
            request.name,
            request.use,
            request.territory,
            request.user_type,
            request.request_id,
        )
        w = delivered.work
        return api.WorkContent(
            work=w.name,
            version=w.version,
            title=w.fields.title,
            body=w.fields.body,
            content_hash=w.content_hash,
            canonical_url=w.fields.canonical_url,
            authors=w.fields.authors,
            license=delivered.license,
            delivery=delivered.delivery,
        )

    def ImportWorks(
        self, request_iterator: Iterator[api.ImportWorksRequest], context: Context
    ) -> Iterator[api.ImportWorksResponse]:
        batches = ((r.parent, [cv.work_fields(w) for w in r.works]) for r in request_iterator)
        for results in self._imports.import_stream(current_principal(), batches):
            yield _import_response(results)

    def ListWorkEvents(
        self, request: api.ListWorkEventsRequest, context: Context
    ) -> api.ListWorkEventsResponse:
        events, head = self._events.list_events(
            current_principal(), request.after_sequence, request.page_size
        )
        last = events[-1].sequence if events else request.after_sequence
        return api.ListWorkEventsResponse(
            events=[cv.work_event(e) for e in events], last_sequence=last, head_sequence=head
        )


def _import_response(results: list[ImportResult]) -> api.ImportWorksResponse:
    return api.ImportWorksResponse(results=[cv.import_result(r) for r in results])
