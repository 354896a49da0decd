"""`licentia operator`: accounts and keys."""

from __future__ import annotations

from typing import Annotated

import typer
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import resources_pb2 as res
from licentia.licensing.v1 import licensing_service_pb2 as lapi

from services.cli.output import as_dict, console, emit_json, errors, listing, say, table
from services.cli.profile import JsonOption, ProfileOption, connect

app = typer.Typer(
    help="The marketplace operator: publishers, vendors, API keys.", no_args_is_help=True
)


@app.command("create-publisher", help="Register a publisher account and print its first API key.")
def create_publisher(
    publisher_id: Annotated[str, typer.Argument(help="e.g. harbour-gazette")],
    name: Annotated[str, typer.Option(help="display name")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        created = lic.catalog.CreatePublisher(
            api.CreatePublisherRequest(
                publisher=res.Publisher(display_name=name), publisher_id=publisher_id
            )
        )
    emit_json(as_dict(created)) if as_json else console.print(f"created {created.name}")


@app.command("create-vendor", help="Register an AI vendor account and print its first API key.")
def create_vendor(
    vendor_id: Annotated[str, typer.Argument(help="e.g. answer-engine")],
    name: Annotated[str, typer.Option(help="display name")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        created = lic.catalog.CreateVendor(
            api.CreateVendorRequest(vendor=res.Vendor(display_name=name), vendor_id=vendor_id)
        )
    emit_json(as_dict(created)) if as_json else console.print(f"created {created.name}")


@app.command("create-key")
def create_key(
    account: Annotated[str, typer.Argument(help="publishers/{p} or vendors/{v}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """A new API key for the account; its secret is printed once, never stored."""
    with connect(profile) as lic:
        created = lic.catalog.CreateApiKey(api.CreateApiKeyRequest(parent=account))
    if as_json:
        emit_json({"name": created.api_key.name, "key": created.key})
    else:
        console.print(f"{created.api_key.name}\n{created.key}")
        console.print("[dim]the key is shown once: store it now[/]")


@app.command("keys", help="An account's API keys (names and state; never the secrets).")
def keys(
    account: Annotated[str, typer.Argument(help="publishers/{p} or vendors/{v}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = api.ListApiKeysRequest(parent=account)
    with connect(profile) as lic:
        found = list(lic.paged(lic.catalog.ListApiKeys, request, "api_keys"))
    listing(found, as_json, "API keys", ["key", "created", "revoked"], _key_row)


def _revoked(credential: res.ApiKey | res.OAuthClient) -> str:
    return credential.revoke_time.ToJsonString() if credential.HasField("revoke_time") else "-"


def _key_row(key: res.ApiKey) -> tuple[str, str, str]:
    return key.name, key.create_time.ToJsonString(), _revoked(key)


@app.command("revoke-key", help="Revoke an API key: calls with it fail from now on.")
def revoke_key(
    key: Annotated[str, typer.Argument(help="the key's name, as `keys` lists it")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        revoked = lic.catalog.RevokeApiKey(api.RevokeApiKeyRequest(name=key))
    say(revoked, as_json, f"revoked {revoked.name}")


@app.command("accounts", help="Every publisher and vendor account.")
def accounts(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    with connect(profile) as lic:
        publishers = list(
            lic.paged(lic.catalog.ListPublishers, api.ListPublishersRequest(), "publishers")
        )
        vendors = list(lic.paged(lic.catalog.ListVendors, api.ListVendorsRequest(), "vendors"))
    if as_json:
        emit_json([as_dict(a) for a in [*publishers, *vendors]])
        return
    table(
        "accounts",
        ["name", "display name"],
        [(a.name, a.display_name) for a in [*publishers, *vendors]],
    )


@app.command("commission", help="A publisher's commission rate (basis points), or --clear it.")
def commission(
    publisher: Annotated[str, typer.Argument(help="publishers/{p}")],
    bps: Annotated[int, typer.Option(help="e.g. 1200 for 12%")] = 0,
    clear: Annotated[bool, typer.Option(help="back to the marketplace's default")] = False,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        answer = lic.licensing.SetCommissionRate(
            lapi.SetCommissionRateRequest(publisher=publisher, commission_bps=bps, clear=clear)
        )
    say(answer, as_json, f"{answer.publisher}: commission {answer.commission_bps / 100:g}%")


@app.command("signing-keys", help="The license-token signing keys (JWKS) and the active one.")
def signing_keys(profile: ProfileOption = None) -> None:
    with connect(profile) as lic:
        answer = lic.licensing.GetSigningKeys(lapi.GetSigningKeysRequest())
    print(answer.jwks)
    errors.print(f"active key: {answer.active_key_id}")


@app.command("rotate-key", help="Start signing license tokens with a new key (old ones verify).")
def rotate_key(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    with connect(profile) as lic:
        answer = lic.licensing.RotateSigningKey(lapi.RotateSigningKeyRequest())
    say(answer, as_json, f"signing with {answer.active_key_id}")


@app.command("create-oauth-client", help="OAuth client credentials for the license server.")
def create_oauth_client(
    account: Annotated[str, typer.Argument(help="vendors/{v} (tokens) or publishers/{p}")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Its secret is printed once, never stored."""
    request = api.CreateOAuthClientRequest(
        parent=account, oauth_client=res.OAuthClient(display_name=name)
    )
    with connect(profile) as lic:
        created = lic.catalog.CreateOAuthClient(request)
    if as_json:
        emit_json({"name": created.oauth_client.name, "client_id": created.oauth_client.client_id,
                   "client_secret": created.client_secret})  # fmt: skip
    else:
        console.print(f"client_id {created.oauth_client.client_id}")
        console.print(f"client_secret {created.client_secret}")
        console.print("[dim]the secret is shown once: store it now[/]")


@app.command("oauth-clients", help="An account's OAuth clients (never the secrets).")
def oauth_clients(
    account: Annotated[str, typer.Argument(help="vendors/{v} or publishers/{p}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = api.ListOAuthClientsRequest(parent=account)
    with connect(profile) as lic:
        found = list(lic.paged(lic.catalog.ListOAuthClients, request, "oauth_clients"))
    listing(found, as_json, "OAuth clients", ["client", "client id", "revoked"],
            lambda c: (c.name, c.client_id, _revoked(c)))  # fmt: skip


@app.command("revoke-oauth-client", help="Revoke OAuth client credentials.")
def revoke_oauth_client(
    client: Annotated[str, typer.Argument(help="its name, as `oauth-clients` lists it")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        revoked = lic.catalog.RevokeOAuthClient(api.RevokeOAuthClientRequest(name=client))
    say(revoked, as_json, f"revoked {revoked.name}")
