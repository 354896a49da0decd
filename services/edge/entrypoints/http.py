"""The edge's HTTP face: discovery documents, the OAuth endpoints, health. Thin: read
the request, call the license server (or Authlib for the OAuth protocol), write the
answer. Errors are JSON: RFC 6749 §5.2 on the OAuth endpoints, RFC 9457 problem details
elsewhere; never a traceback."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from services.edge.adapters.analytics import CrawlerAnalytics
from services.edge.domain.toll import Verdict
from services.edge.entrypoints.oauth import HttpRequest, LicentiaAuthorizationServer
from services.edge.service_layer.license_server import LicenseServer, OAuthRefusal
from services.edge.service_layer.toll import TollBooth
from services.runtime.errors import Unavailable
from services.runtime.urls import canonical_url

log = logging.getLogger("licentia.edge")
MAX_FORM_BYTES = 65_536
_PUBLISHER_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def build_http_app(
    server: LicenseServer,
    booth: TollBooth,
    backlog: Callable[[], int],
    analytics: CrawlerAnalytics,
    works_known: Callable[[], int] = lambda: 0,
    on_startup: Callable[[], None] = lambda: None,
    on_shutdown: Callable[[], None] = lambda: None,
) -> ASGIApp:
    oauth = LicentiaAuthorizationServer(server)
    metadata = AuthorizationServerMetadata(server.metadata())
    metadata.validate()  # RFC 8414: refuse to start with metadata a client would reject

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        await run_in_threadpool(server.jwks)  # licensing answers: tokens can be verified
        return JSONResponse({"status": "ready"})

    async def server_metadata(request: Request) -> Response:
        return JSONResponse(dict(metadata), headers={"Cache-Control": "public, max-age=3600"})

    async def jwks(request: Request) -> Response:
        body, etag = await run_in_threadpool(server.jwks)
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/jwk-set+json", headers=headers)

    async def license_xml(request: Request) -> Response:
        publisher_id = _publisher(request)
        site = request.query_params.get("site", "")[:2_048]
        document = await run_in_threadpool(server.license_xml, publisher_id, site)
        return Response(
            document,
            media_type="application/rsl+xml",
            headers={"Cache-Control": "public, max-age=60"},
        )

    async def discovery(request: Request) -> Response:
        found = server.discovery(_publisher(request))
        return JSONResponse(
            {
                "license_url": found.license_url,
                "robots_txt_line": found.robots_line,
                "link_header": f"Link: {found.link_header}",
            }
        )

    async def token(request: Request) -> Response:
        http = await _form_request(request, server.public_url)
        return _oauth_response(await run_in_threadpool(oauth.create_token_response, http))

    async def introspect(request: Request) -> Response:
        http = await _form_request(request, server.public_url)
        answer = await run_in_threadpool(oauth.create_endpoint_response, "introspection", http)
        return _oauth_response(answer)

    async def toll_answer(request: Request) -> Response:
        """The crawler's answer to a refused request (nginx `error_page`)."""
        verdict = _toll(booth, request, meter=False)
        link = re.search(r"<([^>]+)>", dict(verdict.headers).get("Link", ""))
        body = {**verdict.reason(), "license": link.group(1) if link else ""}
        return JSONResponse(body, status_code=verdict.status, headers=dict(verdict.headers))

    async def toll_stats(request: Request) -> Response:
        return JSONResponse({"spool_backlog": backlog(), "works": works_known()})

    async def crawler_analytics(request: Request) -> Response:
        """A publisher's crawler traffic per hour, for its own OAuth client (Basic) or
        one of its API keys (Bearer: the web console)."""
        authorization = request.headers.get("authorization", "")
        scheme, _, bearer = authorization.partition(" ")
        if scheme.lower() == "bearer" and bearer.strip():
            account = await run_in_threadpool(server.authenticate_key, bearer.strip())
        else:
            client_id, secret = extract_basic_authorization({"Authorization": authorization})
            account = (
                await run_in_threadpool(server.authenticate, client_id, secret)
                if client_id and secret
                else None
            )
        if account is None or not account.account.startswith("publishers/"):
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "a publisher's OAuth client or API key",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="licentia", Bearer realm="licentia"'},
            )
        hours = request.query_params.get("hours", "24")
        span = int(hours) if hours.isdigit() and 0 < int(hours) <= 24 * 400 else 24
        since = (datetime.now(UTC) - timedelta(hours=span)).strftime("%Y-%m-%dT%H:00:00Z")
        rows = await run_in_threadpool(analytics.rows, account.account, since)
        return JSONResponse({"publisher": account.account, "since": since, "rows": rows})

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/toll/answer", toll_answer),
        Route("/toll/stats", toll_stats),
        Route("/toll/analytics", crawler_analytics),
        Route("/metrics", prometheus),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/.well-known/oauth-authorization-server", server_metadata),
        Route("/.well-known/jwks.json", jwks),
        Route("/publishers/{publisher_id}/license.xml", license_xml),
        Route("/publishers/{publisher_id}/discovery", discovery),
        Route("/token", token, methods=["POST"]),
        Route("/introspect", introspect, methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        on_startup()
        yield
        on_shutdown()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _problem,
            OAuthRefusal: _refusal,
            Unavailable: _unavailable,
            Exception: _internal,
        },
    )
    return _with_toll_fast_path(app, booth)


