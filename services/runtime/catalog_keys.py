"""API-key resolution for services other than the catalog: ask the catalog, which
owns the keys. Wrapped in CachedKeyAuthenticator, so it runs once per key per TTL."""

from __future__ import annotations

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc

from services.runtime.errors import Unavailable
from services.runtime.principal import Principal, principal_from_account


class CatalogKeyResolver:
    """Resolves by the key itself: the catalog hashes it, nothing else is trusted."""

    def __init__(self, catalog_channel: grpc.Channel) -> None:
        self._stub = api_grpc.CatalogServiceStub(catalog_channel)

    def __call__(self, key: str) -> Principal | None:
        try:
            answer = self._stub.AuthenticateApiKey(api.AuthenticateApiKeyRequest(key=key))
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(
                "IDENTITY_UNAVAILABLE", "cannot verify the API key right now; retry"
            ) from error
        return principal_from_account(answer.account, answer.api_key)
