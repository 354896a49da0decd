"""Envoy's external authorization over gRPC (`envoy.service.auth.v3.Authorization/Check`,
the published protos from xds-protos): the same toll decisions as for nginx. Allowed:
OK with the headers to add to the response (Link, crawler-charged); refused: a denied
response with the status (401, 402, 403, 400), the headers and a JSON reason."""

from __future__ import annotations

import json
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2 as authz
from envoy.service.auth.v3 import external_auth_pb2_grpc as authz_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from services.edge.domain.toll import Verdict
from services.edge.service_layer.toll import TollBooth
from services.runtime.urls import canonical_url

_CODES = {401: code_pb2.UNAUTHENTICATED, 402: code_pb2.PERMISSION_DENIED}


class ExternalAuthorization(authz_grpc.AuthorizationServicer):
    def __init__(self, booth: TollBooth) -> None:
        self._booth = booth

    def Check(self, request: authz.CheckRequest, context: Any) -> authz.CheckResponse:
        http = request.attributes.request.http
        headers = {k.lower(): v for k, v in http.headers.items()}
        url = canonical_url(f"{http.scheme or 'https'}://{http.host}{http.path}"[:4_096])
        verdict = self._booth.decide(
            url,
            headers,
            publisher=headers.get("x-licentia-publisher", "")[:200],
            policy=headers.get("x-licentia-policy", "block"),
            method=http.method or "GET",
        )
        if verdict.allowed:
            return authz.CheckResponse(
                status=status_pb2.Status(code=code_pb2.OK),
                ok_response=authz.OkHttpResponse(response_headers_to_add=_options(verdict)),
            )
        return authz.CheckResponse(
            status=status_pb2.Status(code=_CODES.get(verdict.status, code_pb2.PERMISSION_DENIED)),
            denied_response=authz.DeniedHttpResponse(
                status=http_status_pb2.HttpStatus(code=verdict.status),
                headers=[*_options(verdict), _header("Content-Type", "application/json")],
                body=json.dumps(verdict.reason()),
            ),
        )


def _options(verdict: Verdict) -> list[base_pb2.HeaderValueOption]:
    return [_header(k, v) for k, v in verdict.headers]


def _header(key: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=key, value=value),
        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )


def add_to_server(booth: TollBooth, server: grpc.Server) -> None:
    authz_grpc.add_AuthorizationServicer_to_server(ExternalAuthorization(booth), server)