def _with_toll_fast_path(app: Starlette, booth: TollBooth) -> ASGIApp:
    """nginx's subrequests, straight from ASGI: the toll answers every request of a
    publisher's site, and Starlette's routing and Request objects cost more than the
    decision itself (measured: a third of the edge's time per subrequest)."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/toll/nginx":
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            verdict = _decide(booth, headers, meter=True)
        except Exception:
            log.exception("the toll failed to decide %s", headers.get("x-original-uri", "?"))
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        answer = [
            (f"x-licentia-{k}".encode(), v.encode("latin-1", "replace")) for k, v in verdict.headers
        ]
        answer.append((b"x-licentia-outcome", verdict.outcome.encode()))
        # nginx passes 2xx, 401 and 403 from here (anything else would be a 500): other
        # refusals (402, 400) go out as 403, and the error page asks for the real answer.
        status = verdict.status if verdict.status in (200, 401, 403) else 403
        await send({"type": "http.response.start", "status": status, "headers": answer})
        await send({"type": "http.response.body", "body": b""})

    return asgi


async def _form_request(request: Request, public_url: str) -> HttpRequest:
    """The form of an OAuth request, read with a size limit and decoded strictly."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise OAuthRefusal(
            "invalid_request", "send the parameters as application/x-www-form-urlencoded"
        )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise OAuthRefusal("invalid_request", f"the body is over {MAX_FORM_BYTES:,} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthRefusal("invalid_request", f"the body is over {MAX_FORM_BYTES:,} bytes", 413)
    try:
        form = parse_qs(bytes(body).decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as error:
        raise OAuthRefusal("invalid_request", "the form is not valid UTF-8") from error
    headers = {k.decode("latin-1").title(): v.decode("latin-1") for k, v in request.headers.raw}
    return HttpRequest(request.method, public_url + request.url.path, headers, form)


def _toll(booth: TollBooth, request: Request, meter: bool) -> Verdict:
    return _decide(booth, request.headers, meter)


def _decide(booth: TollBooth, h: Mapping[str, str], meter: bool) -> Verdict:
    """The original request, as the publisher's proxy describes it (headers lower-case)."""
    if h.get("x-original-url"):  # ingress-nginx's external auth sends the whole URL
        url = canonical_url(h["x-original-url"][:4_096])
    else:
        scheme = h.get("x-original-scheme", "https")
        host = h.get("x-original-host", h.get("host", ""))
        url = canonical_url(f"{scheme}://{host}{h.get('x-original-uri', '/')}"[:4_096])
    return booth.decide(
        url,
        h,
        publisher=h.get("x-licentia-publisher", "")[:200],
        policy=h.get("x-licentia-policy", "block"),
        meter=meter,
        method=h.get("x-original-method", "GET")[:16],
    )


def _publisher(request: Request) -> str:
    publisher_id = str(request.path_params["publisher_id"])
    if not _PUBLISHER_ID.match(publisher_id):
        raise HTTPException(404, "no such publisher")
    return publisher_id


def _oauth_response(answer: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = answer
    merged = {**dict(headers), **_NO_STORE}
    merged.pop("Content-Type", None)
    if isinstance(body, dict):
        return JSONResponse(body, status_code=status, headers=merged)
    return Response(body, status_code=status, headers=merged, media_type="application/json")


async def _refusal(request: Request, error: Exception) -> Response:
    assert isinstance(error, OAuthRefusal)
    if error.error == "not_found":
        return _problem_response(404, "Not found", error.description)
    return JSONResponse(
        {"error": error.error, "error_description": error.description},
        status_code=error.status,
        headers=_NO_STORE,
    )


async def _unavailable(request: Request, error: Exception) -> Response:
    assert isinstance(error, Unavailable)
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": error.message},
        status_code=503,
        headers={**_NO_STORE, "Retry-After": "1"},
    )


async def _problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _problem_response(
        error.status_code, _TITLES.get(error.status_code, "Error"), error.detail
    )


async def _internal(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _problem_response(500, "Internal error", "an unexpected error; it was logged")


_TITLES = {404: "Not found", 405: "Method not allowed", 413: "Too large"}


def _problem_response(status: int, title: str, detail: str) -> Response:
    return Response(
        json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}),
        status_code=status,
        media_type="application/problem+json",
    )
