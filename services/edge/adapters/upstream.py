"""The catalog and licensing over their gRPC contracts, for the license server: refusals
become UpstreamRefusal (code, reason, message), unreachable services Unavailable."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as cgrpc
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lgrpc

from services.edge.service_layer.ports import Account, IssuedToken, TokenFacts, UpstreamRefusal
from services.runtime.errors import Unavailable

_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class CatalogClient:
    def __init__(self, channel: grpc.Channel, timeout: float = 5.0) -> None:
        self._stub = cgrpc.CatalogServiceStub(channel)
        self._timeout = timeout

    def authenticate_client(self, client_id: str, secret: str) -> Account | None:
        try:
            answer = self._stub.AuthenticateOAuthClient(
                capi.AuthenticateOAuthClientRequest(client_id=client_id, client_secret=secret),
                timeout=self._timeout,
            )
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise _translated(error, "catalog") from error
        return Account(client_id, answer.account)

    def authenticate_key(self, key: str) -> Account | None:
        """Whose API key this is (the catalog answers the edge's service token)."""
        try:
            answer = self._stub.AuthenticateApiKey(
                capi.AuthenticateApiKeyRequest(key=key), timeout=self._timeout
            )
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise _translated(error, "catalog") from error
        return Account(answer.api_key, answer.account)

    def works_at(self, url: str) -> list[str]:
        try:
            found = self._stub.LookupWorks(capi.LookupWorksRequest(url=url), timeout=self._timeout)
        except grpc.RpcError as error:
            raise _translated(error, "catalog") from error
        return [w.name for w in found.works]


class LicensingClient:
    def __init__(self, channel: grpc.Channel, timeout: float = 5.0) -> None:
        self._stub = lgrpc.LicensingServiceStub(channel)
        self._timeout = timeout

    def acquire(
        self,
        vendor: str,
        work: str,
        uses: tuple[str, ...],
        rsl_license: str,
        resource: str,
        client_id: str,
        ttl_seconds: int,
    ) -> IssuedToken:
        request = lapi.AcquireLicenseRequest(
            vendor=vendor,
            work=work,
            uses=uses,
            rsl_license=rsl_license,
            resource=resource,
            client_id=client_id,
            ttl=Duration(seconds=ttl_seconds),
        )
        try:
            got = self._stub.AcquireLicense(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise _translated(error, "licensing") from error
        return IssuedToken(
            got.token, _time(got.expire_time), got.license.name, tuple(got.uses), got.granted
        )

    def verify(self, token: str) -> TokenFacts:
        try:
            v = self._stub.VerifyLicenseToken(
                lapi.VerifyLicenseTokenRequest(token=token), timeout=self._timeout
            )
        except grpc.RpcError as error:
            raise _translated(error, "licensing") from error
        return TokenFacts(
            v.valid, v.reason, v.license, v.vendor, v.publisher, tuple(v.uses),
            _time(v.expire_time) if v.HasField("expire_time") else None,
            _time(v.issue_time) if v.HasField("issue_time") else None,
            v.work, v.resource, v.token_id, v.client_id,
        )  # fmt: skip

    def jwks(self) -> str:
        try:
            return str(
                self._stub.GetSigningKeys(lapi.GetSigningKeysRequest(), timeout=self._timeout).jwks
            )
        except grpc.RpcError as error:
            raise _translated(error, "licensing") from error

    def license_xml(self, publisher: str, site_url: str, server_url: str) -> str:
        request = lapi.GetRslDocumentRequest(
            publisher=publisher, site_url=site_url, server_url=server_url
        )
        try:
            return str(self._stub.GetRslDocument(request, timeout=self._timeout).rsl_xml)
        except grpc.RpcError as error:
            raise _translated(error, "licensing") from error


def _translated(error: grpc.RpcError, service: str) -> Exception:
    if error.code() in _RETRYABLE:
        return Unavailable(f"{service.upper()}_UNAVAILABLE", f"{service} did not answer; retry")
    reason = ""
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason = info.reason
    return UpstreamRefusal(error.code().name, reason, error.details() or "")


def _time(stamp: Timestamp) -> datetime:
    return datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, UTC)
