"""Catalog pieces of the license server: OAuth client credentials (created by the
account, secret shown once, revocable, resolved only for services) and works found by
their canonical URL, unique per publisher. SQLite and PostgreSQL."""

from __future__ import annotations

import grpc
import pytest
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import resources_pb2 as res

from tests.api.helpers import article, make_publisher, make_vendor
from tests.conftest import SERVICE_TOKEN, ServiceHarness, error_reason


def test_an_account_manages_its_oauth_clients_and_only_services_resolve_them(
    catalog: ServiceHarness,
) -> None:
    lab = make_vendor(catalog, "lab")
    other = make_vendor(catalog, "other")
    created = lab.client.CreateOAuthClient(
        api.CreateOAuthClientRequest(
            parent=lab.name, oauth_client=res.OAuthClient(display_name="crawler")
        )
    )
    client = created.oauth_client
    assert client.name == f"{lab.name}/oauthClients/{client.client_id}"
    assert created.client_secret.startswith("lcs_")
    listed = lab.client.ListOAuthClients(api.ListOAuthClientsRequest(parent=lab.name))
    assert [c.client_id for c in listed.oauth_clients] == [client.client_id]
    with pytest.raises(grpc.RpcError) as denied:
        other.client.ListOAuthClients(api.ListOAuthClientsRequest(parent=lab.name))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    service = catalog.client(SERVICE_TOKEN)
    ask = api.AuthenticateOAuthClientRequest(
        client_id=client.client_id, client_secret=created.client_secret
    )
    assert service.AuthenticateOAuthClient(ask).account == lab.name
    with pytest.raises(grpc.RpcError) as vendor_asks:
        lab.client.AuthenticateOAuthClient(ask)
    assert vendor_asks.value.code() == grpc.StatusCode.PERMISSION_DENIED
    wrong = api.AuthenticateOAuthClientRequest(client_id=client.client_id, client_secret="nope")
    with pytest.raises(grpc.RpcError) as bad:
        service.AuthenticateOAuthClient(wrong)
    assert error_reason(bad.value) == "OAUTH_CLIENT_INVALID"

    revoked = lab.client.RevokeOAuthClient(api.RevokeOAuthClientRequest(name=client.name))
    assert revoked.HasField("revoke_time")
    with pytest.raises(grpc.RpcError) as gone:
        service.AuthenticateOAuthClient(ask)
    assert error_reason(gone.value) == "OAUTH_CLIENT_INVALID"


def test_works_are_found_by_canonical_url_which_names_one_work(catalog: ServiceHarness) -> None:
    acme = make_publisher(catalog, "acme")
    other = make_publisher(catalog, "other")
    work = acme.client.CreateWork(
        api.CreateWorkRequest(
            parent=acme.name,
            work=article(1, canonical_url="HTTPS://News.Example/a/1#top"),
        )
    )
    assert work.canonical_url == "https://news.example/a/1"
    # Another publisher may claim the same URL (a syndicated copy); the same one may not.
    other.client.CreateWork(
        api.CreateWorkRequest(parent=other.name, work=article(1, canonical_url=work.canonical_url))
    )
    with pytest.raises(grpc.RpcError) as taken:
        acme.client.CreateWork(
            api.CreateWorkRequest(
                parent=acme.name, work=article(2, canonical_url="https://news.example/a/1")
            )
        )
    assert error_reason(taken.value) == "WORK_URL_TAKEN"
    (response,) = acme.client.ImportWorks(
        iter(
            [
                api.ImportWorksRequest(
                    parent=acme.name,
                    works=[
                        article(3, canonical_url="https://news.example/a/1"),
                        article(4, canonical_url="https://news.example/a/4"),
                        article(5, canonical_url="https://news.example/a/4"),
                    ],
                )
            ]
        )
    )
    outcome = api.ImportWorkResult
    assert [r.outcome for r in response.results] == [
        outcome.OUTCOME_FAILED,
        outcome.OUTCOME_CREATED,
        outcome.OUTCOME_FAILED,
    ]
    assert response.results[0].error.reason == "WORK_URL_TAKEN"

    found = acme.client.LookupWorks(api.LookupWorksRequest(url="https://NEWS.example/a/1"))
    assert [w.name for w in found.works] == [work.name]  # the other publisher's is not its
    vendor = make_vendor(catalog, "lab")
    both = vendor.client.LookupWorks(api.LookupWorksRequest(url="https://news.example/a/1"))
    assert sorted(w.name.split("/works/")[0] for w in both.works) == [acme.name, other.name]
    assert all(w.body == "" for w in both.works)
    with pytest.raises(grpc.RpcError) as bad:
        vendor.client.LookupWorks(api.LookupWorksRequest(url="ftp://x"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
