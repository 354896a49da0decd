"""Who the command acts as, and where the services are: a profile.

Profiles live in `~/.config/licentia/profiles.toml` (or LICENTIA_CONFIG):

    [profiles.gazette]
    api_key = "..."
    host = "licentia.example"          # every service at host:50051..50055, or:
    catalog = "catalog.example:443"    # one address per service
    tls_ca = "/etc/licentia/ca.pem"    # TLS: the CA to trust (optional)
    tls_cert = "client.pem"            # mutual TLS: the certificate to present...
    tls_key = "client-key.pem"         # ...and its key

`--profile NAME` (or LICENTIA_PROFILE) picks one; LICENTIA_API_KEY and the usual
LICENTIA_* addresses work without a file. The operator's key is LICENTIA_OPERATOR_API_KEY.
TLS: `licentia --tls-ca ca.pem [--tls-cert c.pem --tls-key k.pem] ...` before the
command, else the profile's keys, else LICENTIA_TLS_CA_FILE (LICENTIA_TLS_CERT_FILE,
LICENTIA_TLS_KEY_FILE); none of them: plaintext.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated

import typer

from services.client import ClientTls, Endpoints, Licentia
from services.runtime.clients import tls_of
from services.runtime.config import DEFAULT_PORTS, SERVICE_NAMES, Settings

ProfileOption = Annotated[
    str | None, typer.Option("--profile", "-p", help="profile name in the config file")
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
# Arguments and options several commands share.
WorkArgument = Annotated[str, typer.Argument(help="publishers/{p}/works/{w}")]
LicenseArgument = Annotated[str, typer.Argument(metavar="LICENSE", help="licenses/{id}")]
UseOption = Annotated[str, typer.Option(help="ai-input, ai-train, ai-index or search")]
TerritoryOption = Annotated[str, typer.Option(help="ISO 3166 code of where it is used")]
CurrencyOption = Annotated[str, typer.Option(help="ISO 4217 code")]


# Set by the root command's --tls-* options; they win over profiles and the environment.
_tls_flags: ClientTls | None = None


def set_tls_flags(ca: Path | None, cert: Path | None, key: Path | None) -> None:
    global _tls_flags
    if cert is not None or key is not None or ca is not None:
        if (cert is None) != (key is None):
            raise typer.BadParameter("--tls-cert and --tls-key go together (mutual TLS)")
        _tls_flags = ClientTls(ca, cert, key)
    else:
        _tls_flags = None


def client_tls(entry: dict[str, str] | None = None) -> ClientTls | None:
    """The TLS to speak: flags, else the profile's keys, else LICENTIA_TLS_*."""
    if _tls_flags is not None:
        return _tls_flags
    if entry is not None and any(k in entry for k in ("tls_ca", "tls_cert", "tls_key")):
        paths = [Path(entry[k]).expanduser() if k in entry else None
                 for k in ("tls_ca", "tls_cert", "tls_key")]  # fmt: skip
        return ClientTls(*paths)
    return tls_of(Settings())


def config_path() -> Path:
    return Path(os.environ.get("LICENTIA_CONFIG", "~/.config/licentia/profiles.toml")).expanduser()


def connect(profile: str | None) -> Licentia:
    name = profile or os.environ.get("LICENTIA_PROFILE")
    if name:
        return _from_profile(name)
    key = os.environ.get("LICENTIA_API_KEY") or os.environ.get("LICENTIA_OPERATOR_API_KEY")
    if not key:
        raise typer.BadParameter(
            "no API key: set LICENTIA_API_KEY (or LICENTIA_OPERATOR_API_KEY), "
            f"or pick a profile from {config_path()} with --profile"
        )
    return Licentia(key, Endpoints.from_settings(Settings()), tls=client_tls())


def _from_profile(name: str) -> Licentia:
    path = config_path()
    try:
        profiles = tomllib.loads(path.read_text()).get("profiles", {})
    except FileNotFoundError:
        raise typer.BadParameter(f"no config file at {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise typer.BadParameter(f"{path} is not valid TOML: {error}") from None
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise typer.BadParameter(f"no profile {name!r} in {path} (profiles: {known})")
    entry = profiles[name]
    if "api_key" not in entry:
        raise typer.BadParameter(f"profile {name!r} has no api_key")
    host = entry.get("host", "127.0.0.1")
    endpoints = Endpoints(**{s: entry.get(s, f"{host}:{DEFAULT_PORTS[s]}") for s in SERVICE_NAMES})
    return Licentia(entry["api_key"], endpoints, tls=client_tls(entry))
