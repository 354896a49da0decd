"""The console's HTTP component: the Connect (JSON) face of the five services, the web
console's static files, health and metrics — every answer with the security headers.

The console is CSRF-safe by construction: the API key travels only in the
`Authorization` header, set by the page's script from the browser session's storage. No
cookie carries it, so another site cannot make a browser send it; every RPC is a POST
with a JSON body, which a cross-site page cannot send without a CORS preflight, and no
CORS is offered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.adapters.edge import EdgeAnalytics
from services.console.entrypoints.connect import ConnectFace, service_paths

STATIC = Path(__file__).resolve().parent.parent / "static"
# Scripts, styles, images and calls only from this origin; never framed; no referrer.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeaders:
    """Adds the security headers to every response (and no-store to the API's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(("/licentia.", "/edge/"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                headers.extend(self._headers)
                if api:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = {k.encode() for k in SECURITY_HEADERS}


def build_http_app(
    face: ConnectFace,
    ready: Callable[[], Awaitable[bool]],
    edge: EdgeAnalytics,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> ASGIApp:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if await ready():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "the catalog does not answer"}, status_code=503)

    async def crawlers(request: Request) -> Response:
        """The publisher's AI crawler traffic at its edge, per hour (the edge decides)."""
        hours = request.query_params.get("hours", "168")
        span = int(hours) if hours.isdigit() and 0 < int(hours) <= 24 * 400 else 168
        status, body = await run_in_threadpool(
            edge.crawlers, request.headers.get("authorization", ""), span
        )
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown()

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", prometheus),
        Route("/edge/crawlers", crawlers),
        *[Mount(path, app=face) for path in service_paths()],
        Mount("/", app=StaticFiles(directory=STATIC, html=True)),
    ]
    return SecurityHeaders(Starlette(routes=routes, lifespan=lifespan))
