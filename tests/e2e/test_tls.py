"""TLS and mutual TLS from the outside: the Python client, the CLI (flags, profile keys,
LICENTIA_TLS_*), `health`, and `licentia up`/`status` against servers that speak TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from licentia.catalog.v1 import catalog_service_pb2 as capi

from services.catalog import app as catalog_app
from services.cli.main import main
from services.client import ClientTls, Endpoints, Licentia
from services.launcher import Launcher, LaunchError
from services.runtime.config import Settings
from tests.conftest import OPERATOR_KEY, SERVICE_TOKEN, ServiceHarness, start_service
from tests.e2e.test_marketplace import service_env, settings_of


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    ca: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate."""
    out = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Licentia test CA")])
    ca = _issue("Licentia test CA", ca_key, ca_name, ca_key, ca=True)
    files = {}
    for who in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(who, key, ca_name, ca_key)
        (out / f"{who}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (out / f"{who}-key.pem").write_bytes(_key_pem(key))
        files[who] = (out / f"{who}.pem", out / f"{who}-key.pem")
    (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(out / "ca.pem", *files["server"], *files["client"])


def tls_catalog(pki: Pki, data_dir: Path, mutual: bool) -> ServiceHarness:
    settings = Settings(
        data_dir=data_dir,
        operator_api_key=OPERATOR_KEY,
        service_token=SERVICE_TOKEN,
        tls_cert_file=pki.server_cert,
        tls_key_file=pki.server_key,
        tls_client_ca_file=pki.ca if mutual else None,
    )
    return start_service(catalog_app, settings)


@pytest.fixture
def served(pki: Pki, tmp_path: Path) -> Iterator[str]:
    harness = tls_catalog(pki, tmp_path, mutual=False)
    yield f"127.0.0.1:{harness.server.port}"
    harness.server.stop(0)


@pytest.fixture
def served_mutual(pki: Pki, tmp_path: Path) -> Iterator[str]:
    harness = tls_catalog(pki, tmp_path, mutual=True)
    yield f"127.0.0.1:{harness.server.port}"
    harness.server.stop(0)


def endpoints(catalog: str) -> Endpoints:
    return Endpoints(catalog, catalog, catalog, catalog, catalog)


def test_the_client_and_the_cli_speak_tls(
    pki: Pki, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["health", served]) == 1  # plaintext to a TLS server: not reachable
    assert main(["--tls-ca", str(pki.ca), "health", served]) == 0

    with Licentia(OPERATOR_KEY, endpoints(served), tls=ClientTls(pki.ca)) as lic:
        lic.catalog.ListPublishers(capi.ListPublishersRequest())

    monkeypatch.setenv("LICENTIA_OPERATOR_API_KEY", OPERATOR_KEY)
    monkeypatch.setenv("LICENTIA_CATALOG_ADDRESS", served)
    assert main(["operator", "accounts"]) == 1  # no CA: plaintext, refused
    monkeypatch.setenv("LICENTIA_TLS_CA_FILE", str(pki.ca))
    assert main(["operator", "accounts"]) == 0
    monkeypatch.delenv("LICENTIA_TLS_CA_FILE")

    config = tmp_path / "profiles.toml"
    config.write_text(
        f'[profiles.remote]\napi_key = "{OPERATOR_KEY}"\ncatalog = "{served}"\n'
        f'tls_ca = "{pki.ca}"\n'
    )
    monkeypatch.setenv("LICENTIA_CONFIG", str(config))
    assert main(["operator", "accounts", "--profile", "remote", "--json"]) == 0


def test_mutual_tls_needs_the_client_certificate(
    pki: Pki, served_mutual: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--tls-ca", str(pki.ca), "health", served_mutual]) == 1
    client = ["--tls-cert", str(pki.client_cert), "--tls-key", str(pki.client_key)]
    assert main(["--tls-ca", str(pki.ca), *client, "health", served_mutual]) == 0
    assert main(["--tls-ca", str(pki.ca), "--tls-cert", str(pki.client_cert), "health"]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err

    tls = ClientTls(pki.ca, pki.client_cert, pki.client_key)
    with Licentia(OPERATOR_KEY, endpoints(served_mutual), tls=tls) as lic:
        lic.catalog.ListPublishers(capi.ListPublishersRequest())


def test_up_and_status_reach_services_serving_mutual_tls(pki: Pki, tmp_path: Path) -> None:
    """`licentia up` used to wait 90 s and fail: it asked for health in plaintext."""
    env = service_env(
        tmp_path,
        LICENTIA_TLS_CERT_FILE=str(pki.server_cert),
        LICENTIA_TLS_KEY_FILE=str(pki.server_key),
        LICENTIA_TLS_CLIENT_CA_FILE=str(pki.ca),
        LICENTIA_TLS_CA_FILE=str(pki.ca),
    )
    launcher = Launcher(settings_of(env), {**env, "LICENTIA_DATABASE_URL": ""}, ["catalog"])
    launcher.up(timeout=60)
    try:
        (status,) = launcher.status()
        assert status.health == "SERVING" and status.pid is not None
    finally:
        assert launcher.down() == {"catalog": 0}

    without_ca = {k: v for k, v in env.items() if k != "LICENTIA_TLS_CA_FILE"}
    with pytest.raises(LaunchError, match="set LICENTIA_TLS_CA_FILE"):
        Launcher(settings_of(without_ca), without_ca, ["catalog"]).up(timeout=60)
