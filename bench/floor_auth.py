"""The least any Python auth_request answerer costs: uvicorn, as the edge runs it, serving
an ASGI app that answers 200 to everything and decides nothing. The toll-through-nginx
benchmark measures nginx asking it, in the same run, as the floor under the edge."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn


async def allow(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(allow, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
