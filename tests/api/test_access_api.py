"""Accounts, API keys and who may do what (publisher A vs B, vendor, operator,
no key, revoked key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import resources_pb2 as res

from tests.api.helpers import article, make_publisher, make_vendor
from tests.conftest import SERVICE_TOKEN, ServiceHarness, error_reason


def _status(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_accounts_and_keys_lifecycle(catalog: ServiceHarness) -> None:
    op = catalog.operator
    pub = op.CreatePublisher(
        api.CreatePublisherRequest(
            publisher=res.Publisher(
                display_name="Daily Planet", contact_email="desk@planet.example"
            ),
            publisher_id="planet",
            request_id="r1",
        )
    )
    again = op.CreatePublisher(
        api.CreatePublisherRequest(
            publisher=res.Publisher(display_name="Daily Planet"),
            publisher_id="planet",
            request_id="r1",
        )
    )
    assert pub.name == again.name == "publishers/planet"
    vendor = op.CreateVendor(api.CreateVendorRequest(vendor=res.Vendor(display_name="Bot Co")))
    assert vendor.name.startswith("vendors/v")
    assert [p.name for p in op.ListPublishers(api.ListPublishersRequest()).publishers] == [
        "publishers/planet"
    ]
    assert [v.name for v in op.ListVendors(api.ListVendorsRequest()).vendors] == [vendor.name]

    created = op.CreateApiKey(
        api.CreateApiKeyRequest(parent=pub.name, api_key=res.ApiKey(display_name="cms"))
    )
    assert created.key.startswith("lic_") and created.api_key.name.startswith(
        "publishers/planet/apiKeys/"
    )
    planet = catalog.client(created.key)
    assert (
        planet.GetPublisher(api.GetPublisherRequest(name=pub.name)).display_name == "Daily Planet"
    )
    # A publisher rotates its own keys.
    second = planet.CreateApiKey(api.CreateApiKeyRequest(parent=pub.name))
    keys = planet.ListApiKeys(api.ListApiKeysRequest(parent=pub.name)).api_keys
    assert {k.name for k in keys} == {created.api_key.name, second.api_key.name}
    revoked = planet.RevokeApiKey(api.RevokeApiKeyRequest(name=created.api_key.name))
    assert revoked.HasField("revoke_time")
    with pytest.raises(grpc.RpcError) as denied:
        planet.GetPublisher(api.GetPublisherRequest(name=pub.name))
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(denied.value) == "INVALID_API_KEY"
    assert (
        catalog.client(second.key).GetPublisher(api.GetPublisherRequest(name=pub.name)).name
        == pub.name
    )


def test_account_errors(catalog: ServiceHarness) -> None:
    op = catalog.operator
    op.CreatePublisher(
        api.CreatePublisherRequest(publisher=res.Publisher(display_name="A"), publisher_id="a")
    )
    with pytest.raises(grpc.RpcError) as dup:
        op.CreatePublisher(
            api.CreatePublisherRequest(publisher=res.Publisher(display_name="A"), publisher_id="a")
        )
    assert (dup.value.code(), error_reason(dup.value)) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "PUBLISHER_ALREADY_EXISTS",
    )
    with pytest.raises(grpc.RpcError) as empty:
        op.CreateVendor(
            api.CreateVendorRequest(vendor=res.Vendor(display_name=" "), vendor_id="Bad Id")
        )
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as missing:
        op.GetVendor(api.GetVendorRequest(name="vendors/nobody"))
    assert (missing.value.code(), error_reason(missing.value)) == (
        grpc.StatusCode.NOT_FOUND,
        "VENDOR_NOT_FOUND",
    )
    with pytest.raises(grpc.RpcError) as no_account:
        op.CreateApiKey(api.CreateApiKeyRequest(parent="vendors/nobody"))
    assert error_reason(no_account.value) == "ACCOUNT_NOT_FOUND"
    assert not op.ListVendors(api.ListVendorsRequest()).vendors


def test_access_matrix(catalog: ServiceHarness) -> None:
    a = make_publisher(catalog, "alpha")
    b = make_publisher(catalog, "beta")
    vendor = make_vendor(catalog, "robot")
    work = a.client.CreateWork(api.CreateWorkRequest(parent=a.name, work=article(1)))
    revoked = catalog.operator.CreateApiKey(api.CreateApiKeyRequest(parent=a.name))
    catalog.operator.RevokeApiKey(api.RevokeApiKeyRequest(name=revoked.api_key.name))
    revoked_key = revoked.key
    fresh = iter(range(100, 1000))
    callers = {
        "operator": catalog.operator,
        "owner": a.client,
        "other_publisher": b.client,
        "vendor": vendor.client,
        "no_key": catalog.client(None),
        "bad_key": catalog.client("lic_not-a-real-key"),
        "revoked": catalog.client(revoked_key),
    }
    get_basic = api.GetWorkRequest(name=work.name)
    get_full = api.GetWorkRequest(name=work.name, view=res.WORK_VIEW_FULL)
    S = grpc.StatusCode
    expectations: dict[str, tuple[Callable[[Any], Any], dict[str, grpc.StatusCode]]] = {
        "get_basic": (
            lambda c: c.GetWork(get_basic),
            dict(operator=S.OK, owner=S.OK, other_publisher=S.PERMISSION_DENIED, vendor=S.OK),
        ),
        "get_full": (
            lambda c: c.GetWork(get_full),
            dict(
                operator=S.OK,
                owner=S.OK,
                other_publisher=S.PERMISSION_DENIED,
                vendor=S.PERMISSION_DENIED,
            ),
        ),
        "list_all": (
            lambda c: c.ListWorks(api.ListWorksRequest(parent="publishers/-")),
            dict(
                operator=S.OK,
                owner=S.PERMISSION_DENIED,
                other_publisher=S.PERMISSION_DENIED,
                vendor=S.OK,
            ),
        ),
        "create_work": (
            lambda c: c.CreateWork(api.CreateWorkRequest(parent=a.name, work=article(next(fresh)))),
            dict(
                operator=S.OK,
                owner=S.OK,
                other_publisher=S.PERMISSION_DENIED,
                vendor=S.PERMISSION_DENIED,
            ),
        ),
        "create_publisher": (
            lambda c: c.CreatePublisher(
                api.CreatePublisherRequest(publisher=res.Publisher(display_name="X"))
            ),
            dict(
                operator=S.OK,
                owner=S.PERMISSION_DENIED,
                other_publisher=S.PERMISSION_DENIED,
                vendor=S.PERMISSION_DENIED,
            ),
        ),
        "list_vendors": (
            lambda c: c.ListVendors(api.ListVendorsRequest()),
            dict(
                operator=S.OK,
                owner=S.PERMISSION_DENIED,
                other_publisher=S.PERMISSION_DENIED,
                vendor=S.PERMISSION_DENIED,
            ),
        ),
        "other_keys": (
            lambda c: c.ListApiKeys(api.ListApiKeysRequest(parent=a.name)),
            dict(
                operator=S.OK,
                owner=S.OK,
                other_publisher=S.PERMISSION_DENIED,
                vendor=S.PERMISSION_DENIED,
            ),
        ),
        "event_feed": (
            lambda c: c.ListWorkEvents(api.ListWorkEventsRequest()),
            dict(
                operator=S.OK,
                owner=S.PERMISSION_DENIED,
                other_publisher=S.PERMISSION_DENIED,
                vendor=S.PERMISSION_DENIED,
            ),
        ),
    }
    failures = []
    for action, (call, expected) in expectations.items():
        expected = {
            **expected,
            "no_key": S.UNAUTHENTICATED,
            "bad_key": S.UNAUTHENTICATED,
            "revoked": S.UNAUTHENTICATED,
        }
        for who, client in callers.items():
            got = _status(lambda: call(client))  # noqa: B023 - called at once
            if got != expected[who]:
                failures.append(f"{action} as {who}: expected {expected[who].name}, got {got.name}")
    assert not failures, "\n".join(failures)


def test_vendor_content_denial_names_the_license(catalog: ServiceHarness) -> None:
    a = make_publisher(catalog, "alpha")
    vendor = make_vendor(catalog, "robot")
    work = a.client.CreateWork(api.CreateWorkRequest(parent=a.name, work=article(1)))
    with pytest.raises(grpc.RpcError) as denied:
        vendor.client.GetWork(api.GetWorkRequest(name=work.name, view=res.WORK_VIEW_FULL))
    assert error_reason(denied.value) == "LICENSE_REQUIRED"


def test_services_resolve_api_keys(catalog: ServiceHarness) -> None:
    a = make_publisher(catalog, "alpha")
    service = catalog.client(SERVICE_TOKEN)
    answer = service.AuthenticateApiKey(api.AuthenticateApiKeyRequest(key=a.key))
    assert answer.account == a.name and answer.api_key.startswith(f"{a.name}/apiKeys/")
    with pytest.raises(grpc.RpcError) as unknown:
        service.AuthenticateApiKey(api.AuthenticateApiKeyRequest(key="lic_unknown"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as not_trusted:
        a.client.AuthenticateApiKey(api.AuthenticateApiKeyRequest(key=a.key))
    assert not_trusted.value.code() == grpc.StatusCode.PERMISSION_DENIED
