"""The Helm chart, linted and rendered without a cluster (helm-python-sdk), every manifest
validated against Kubernetes' own schemas in strict mode for three recent versions
(kubernetes-validate), and the properties an SRE team relies on asserted."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "licentia"
KUBERNETES = ["1.31.0", "1.33.0", "1.35.0"]
from services.runtime.config import COMPONENT_NAMES, PROTOCOLS, SERVICE_NAMES  # noqa: E402

# The chart follows the runtime's one list of components.
SERVICES = list(COMPONENT_NAMES)
GRPC_SERVICES = list(SERVICE_NAMES)
# Who calls whom, as the code does (catalog delivers content after asking licensing and
# reports it to metering; everyone asks the catalog about API keys...).
CALLS = {
    ("catalog", "licensing"), ("catalog", "metering"), ("licensing", "catalog"),
    ("provenance", "catalog"), ("provenance", "licensing"), ("provenance", "metering"),
    ("metering", "catalog"), ("metering", "licensing"), ("settlement", "catalog"),
    ("settlement", "licensing"), ("settlement", "metering"),
    ("edge", "catalog"), ("edge", "licensing"), ("edge", "metering"), ("edge", "settlement"),
    ("console", "catalog"), ("console", "licensing"), ("console", "provenance"),
    ("console", "metering"), ("console", "settlement"), ("console", "edge"),
}  # fmt: skip
REQUIRED = {
    "secrets": {
        "databaseUrl": "postgresql://licentia:secret@db.example:5432/licentia",
        "operatorApiKey": "operator-key",
        "serviceToken": "service-token",
    }
}
EVERYTHING = {
    **REQUIRED,
    "secrets": {**REQUIRED["secrets"], "signingKeyPem": "-----BEGIN PRIVATE KEY-----\n..."},
    "database": {"schemaPrefix": "prod"},
    "tracing": {"otlpEndpoint": "http://otel-collector.observability:4317", "sampleRatio": 0.2},
    "metrics": {"enabled": True, "port": 9464, "serviceMonitor": {"enabled": True}},
    "networkPolicy": {
        "enabled": True,
        "clients": [{"namespaceSelector": {"matchLabels": {"name": "gateway"}}}],
        "database": {"port": 5432, "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]},
    },
    "config": {"extraEnv": {"LICENTIA_RATE_LIMIT_PER_SECOND": "5000"}},
    "services": {
        name: {"autoscaling": {"enabled": True}, "podDisruptionBudget": {"enabled": True}}
        for name in SERVICES
    },
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "edge": {"host": "licentia.example", "tlsSecret": "edge-tls"},
        "console": {"host": "console.licentia.example", "tlsSecret": "console-tls"},
        "grpc": {
            "hosts": {name: f"{name}.licentia.example" for name in GRPC_SERVICES},
            "tlsSecret": "grpc-tls",
        },
    },
}
EXISTING_SECRET = {"secrets": {"existingSecret": "licentia-production"}}
CUSTOM_IMAGE = {
    **REQUIRED,
    "image": {"repository": "registry.example/licentia", "digest": "sha256:" + "ab" * 32},
    "fullnameOverride": "market",
}
COMBINATIONS = {
    "defaults": REQUIRED,
    "everything": EVERYTHING,
    "existing-secret": EXISTING_SECRET,
    "custom-image": CUSTOM_IMAGE,
}


def merged(overrides: dict[str, Any]) -> dict[str, Any]:
    """Nested overrides on the chart's defaults, as `helm --set` would merge them."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = copy.deepcopy(value)

    merge(values, overrides)
    return values


