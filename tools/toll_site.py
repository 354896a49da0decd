"""A publisher's site behind nginx with Licentia's toll, on this machine: a small origin
and Debian's nginx running deploy/nginx/licentia-toll.conf. Used by the end-to-end tests,
the demo and the toll bench (nothing here is part of the product)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "licentia-toll.conf"


def nginx_binary() -> str:
    """nginx's path, or '' when it is not installed."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "")


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"<html><body>the page {self.path}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def start_origin(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_nginx(
    prefix: Path,
    port: int,
    edge: str,
    origin: str,
    publisher: str,
    toll: bool = True,
    static_origin_port: int = 0,
) -> subprocess.Popen[bytes]:
    """nginx on 127.0.0.1:`port` in front of `origin`, asking the edge when `toll` (else
    the same proxy with no auth subrequest: the bare baseline). `static_origin_port`:
    also serve a static origin from nginx itself on that port (benchmarks: no Python
    origin in the measured path)."""
    conf = CONFIG.read_text()
    if static_origin_port:
        conf += (
            f"\nserver {{\n    listen 127.0.0.1:{static_origin_port};\n"
            '    location / { return 200 "<html><body>the page $uri</body></html>"; }\n}\n'
        )
    for name, value in {
        "${LICENTIA_EDGE}": edge,
        "${ORIGIN}": origin,
        "${LICENTIA_PUBLISHER}": publisher,
        "${LISTEN}": f"127.0.0.1:{port}",
    }.items():
        conf = conf.replace(name, value)
    if not toll:
        conf = conf.replace("        auth_request /_licentia/toll;\n", "")
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + "worker_processes 1;\nerror_log logs/error.log warn;\npid logs/nginx.pid;\n"
        "events { worker_connections 1024; }\n"
        "http {\n access_log off;\n keepalive_requests 1000000;\n"
        " client_body_temp_path tmp/body;\n"
        " proxy_temp_path tmp/proxy;\n fastcgi_temp_path tmp/fastcgi;\n"
        " uwsgi_temp_path tmp/uwsgi;\n scgi_temp_path tmp/scgi;\n" + conf + "\n}\n"
    )
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return process
        except urllib.error.HTTPError:
            return process  # nginx answers (the toll may refuse): it is up
        except OSError as error:
            if process.poll() is not None:
                said = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"nginx exited: {said}") from error
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start") from error
            time.sleep(0.05)
