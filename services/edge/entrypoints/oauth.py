"""The OAuth 2.0 protocol through Authlib: client authentication (`client_secret_basic`),
the token endpoint with the `client_credentials` grant and OLP's `rsl` grant, and
introspection (RFC 7662). Authlib parses and answers the protocol (errors as RFC 6749
§5.2 JSON, 401 with WWW-Authenticate: Basic for bad client credentials); the license
server's use cases decide."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    BaseGrant,
    ClientCredentialsGrant,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants.base import TokenEndpointMixin
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from services.edge.service_layer.license_server import LicenseServer, OAuthRefusal
from services.edge.service_layer.ports import Account, IssuedToken
from services.runtime.uses import CONCRETE_USES

RSL_GRANT = "rsl"


@dataclass
class HttpRequest:
    """What the HTTP adapter read: method, the URL as the client addressed it, headers,
    and the form (every value of each field, in order)."""

    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, list[str]]


class _Payload(OAuth2Payload):
    def __init__(self, form: dict[str, list[str]]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._form.items() if v}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._form)


class _Request(OAuth2Request):
    def __init__(self, http: HttpRequest) -> None:
        super().__init__(http.method, http.url, headers=http.headers)
        self.payload = _Payload(http.form)
        self._http = http

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return {}


class _Client(ClientMixin):
    """A client found by its id; the secret is checked with the catalog."""

    def __init__(self, client_id: str, server: LicenseServer) -> None:
        self.client_id = client_id
        self._server = server
        self.account: Account | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        self.account = self._server.authenticate(self.client_id, client_secret)
        return self.account is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("client_credentials", RSL_GRANT)

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def get_default_redirect_uri(self) -> str:
        return ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False


def _token_body(issued: IssuedToken, resource: str) -> dict[str, Any]:
    expires_in = max(0, int((issued.expire_time - datetime.now(UTC)).total_seconds()))
    return {
        "access_token": issued.token,
        "token_type": "License",
        "expires_in": expires_in,
        "scope": " ".join(issued.uses),
        "license": issued.license,
        "resource": resource,
        "license_granted": issued.granted,
    }


def _refused(refusal: OAuthRefusal) -> OAuth2Error:
    error = OAuth2Error(description=refusal.description, status_code=refusal.status)
    error.error = refusal.error
    return error


class _LicenseGrantMixin:
    request: _Request
    server: LicentiaAuthorizationServer

    def _issue(self, rsl_license: str) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: _Client = self.request.client
        assert client.account is not None
        resource = self.request.payload.data.get("resource", "")
        try:
            issued = self.server.license_server.token(
                client.account, resource, self.request.payload.scope or "", rsl_license
            )
        except OAuthRefusal as refusal:
            raise _refused(refusal) from refusal
        return (
            200,
            _token_body(issued, resource),
            rfc6749.grants.base.BaseGrant.TOKEN_RESPONSE_HEADER,
        )


class LicenseClientCredentialsGrant(_LicenseGrantMixin, ClientCredentialsGrant):
    """`client_credentials` with a `resource` (RFC 8707): a token for that resource
    under a license the vendor holds or takes from a free offer."""

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return self._issue("")


class RslGrant(_LicenseGrantMixin, BaseGrant, TokenEndpointMixin):
    """OLP's `rsl` grant: the client sends the RSL `<license>` it asks for (`license`)
    and the `resource`; a license at those terms is found or taken, then a token."""

    GRANT_TYPE = RSL_GRANT

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        self.request.client = client
        if not self.request.payload.data.get("license"):
            raise rfc6749.InvalidRequestError(
                description="license: the RSL <license> element asked for is required"
            )
        self.validate_requested_scope()

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return self._issue(self.request.payload.data["license"])


@dataclass
class _Token:
    """A token as introspection answers it (the license server's judgement)."""

    facts: dict[str, object]


class LicenseIntrospection(IntrospectionEndpoint):
    """RFC 7662 for resource servers: a publisher's client asks about a token."""

    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def authenticate_token(self, request: Any, client: Any) -> _Token:
        self.check_params(request, client)
        assert isinstance(client, _Client) and client.account is not None
        server: LicentiaAuthorizationServer = self.server
        token = request.form["token"][:16_384]
        return _Token(server.license_server.introspect(client.account, token))

    def create_introspection_payload(self, token: Any) -> dict[str, object]:
        return dict(token.facts)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        raise NotImplementedError("authenticate_token asks the license server")

    def check_permission(self, token: Any, client: Any, request: Any) -> bool:
        return True

    def introspect_token(self, token: Any) -> dict[str, object]:
        return dict(token.facts)


class LicentiaAuthorizationServer(AuthorizationServer):
    def __init__(self, license_server: LicenseServer) -> None:
        super().__init__(scopes_supported=list(CONCRETE_USES))
        self.license_server = license_server
        self.register_grant(LicenseClientCredentialsGrant)
        self.register_grant(RslGrant)
        self.register_endpoint(LicenseIntrospection)

    def query_client(self, client_id: str) -> _Client | None:
        return _Client(client_id, self.license_server) if client_id else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Tokens are self-contained signed JWTs: nothing to store."""

    def create_oauth2_request(self, request: HttpRequest) -> _Request:
        return _Request(request)

    def create_json_request(self, request: HttpRequest) -> Any:
        raise NotImplementedError("no JSON endpoints")

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        """Every refusal says what to do next (Authlib's own errors come without)."""
        if not error.description:
            error.description = _HINTS.get(error.error, "see the license server's metadata")
        return super().handle_error_response(request, error)


_HINTS = {
    "unsupported_grant_type": "grant_type must be client_credentials or rsl",
    "invalid_scope": "scope names RSL uses: " + " ".join(CONCRETE_USES),
    "invalid_request": "send grant_type, resource (and scope or license) as a form",
    "invalid_client": "authenticate with HTTP Basic: your OAuth client_id and secret",
    "unsupported_token_type": "token_type_hint may only be access_token",
}
