"""The client distribution (clients/python, `licentia-client`): built from this clone as
a release would be (sdist and wheel), installed from the sdist into a fresh virtualenv
that has nothing of the services, and used there against a real catalog server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres

from services.catalog import app as catalog_app
from services.runtime.config import Settings
from tests.conftest import OPERATOR_KEY, SERVICE_TOKEN, Client, start_service

ROOT = Path(__file__).resolve().parents[2]

USE = """
import json, sys
from licentia.catalog.v1 import catalog_service_pb2 as catalog
from licentia_client import Endpoints, Licentia, __version__
address = sys.argv[1]
with Licentia(sys.argv[2], Endpoints(*[address] * 5)) as lic:
    names = [p.name for p in lic.paged(
        lic.catalog.ListPublishers, catalog.ListPublishersRequest(page_size=1), "publishers")]
try:
    import services  # noqa: F401
    alone = False
except ImportError:
    alone = True
print(json.dumps({"version": __version__, "publishers": names, "alone": alone}))
"""


def run(*args: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_client_installs_alone_and_calls_a_server(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist,
        ROOT / "clients" / "python", cwd=tmp_path)  # fmt: skip
    (sdist,) = dist.glob("licentia_client-*.tar.gz")
    (wheel,) = dist.glob("licentia_client-*.whl")
    with zipfile.ZipFile(wheel) as built:
        names = set(built.namelist())
    assert {"licentia_client/py.typed", "licentia/catalog/v1/catalog_service_pb2.pyi",
            "licentia/catalog/v1/catalog_service_pb2_grpc.py"} <= names  # fmt: skip
    assert not any(n.startswith("services/") for n in names)

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", sdist, cwd=tmp_path)
    shown = run(python, "-m", "pip", "show", "licentia-client", cwd=tmp_path)
    requires = next(line for line in shown.splitlines() if line.startswith("Requires:"))
    assert sorted(r.strip() for r in requires.removeprefix("Requires:").split(",")) == [
        "grpcio",
        "grpcio-status",
        "protobuf",
    ]

    catalog = start_service(
        catalog_app,
        Settings(data_dir=tmp_path / "data", operator_api_key=OPERATOR_KEY,
                 service_token=SERVICE_TOKEN),
    )  # fmt: skip
    try:
        operator = Client(catalog.channel, OPERATOR_KEY)
        for name in ("first", "second"):
            publisher = cres.Publisher(display_name=name.title())
            operator.CreatePublisher(
                capi.CreatePublisherRequest(publisher=publisher, publisher_id=name)
            )
        script = tmp_path / "use.py"
        script.write_text(USE)
        address = f"127.0.0.1:{catalog.server.port}"
        answer = json.loads(run(python, script, address, OPERATOR_KEY, cwd=tmp_path))
    finally:
        catalog.server.stop(0)
    assert answer == {
        "version": "0.1.0",
        "publishers": ["publishers/first", "publishers/second"],
        "alone": True,
    }
