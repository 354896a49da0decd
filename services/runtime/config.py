"""Configuration from environment variables, with defaults that run on one machine.

Every variable starts with `LICENTIA_`. A service reads the shared settings plus its
own port; see README.md for the full list.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = ("catalog", "licensing", "provenance", "metering", "settlement")

DEFAULT_PORTS = {
    "catalog": 50051,
    "licensing": 50052,
    "provenance": 50053,
    "metering": 50054,
    "settlement": 50055,
}


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
    # Per-service port overrides, e.g. LICENTIA_CATALOG_PORT.
    catalog_port: int = DEFAULT_PORTS["catalog"]
    licensing_port: int = DEFAULT_PORTS["licensing"]
    provenance_port: int = DEFAULT_PORTS["provenance"]
    metering_port: int = DEFAULT_PORTS["metering"]
    settlement_port: int = DEFAULT_PORTS["settlement"]
    # Addresses of the other services, as clients dial them (host:port); default: local.
    catalog_address: str | None = None
    licensing_address: str | None = None
    provenance_address: str | None = None
    metering_address: str | None = None
    settlement_address: str | None = None

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

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    def address_of(self, service: str) -> str:
        explicit = getattr(self, f"{service}_address")
        if explicit:
            return str(explicit)
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"{host}:{self.port_of(service)}"

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / f'{service}.db'}"

    def schema_for(self, service: str) -> str:
        return f"{self.database_schema}_{service}" if self.database_schema else service