def render(overrides: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(merged(overrides), name="lic", namespace="market")
    docs = []
    for path, text in files.items():
        if path.endswith(".txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


@pytest.fixture(scope="module", params=list(COMBINATIONS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(COMBINATIONS[request.param])


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pods(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod spec the chart renders (deployments, the migration job, the test pod)."""
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            yield d["metadata"]["name"], d["spec"]["template"]["spec"]
        elif d["kind"] == "Pod":
            yield d["metadata"]["name"], d["spec"]


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_lints_clean_in_strict_mode(name: str) -> None:
    report = helm.lint(str(CHART), merged(COMBINATIONS[name]), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_manifest_is_valid_kubernetes(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    assert docs
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD: not in Kubernetes' schemas
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        for version in KUBERNETES:
            kubernetes_validate.validate(doc, version, strict=True)


def test_every_container_is_probed_bounded_and_locked_down(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    for name, spec in pods(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert {"requests", "limits"} <= set(container["resources"]), name
            assert "memory" in container["resources"]["limits"], name
    for deployment in of_kind(docs, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        [container] = spec["containers"]
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        if PROTOCOLS[component] == "http":
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        else:
            port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"]["port"] == port, deployment["metadata"]["name"]
        drain = int(
            next(d for d in of_kind(docs, "ConfigMap"))["data"]["LICENTIA_SHUTDOWN_GRACE_SECONDS"]
        )
        assert spec["terminationGracePeriodSeconds"] > drain
        assert len(spec["topologySpreadConstraints"]) == 2


def test_provenance_has_the_memory_and_the_start_up_time_of_its_index() -> None:
    docs = render(REQUIRED)
    by_component = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["spec"]
        for d in of_kind(docs, "Deployment")
    }
    provenance = by_component["provenance"]["containers"][0]
    catalog = by_component["catalog"]["containers"][0]
    budget = (
        provenance["startupProbe"]["periodSeconds"] * provenance["startupProbe"]["failureThreshold"]
    )
    assert budget >= 600
    assert provenance["resources"]["limits"]["memory"] == "4Gi"
    assert (
        catalog["startupProbe"]["failureThreshold"] < provenance["startupProbe"]["failureThreshold"]
    )


def test_every_service_targets_a_declared_container_port(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    deployments = of_kind(docs, "Deployment")
    services = of_kind(docs, "Service")
    assert len(services) == 2 * len(deployments) == 2 * len(SERVICES)  # and a headless one
    for service in services:
        selector = service["spec"]["selector"]
        [target] = [
            d for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip
        declared = {p["name"] for p in target["spec"]["template"]["spec"]["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in declared


def test_network_policies_allow_exactly_the_call_graph() -> None:
    docs = render(EVERYTHING)
    policies = of_kind(docs, "NetworkPolicy")
    component = "app.kubernetes.io/component"
    deny = next(p for p in policies if p["metadata"]["name"].endswith("default-deny"))
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny["spec"]
    egress, ingress = set(), set()
    for policy in policies:
        me = policy["spec"]["podSelector"]["matchLabels"].get(component)
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                other = peer.get("podSelector", {}).get("matchLabels", {}).get(component)
                if other:
                    egress.add((me, other))
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                other = peer.get("podSelector", {}).get("matchLabels", {}).get(component)
                if other:
                    ingress.add((other, me))
    tests = {("test", name) for name in SERVICES}
    assert egress == CALLS | tests
    assert ingress == CALLS | tests
    database_rules = [
        rule for p in policies for rule in p["spec"].get("egress", [])
        if rule["ports"] == [{"port": 5432, "protocol": "TCP"}]
    ]  # fmt: skip
    assert database_rules and all(r["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
                                  for r in database_rules)  # fmt: skip


def test_hooks_migrate_before_install_and_upgrade_and_helm_test_checks_health() -> None:
    docs = render(REQUIRED)
    [job] = of_kind(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    [secret] = of_kind(docs, "Secret")
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )  # the Secret the job reads exists first
    [test] = of_kind(docs, "Pod")
    assert test["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = test["spec"]["containers"][0]["args"]
    assert args[0] == "health" and len(args) == 1 + len(SERVICES)
    # HTTP components are asked over HTTP (GET /healthz), the others over gRPC.
    over_http = {a.removeprefix("http://").split(":")[0].rsplit("-", 1)[-1] for a in args[1:]
                 if a.startswith("http://")}  # fmt: skip
    assert over_http == {n for n in SERVICES if PROTOCOLS[n] == "http"}
    config = of_kind(docs, "ConfigMap")[0]["data"]
    assert config["LICENTIA_MIGRATE_ON_START"] == "false"


def test_an_existing_secret_is_used_and_none_is_created() -> None:
    docs = render(EXISTING_SECRET)
    assert of_kind(docs, "Secret") == []
    for deployment in of_kind(docs, "Deployment"):
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in env if "valueFrom" in e}
        assert refs == {"licentia-production"}


def test_custom_image_and_names() -> None:
    docs = render(CUSTOM_IMAGE)
    images = {c["image"] for _, spec in pods(docs) for c in spec["containers"]}
    assert images == {"registry.example/licentia@sha256:" + "ab" * 32}
    assert all(d["metadata"]["name"].startswith("market") for d in docs)


@pytest.mark.parametrize(
    "bad",
    [
        {"services": {"catalog": {"replicas": 0}}},
        {"services": {"billing": {"replicas": 1}}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"tracing": {"sampleRatio": 2}},
        {"securityContext": {"readOnlyRootFilesystem": False}},
        {"secrets": {"databaseUrl": "mysql://db/licentia"}},
        {"config": {"commissionBps": 20_000}},
        {"metrics": {"port": 70_000}},
    ],
)
def test_the_schema_rejects_bad_values(bad: dict[str, Any]) -> None:
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema(merged({**REQUIRED, **bad}))


def test_missing_credentials_are_a_clear_error() -> None:
    with pytest.raises(helm.HelmError, match=r"secrets\.databaseUrl"):
        render({})


def test_services_call_each_other_through_headless_services(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    """Each address in the configuration names a headless Service of that component: the
    callers' gRPC channels see every pod and spread calls over them."""
    _, docs = rendered
    config = of_kind(docs, "ConfigMap")[0]["data"]
    headless = {
        s["metadata"]["name"]: s for s in of_kind(docs, "Service") if s["spec"].get("clusterIP")
    }
    for name in GRPC_SERVICES:
        address = config[f"LICENTIA_{name.upper()}_ADDRESS"]
        host, port = address.removeprefix("dns:///").rsplit(":", 1)
        assert address.startswith("dns:///") and host in headless
        service = headless[host]
        assert service["spec"]["clusterIP"] == "None"
        assert service["metadata"]["labels"]["app.kubernetes.io/component"] == name
        assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]


def test_the_chart_and_the_procfile_run_every_component_of_the_runtime() -> None:
    """One list of components (services/runtime/config.py): the chart's values and the
    Procfile must name each, or a component would silently not be deployed."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert sorted(values["services"]) == sorted(SERVICES)
    assert all(values["services"][n].get("protocol", "grpc") == PROTOCOLS[n] for n in SERVICES)
    procfile = (CHART.parents[2] / "Procfile").read_text().splitlines()
    assert sorted(line.split(":")[0] for line in procfile if line.strip()) == sorted(SERVICES)


def test_ingress_routes_the_edge_and_console_over_http_and_each_grpc_service_over_tls() -> None:
    docs = render(EVERYTHING)
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    ingresses = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Ingress"}
    assert set(ingresses) == {"lic-licentia-edge", "lic-licentia-console", "lic-licentia-grpc"}
    edge = ingresses["lic-licentia-edge"]["spec"]
    assert edge["tls"] == [{"hosts": ["licentia.example"], "secretName": "edge-tls"}]
    grpc_ingress = ingresses["lic-licentia-grpc"]
    assert grpc_ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/backend-protocol": "GRPC"
    }
    assert grpc_ingress["spec"]["tls"][0]["secretName"] == "grpc-tls"
    routed = {}
    for ingress in ingresses.values():
        for rule in ingress["spec"]["rules"]:
            backend = rule["http"]["paths"][0]["backend"]["service"]
            ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in ports  # a port the Service really has
            routed[rule["host"]] = (backend["name"], backend["port"]["name"])
    assert routed["licentia.example"] == ("lic-licentia-edge", "http")
    assert routed["console.licentia.example"] == ("lic-licentia-console", "http")
    assert ingresses["lic-licentia-console"]["spec"]["tls"][0]["secretName"] == "console-tls"
    assert routed["catalog.licentia.example"] == ("lic-licentia-catalog", "grpc")
    assert len(routed) == 2 + len(GRPC_SERVICES)
    assert not any(d["kind"] == "Ingress" for d in render(REQUIRED))  # off by default


def test_grpc_ingress_needs_tls_and_real_services() -> None:
    plain = {**REQUIRED, "ingress": {"enabled": True, "grpc": {"hosts": {"catalog": "c.example"}}}}
    with pytest.raises(helm.HelmError, match=r"ingress\.grpc\.tlsSecret is required"):
        render(plain)
    unknown = {**REQUIRED, "ingress": {"enabled": True, "grpc": {
        "hosts": {"billing": "b.example"}, "tlsSecret": "t"}}}  # fmt: skip
    with pytest.raises(helm.HelmError, match="billing is not a service"):
        render(unknown)
