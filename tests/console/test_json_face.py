"""The JSON face through plain HTTP (`requests`, a client no one here wrote), against the
same calls over gRPC: for each service, one call per party gives the same body, or the
same error (code, message, ErrorInfo reason, field violations) as JSON."""

from __future__ import annotations

import base64
import json
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import requests
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as cgrpc
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lgrpc
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mgrpc
from licentia.metering.v1 import resources_pb2 as mres
from licentia.provenance.v1 import provenance_service_pb2 as papi
from licentia.provenance.v1 import provenance_service_pb2_grpc as pgrpc
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sgrpc

from services.console import app as console_app
from services.console.entrypoints.connect import methods
from services.console.entrypoints.http import SECURITY_HEADERS
from services.runtime.config import Settings
from services.runtime.ports import free_port
from tests.api.helpers import article
from tests.api.market import terms
from tests.asgi import serving
from tests.conftest import OPERATOR_KEY, SERVICE_TOKEN, start_catalog
from tests.console.conftest import Console

STUBS: dict[str, Any] = {
    "catalog": cgrpc.CatalogServiceStub,
    "licensing": lgrpc.LicensingServiceStub,
    "metering": mgrpc.MeteringServiceStub,
    "settlement": sgrpc.SettlementServiceStub,
    "provenance": pgrpc.ProvenanceServiceStub,
}
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def over_json(
    console: Console, service: str, method: str, body: Any, key: str | None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(console.rpc(service, method), json=body, headers=headers, timeout=30)


def over_grpc(
    console: Console, service: str, method: str, request: Message, key: str | None
) -> Any:
    channel = {
        "catalog": console.market.catalog.channel,
        "licensing": console.market.licensing.channel,
        "metering": console.metering.channel,
        "settlement": console.settlement.channel,
        "provenance": console.provenance.channel,
    }[service]
    metadata = [("authorization", f"Bearer {key}")] if key else []
    try:
        return getattr(STUBS[service](channel), method)(request, metadata=metadata, timeout=30)
    except grpc.RpcError as error:
        return error


def error_of_grpc(error: grpc.RpcError) -> dict[str, Any]:
    status = status_pb2.Status()
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            status.ParseFromString(value)
    return {
        "code": error.code().name.lower(),  # type: ignore[attr-defined]
        "message": error.details(),  # type: ignore[attr-defined]
        "details": [
            (d.type_url.split("/")[-1], base64.b64encode(d.value).decode().rstrip("="))
            for d in status.details
        ],
    }


def error_of_json(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    return {
        "code": body["code"],
        "message": body.get("message", ""),
        "details": [(d["type"], d["value"].rstrip("=")) for d in body.get("details", [])],
    }


def same(
    console: Console,
    service: str,
    method: str,
    request: Message,
    key: str | None,
    moving: tuple[str, ...] = (),
) -> requests.Response:
    """The call over JSON answers exactly what the call over gRPC does (but for the
    `moving` fields, such as an as-of time)."""
    expected = over_grpc(console, service, method, request, key)
    response = over_json(console, service, method, json_format.MessageToDict(request), key)
    if isinstance(expected, grpc.RpcError):
        assert response.status_code >= 400, response.text
        assert error_of_json(response) == error_of_grpc(expected)
    else:
        assert response.status_code == 200, response.text
        answer = json_format.Parse(response.text, type(expected)())
        for name in moving:
            answer.ClearField(name)
            expected.ClearField(name)
        assert answer == expected
    return response


def reason(response: requests.Response) -> str:
    for detail in response.json().get("details", []):
        if detail["type"] == "google.rpc.ErrorInfo":
            return str(detail["debug"]["reason"])
    return ""


def test_each_service_answers_each_party_over_json_as_over_grpc(console: Console) -> None:
    m = console.market
    pa, va, vb = m.pa.account.key, m.va.account.key, m.vb.account.key
    offer = m.offer(m.pa, terms())
    m.license(m.va, offer)
    start, end = HOUR - timedelta(hours=2), HOUR + timedelta(hours=1)
    summary = mapi.GetUsageSummaryRequest(group_by=[mres.DIMENSION_VENDOR])
    summary.start_time.FromDatetime(start)
    summary.end_time.FromDatetime(end)

    # catalog: a publisher reads its work, a vendor another publisher's, the operator lists.
    ok = same(console, "catalog", "GetWork", capi.GetWorkRequest(name=m.works_a[0]), pa)
    assert ok.json()["name"] == m.works_a[0]
    same(console, "catalog", "GetWork", capi.GetWorkRequest(name=m.works_b[0]), pa)
    same(console, "catalog", "GetVendor", capi.GetVendorRequest(name=m.vb.name), va)
    listed = same(console, "catalog", "ListPublishers", capi.ListPublishersRequest(), OPERATOR_KEY)
    assert {p["name"] for p in listed.json()["publishers"]} >= {m.pa.name, m.pb.name}
    # licensing
    same(console, "licensing", "ListOffers", lapi.ListOffersRequest(parent=m.pa.name), pa)
    same(console, "licensing", "ListOffers", lapi.ListOffersRequest(parent="publishers/-"), vb)
    same(console, "licensing", "ListLicenses", lapi.ListLicensesRequest(), va)
    same(console, "licensing", "GetSigningKeys", lapi.GetSigningKeysRequest(), OPERATOR_KEY)
    # metering
    for key in (pa, va, OPERATOR_KEY):
        same(console, "metering", "GetUsageSummary", summary, key)
    # settlement
    charges = sapi.GetRunningChargesRequest(vendor=m.va.name)
    same(console, "settlement", "GetRunningCharges", charges, va, moving=("as_of_time",))
    refused = same(console, "settlement", "GetRunningCharges", charges, vb)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    same(
        console,
        "settlement",
        "ListSettlementPeriods",
        sapi.ListSettlementPeriodsRequest(),
        OPERATOR_KEY,
    )
    same(console, "settlement", "ListStatements", sapi.ListStatementsRequest(party=m.pa.name), pa)
    # provenance
    text = papi.CheckTextRequest(text="Nothing in this sentence was ever published anywhere.")
    same(console, "provenance", "CheckText", text, va)
    same(console, "provenance", "GetIndexStats", papi.GetIndexStatsRequest(), OPERATOR_KEY)
    same(console, "provenance", "CheckText", text, pa)


def test_errors_arrive_as_the_services_say_them(console: Console) -> None:
    m = console.market
    # No key, a wrong key: UNAUTHENTICATED with the service's reason and hint.
    for key in (None, "not-a-key"):
        response = same(console, "catalog", "GetWork", capi.GetWorkRequest(name=m.works_a[0]), key)
        assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    # Bad input: INVALID_ARGUMENT naming the fields, as over gRPC.
    summary = mapi.GetUsageSummaryRequest()
    summary.start_time.FromDatetime(HOUR + timedelta(minutes=7))
    summary.end_time.FromDatetime(HOUR + timedelta(hours=1))
    response = same(console, "metering", "GetUsageSummary", summary, m.va.account.key)
    assert response.status_code == 400
    violations = [
        d["debug"] for d in response.json()["details"] if d["type"] == "google.rpc.BadRequest"
    ]
    assert violations and violations[0]["fieldViolations"][0]["field"] == "start_time"
    # A body that is not JSON, or not this method's JSON: INVALID_ARGUMENT, nothing called.
    key = {"Authorization": f"Bearer {m.pa.account.key}", "Content-Type": "application/json"}
    for body in (b'{"name": ', b'{"nope": 1}', b'{"name": 5}', b'{"name": "\\ud800"}'):
        response = requests.post(
            console.rpc("catalog", "GetWork"), data=body, headers=key, timeout=30
        )
        assert response.status_code == 400, (body, response.text)
        assert (response.json()["code"], reason(response)) == (
            "invalid_argument",
            "MALFORMED_REQUEST",
        )
    # protobuf's JSON parser reads `[]` as an empty request: the service refuses that.
    response = requests.post(console.rpc("catalog", "GetWork"), data=b"[]", headers=key, timeout=30)
    assert (response.json()["code"], reason(response)) == (
        "invalid_argument",
        "INVALID_RESOURCE_NAME",
    )
    # The service's own limits on decoded input hold over JSON too.
    response = over_json(console, "catalog", "GetWork", {"name": "x" * 9_000}, m.pa.account.key)
    assert response.json()["code"] == "invalid_argument"
    # An unknown method is a 404; a GET of a method is refused (every call is a POST).
    response = requests.post(console.rpc("catalog", "StealWork"), json={}, timeout=30)
    assert response.status_code == 404
    response = requests.get(console.rpc("catalog", "GetWork"), timeout=30)
    assert response.status_code >= 400


def connect_stream(
    console: Console, service: str, method: str, key: str, messages: list[bytes]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A call over Connect's streaming protocol: each message enveloped (flags 0), then
    the answer's messages and its end-of-stream frame (flags 2)."""
    response = requests.post(
        console.rpc(service, method),
        data=b"".join(struct.pack(">BI", 0, len(m)) + m for m in messages),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/connect+json",
            "Connect-Protocol-Version": "1",
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    frames, body = [], response.content
    while body:
        flags, size = struct.unpack(">BI", body[:5])
        frames.append((flags, json.loads(body[5 : 5 + size])))
        body = body[5 + size :]
    assert [flags for flags, _ in frames] == [0] * (len(frames) - 1) + [2]
    return [message for _, message in frames[:-1]], frames[-1][1]


def as_json(message: Message) -> bytes:
    return json.dumps(json_format.MessageToDict(message)).encode()


def test_server_streams_over_connect_framing(console: Console) -> None:
    """A server-streaming method (ListBillableUsage) over Connect's enveloped JSON."""
    m = console.market
    request = mapi.ListBillableUsageRequest()
    request.end_time.FromDatetime(HOUR)
    answers, end = connect_stream(
        console, "metering", "ListBillableUsage", OPERATOR_KEY, [as_json(request)]
    )
    assert end == {}  # no error
    expected = list(
        mgrpc.MeteringServiceStub(console.metering.channel).ListBillableUsage(
            request, metadata=[("authorization", f"Bearer {OPERATOR_KEY}")]
        )
    )
    assert [json_format.ParseDict(a, mapi.ListBillableUsageResponse()) for a in answers] == (
        expected
    )
    # Refused by the service: the error is the end-of-stream frame's.
    _, end = connect_stream(
        console, "metering", "ListBillableUsage", m.va.account.key, [as_json(request)]
    )
    assert end["error"]["code"] == "permission_denied"
    # Two request messages, or one that is not JSON: bad input, nothing called.
    for messages, why in (
        ([as_json(request), as_json(request)], "ONE_MESSAGE"),
        ([b'{"endTime": '], "MALFORMED_REQUEST"),
    ):
        _, end = connect_stream(console, "metering", "ListBillableUsage", OPERATOR_KEY, messages)
        assert end["error"]["code"] == "invalid_argument"
        assert end["error"]["details"][0]["debug"]["reason"] == why


def test_streams_both_ways_over_connect_framing(console: Console) -> None:
    """CheckTexts and ImportWorks, which stream both ways, over Connect's enveloped JSON
    (HTTP/1.1: the messages, then the answers): the same answers as over gRPC."""
    m = console.market
    texts = [
        papi.CheckTextsRequest(text="Nothing in this sentence was ever published anywhere."),
        papi.CheckTextsRequest(text="Another sentence no publisher ever wrote, for a test."),
    ]
    answers, end = connect_stream(
        console, "provenance", "CheckTexts", m.va.account.key, [as_json(t) for t in texts]
    )
    assert end == {}
    expected = list(
        pgrpc.ProvenanceServiceStub(console.provenance.channel).CheckTexts(
            iter(texts), metadata=[("authorization", f"Bearer {m.va.account.key}")]
        )
    )
    assert [json_format.ParseDict(a, papi.CheckTextsResponse()) for a in answers] == expected
    assert len(answers) == 2

    # A bulk import: two messages of works, each answered once committed.
    batches = [
        capi.ImportWorksRequest(parent=m.pa.name, works=[article(500 + i) for i in range(2)]),
        capi.ImportWorksRequest(parent=m.pa.name, works=[article(510)]),
    ]
    answers, end = connect_stream(
        console, "catalog", "ImportWorks", m.pa.account.key, [as_json(b) for b in batches]
    )
    assert end == {}
    imported = [r["work"] for a in answers for r in a["results"]]
    assert len(imported) == 3
    for name in imported:
        work = m.pa.account.client.GetWork(capi.GetWorkRequest(name=name))
        assert work.name == name
    # A message that is not JSON ends the stream with INVALID_ARGUMENT, after the service
    # has answered the messages before it.
    answers, end = connect_stream(
        console, "catalog", "ImportWorks", m.pa.account.key,
        [as_json(capi.ImportWorksRequest(parent=m.pa.name, works=[article(520)])), b"{nope"],
    )  # fmt: skip
    assert len(answers) == 1 and len(answers[0]["results"]) == 1
    assert end["error"]["code"] == "invalid_argument"
    assert end["error"]["details"][0]["debug"]["reason"] == "MALFORMED_REQUEST"


def test_every_answer_carries_the_security_headers(console: Console) -> None:
    for path in ("/", "/console.js", "/console.css", "/healthz", "/readyz"):
        response = requests.get(console.url + path, timeout=30)
        assert response.status_code == 200
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
    api = over_json(console, "catalog", "ListPublishers", {}, OPERATOR_KEY)
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-frame-options"] == "DENY"
    # No CORS: a preflight from another origin gets no permission to call.
    preflight = requests.options(
        console.rpc("catalog", "ListPublishers"),
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"},
        timeout=30,
    )  # fmt: skip
    assert "access-control-allow-origin" not in {k.lower() for k in preflight.headers}


def test_every_rpc_of_every_service_has_a_route() -> None:
    """Every `rpc` the contracts declare (read from the .proto text) has its route."""
    declared = {
        f"licentia.{proto.parent.parent.name}.v1.{service}/{name}"
        for proto in Path("protos").rglob("*_service.proto")
        for service, body in re.findall(r"service (\w+) \{(.*?)\n\}", proto.read_text(), re.S)
        for name in re.findall(r"^\s*rpc (\w+)\(", body, re.M)
    }
    routes = {f"{m.containing_service.full_name}/{m.name}" for _, m in methods()}
    assert len(declared) > 70 and routes == declared


def test_rate_limits_are_the_services_own_and_per_caller(settings: Settings) -> None:
    """Behind the JSON face every call still counts against its own caller's bucket, not
    the console's: one caller exhausted, another is still served."""
    limited = settings.model_copy(update={"rate_limit_per_second": 0.01, "rate_limit_burst": 3})
    catalog = start_catalog(limited)
    port = free_port()
    face = console_app.build_app(limited.with_ports(catalog=catalog.server.port, console=port))
    try:
        with serving(face, port, "console") as url:

            def list_as(key: str) -> requests.Response:
                return requests.post(
                    f"{url}/licentia.catalog.v1.CatalogService/ListPublishers", json={},
                    headers={"Authorization": f"Bearer {key}"}, timeout=30,
                )  # fmt: skip

            answers = [list_as(OPERATOR_KEY).status_code for _ in range(4)]
            assert answers[:3] == [200, 200, 200] and answers[3] == 429
            exhausted = list_as(OPERATOR_KEY).json()
            assert exhausted["code"] == "resource_exhausted"
            kinds = {d["type"] for d in exhausted["details"]}
            assert "google.rpc.RetryInfo" in kinds
            other = list_as(SERVICE_TOKEN)
            assert other.status_code != 429, other.text
    finally:
        catalog.channel.close()
        catalog.server.stop(0)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def test_no_body_makes_the_json_face_fail(console: Console) -> None:
    """Any JSON (or not JSON) sent to any unary method, by a real caller: an answer that
    names the problem, never INTERNAL or UNKNOWN, never a 5xx but UNAVAILABLE."""
    key = console.market.va.account.key
    unary = [
        (m.containing_service.full_name, m.name)
        for _, m in methods()
        if not (m.client_streaming or m.server_streaming)
    ]

    @settings(max_examples=3 * len(unary), deadline=None)
    @given(st.sampled_from(unary), JSON | st.binary(max_size=40))
    def call(method: tuple[str, str], body: object) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = requests.post(
            f"{console.url}/{method[0]}/{method[1]}",
            data=data,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=30,
        )
        answer = response.json()
        assert response.status_code < 500 or answer.get("code") == "unavailable", answer
        assert answer.get("code") not in ("internal", "unknown"), (method, data, answer)

    call()
