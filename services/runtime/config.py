"""Configuration from environment variables, with defaults that run on one machine.

Every variable starts with `LICENTIA_`. A service reads the shared settings plus its
own port; see README.md for the full list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class Component:
    """A process Licentia runs: its name (the folder under services/), its default
    port, and what it speaks (`grpc` services answer grpc.health.v1; `http` components
    answer GET /healthz and /readyz)."""

    name: str
    port: int
    protocol: str = "grpc"


# The one list of components: `licentia up`, the Procfile, the client, the Helm chart's
# values and its tests all follow it. A new component is its folder plus an entry here
# (and its values block in the chart).
COMPONENTS = (
    Component("catalog", 50051),
    Component("licensing", 50052),
    Component("provenance", 50053),
    Component("metering", 50054),
    Component("settlement", 50055),
    Component("edge", 8080, "http"),
    Component("console", 8090, "http"),
)
COMPONENT_NAMES = tuple(c.name for c in COMPONENTS)
# The gRPC services (each with its own database schema and proto package).
SERVICE_NAMES = tuple(c.name for c in COMPONENTS if c.protocol == "grpc")
DEFAULT_PORTS = {c.name: c.port for c in COMPONENTS}
PROTOCOLS = {c.name: c.protocol for c in COMPONENTS}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENTIA_", extra="ignore")

    # Where SQLite files (one per service) live when no database URL is set.
    data_dir: Path = Path(".licentia")
    # SQLAlchemy URL shared by all services; on PostgreSQL each service uses its own
    # schema: the service's name, or `{database_schema}_{service}` when a prefix is set
    # (several installations, or test runs, sharing one database).
    database_url: str | None = None
    database_schema: str | None = None
    # Apply pending migrations when a service starts (`licentia migrate` does it alone).
    migrate_on_start: bool = True

    host: str = "127.0.0.1"
    # Per-component ports, from LICENTIA_<NAME>_PORT (e.g. LICENTIA_CATALOG_PORT), and
    # the addresses other components dial, from LICENTIA_<NAME>_ADDRESS (host:port);
    # default: the component's port on this host.
    ports: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_PORTS))
    addresses: dict[str, str] = Field(default_factory=dict)

    max_workers: int = Field(default=32, ge=1)
    # Seconds in-flight calls get to finish after SIGTERM before they are cancelled.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    # The bootstrap operator credential; more accounts and keys are made through the API.
    operator_api_key: str | None = None
    # Credential services present to each other (or use mutual TLS).
    service_token: str | None = None
    # How long a verified API key is trusted without asking again; bounds how long a
    # revoked key keeps working in services other than the catalog.
    auth_cache_ttl_seconds: float = Field(default=30.0, ge=0)

    # The marketplace's commission, in basis points, unless a publisher has an override.
    commission_bps: int = Field(default=1500, ge=0, le=10_000)
    # How often a licensing replica (and other services' permission caches) poll the
    # license event feed: the bound on how stale a suspension or revocation can be.
    license_refresh_seconds: float = Field(default=1.0, gt=0)
    # Licensing: the Ed25519 private key (PKCS#8 PEM) that signs license tokens, e.g. from
    # a Kubernetes Secret; a new file rotates the key. Unset: a key kept in the database.
    signing_key_file: Path | None = None
    # Public URL of the licensing API, named as the license server in RSL documents.
    licensing_public_url: str = ""
    # The edge (license server): the URL crawlers reach it at (through the publisher's
    # TLS proxy in production; default: this host and its port), and its tokens' lifetime.
    edge_public_url: str = ""
    edge_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    # How often the edge reads the license and work feeds (the bound on how long a
    # revocation or a new work takes to reach the toll) and sends its crawl spool.
    edge_feed_seconds: float = Field(default=1.0, gt=0)
    # Envoy's ext_authz (gRPC) for the toll on this port of the edge; 0 (the default):
    # off, for nginx-only sites. Envoy deployments set e.g. 8081.
    edge_authz_port: int = Field(default=0, ge=0, le=65_535)
    # How often the catalog sends recorded content deliveries to metering as usage.
    delivery_usage_seconds: float = Field(default=0.5, gt=0)
    # How long work metadata (section, tags) used in scope checks is cached, and how long
    # metering keeps a permission decision (which depends on that metadata).
    work_cache_ttl_seconds: float = Field(default=60.0, ge=0)

    # Provenance: how often a replica polls the catalog's work feed (the bound on how long
    # a new or deleted work takes to reach CheckText, plus indexing time).
    provenance_poll_seconds: float = Field(default=0.25, gt=0)
    # Matched works whose words are kept in memory for verification (about 5 kB each).
    provenance_document_cache: int = Field(default=20_000, ge=0)
    # A fingerprint held by more works than this is boilerplate and ignored.
    provenance_max_postings: int = Field(default=64, ge=2)
    # Processes analysing works to index (0: in the serving process). Catching up after a
    # bulk import is mostly analysis: one per spare core.
    provenance_index_workers: int = Field(default=0, ge=0, le=64)
    # The semantic stage (paraphrase attribution, CheckText mode SEMANTIC): a sentence
    # model and a vector index in memory (about 250 MB, plus ~1 kB per work sentence up to
    # 32,768 sentences, then about 80 bytes each once compressed),
    # and CPU to embed every work. Off: requests asking for it are refused.
    provenance_semantic: bool = False
    # Threads the sentence model may use per call (embedding runs off the request path
    # for works; a CheckText in semantic mode embeds its own sentences).
    provenance_semantic_threads: int = Field(default=1, ge=1, le=64)
    # Works embedded per batch while the semantic index catches up.
    provenance_semantic_batch: int = Field(default=32, ge=1, le=1000)
    # Candidate works whose stored sentence vectors are kept in memory to re-rank the
    # vector index's candidates exactly (about 8 kB each).
    provenance_semantic_cache: int = Field(default=4_000, ge=0)

    # Per-caller token bucket: sustained calls per second and burst size.
    rate_limit_per_second: float = Field(default=2000.0, gt=0)
    rate_limit_burst: int = Field(default=4000, ge=1)

    # Prometheus metrics over HTTP (`/metrics`) on this port, when set.
    metrics_port: int | None = None

    # Traces are exported over OTLP/gRPC only when an endpoint is set.
    otlp_endpoint: str | None = None
    trace_sample_ratio: float = Field(default=0.1, ge=0.0, le=1.0)
    log_level: str = "INFO"

    # TLS: a server certificate enables TLS; a client CA additionally requires client
    # certificates (mutual TLS between services).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # What clients trust, and the certificate they present for mutual TLS.
    tls_ca_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _component_endpoints(cls, data: Any) -> Any:
        """LICENTIA_<NAME>_PORT / _ADDRESS (or `<name>_port=` / `<name>_address=`
        keywords) for every component, into `ports` and `addresses`."""
        if not isinstance(data, dict):
            return data
        ports = {**DEFAULT_PORTS, **dict(data.get("ports") or {})}
        addresses = dict(data.get("addresses") or {})
        for name in COMPONENT_NAMES:
            port = data.pop(f"{name}_port", None) or os.environ.get(f"LICENTIA_{name.upper()}_PORT")
            if port:
                ports[name] = int(port)
            address = data.pop(f"{name}_address", None) or os.environ.get(
                f"LICENTIA_{name.upper()}_ADDRESS"
            )
            if address:
                addresses[name] = str(address)
        return {**data, "ports": ports, "addresses": addresses}

    def with_ports(self, **ports: int) -> Settings:
        """A copy with some components on other ports (tests, the demo)."""
        return self.model_copy(update={"ports": {**self.ports, **ports}})

    def port_of(self, service: str) -> int:
        return int(self.ports[service])

    def address_of(self, service: str) -> str:
        explicit = self.addresses.get(service)
        if explicit:
            return str(explicit)
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"{host}:{self.port_of(service)}"

    def public_url_of_edge(self) -> str:
        if self.edge_public_url:
            return self.edge_public_url.rstrip("/")
        return f"http://{self.address_of('edge')}"

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / f'{service}.db'}"

    def schema_for(self, service: str) -> str:
        return f"{self.database_schema}_{service}" if self.database_schema else service
