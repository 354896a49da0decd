"""The edge's crawler analytics (`GET /toll/analytics`), for the console's publisher pages:
the caller's own `Authorization` goes to the edge, which checks it with the catalog."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from services.runtime.config import Settings


class EdgeAnalytics:
    def __init__(self, settings: Settings, timeout: float = 10.0) -> None:
        scheme = "https" if settings.tls_cert_file else "http"
        self._base = f"{scheme}://{settings.address_of('edge')}"
        self._context = (
            ssl.create_default_context(cafile=settings.tls_ca_file) if scheme == "https" else None
        )
        self._timeout = timeout

    def crawlers(self, authorization: str, hours: int) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body): the edge's rows, or a Connect-shaped error."""
        request = urllib.request.Request(
            f"{self._base}/toll/analytics?hours={hours}",
            headers={"Authorization": authorization},
        )
        try:
            with urllib.request.urlopen(
                request, timeout=self._timeout, context=self._context
            ) as answer:
                return 200, dict(json.load(answer))
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return 401, {
                    "code": "unauthenticated",
                    "message": "the edge shows crawler activity to a publisher's own key only",
                }
            return 502, {"code": "unavailable", "message": f"the edge answered {error.code}"}
        except (OSError, ValueError):
            return 503, {"code": "unavailable", "message": "the edge cannot be reached"}
