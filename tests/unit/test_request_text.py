"""Finding a NUL character anywhere in a request: plain, repeated and nested fields, maps."""

from __future__ import annotations

from google.protobuf.wrappers_pb2 import BytesValue
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import resources_pb2 as mres

from services.runtime.lenient_decoding import nul_field


def test_clean_requests_have_no_nul_field() -> None:
    works = [cres.Work(title="a", body="b\nc", tags=["x", "y"]) for _ in range(3)]
    assert nul_field(capi.ImportWorksRequest(parent="publishers/p", works=works)) == ""
    assert nul_field(mres.UsageEvent(id="e", attributes={"model": "m"})) == ""


def test_the_path_of_the_first_nul_field_is_named() -> None:
    works = [cres.Work(title="a"), cres.Work(title="b", tags=["ok", "n\x00"])]
    request = capi.ImportWorksRequest(parent="publishers/p", works=works)
    assert nul_field(request) == "works[1].tags[1]"
    assert nul_field(capi.CreateWorkRequest(work=cres.Work(body="x\x00"))) == "work.body"
    assert nul_field(lres.Terms(permitted_uses=["ai-input", "\x00"])) == "permitted_uses[1]"


def test_map_keys_and_values_are_checked() -> None:
    event = mres.UsageEvent(id="e", attributes={"model": "m\x00"})
    assert nul_field(mapi.RecordUsageRequest(events=[mres.UsageEvent(), event])) == (
        "events[1].attributes['model']"
    )
    assert nul_field(mres.UsageEvent(attributes={"k\x00": "v"})) == "attributes['k\\x00']"


def test_only_text_is_checked() -> None:
    assert nul_field(BytesValue(value=b"\x00\x01")) == ""  # bytes may hold anything
