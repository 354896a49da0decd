"""Use cases for accounts, API keys and OAuth client credentials."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.catalog.domain.model import ApiKey, OAuthClient, Publisher, Vendor
from services.catalog.domain.validation import check_display_name, check_email
from services.catalog.service_layer import access
from services.catalog.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import pagination, resource_names
from services.runtime.authentication import generate_api_key, hash_api_key
from services.runtime.errors import AlreadyExists, NotFound, Violations
from services.runtime.principal import Principal, principal_from_account
from services.runtime.sqltypes import utc_now


def generate_client_secret() -> str:
    return "lcs_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AccountInput:
    display_name: str
    contact_email: str = ""


class AccountService:
    def __init__(self, uow: UnitOfWorkFactory, on_key_revoked: Callable[[str], None]) -> None:
        self._uow = uow
        self._on_key_revoked = on_key_revoked

    def create_publisher(
        self, p: Principal, data: AccountInput, publisher_id: str, request_id: str
    ) -> Publisher:
        access.create_accounts(p)
        name = self._create_account(p, "publishers", Publisher, data, publisher_id, request_id)
        return self.get_publisher(p, name)

    def create_vendor(
        self, p: Principal, data: AccountInput, vendor_id: str, request_id: str
    ) -> Vendor:
        access.create_accounts(p)
        name = self._create_account(p, "vendors", Vendor, data, vendor_id, request_id)
        return self.get_vendor(p, name)

    def get_publisher(self, p: Principal, name: str) -> Publisher:
        (publisher_id,) = resource_names.parse(name, ("publishers",), "name")
        access.read_publisher(p, name)
        with self._uow(write=False) as uow:
            found = uow.accounts.get_publisher(publisher_id)
        if found is None:
            raise NotFound("PUBLISHER_NOT_FOUND", f"{name} does not exist", resource=name)
        return found

    def get_vendor(self, p: Principal, name: str) -> Vendor:
        (vendor_id,) = resource_names.parse(name, ("vendors",), "name")
        access.read_vendor(p, name)
        with self._uow(write=False) as uow:
            found = uow.accounts.get_vendor(vendor_id)
        if found is None:
            raise NotFound("VENDOR_NOT_FOUND", f"{name} does not exist", resource=name)
        return found

    def list_publishers(
        self, p: Principal, page_size: int, page_token: str
    ) -> pagination.Page[Publisher]:
        access.list_publishers(p)
        page = pagination.page_request(page_size, page_token, {"kind": "publishers"})
        with self._uow(write=False) as uow:
            items = uow.accounts.list_publishers(page.after, page.size)
        return pagination.page_of(items, page.size, lambda x: x.id, {"kind": "publishers"})

    def list_vendors(
        self, p: Principal, page_size: int, page_token: str
    ) -> pagination.Page[Vendor]:
        access.list_vendors(p)
        page = pagination.page_request(page_size, page_token, {"kind": "vendors"})
        with self._uow(write=False) as uow:
            items = uow.accounts.list_vendors(page.after, page.size)
        return pagination.page_of(items, page.size, lambda x: x.id, {"kind": "vendors"})

    def create_api_key(
        self, p: Principal, parent: str, display_name: str, request_id: str
    ) -> tuple[ApiKey, str]:
        secret = generate_api_key()
        key = ApiKey(
            resource_names.new_id("k"), parent, display_name, hash_api_key(secret), utc_now()
        )
        self._add_credential(p, "api_key", key, request_id, lambda uow: uow.accounts.add_api_key)
        return key, secret

    def list_api_keys(
        self, p: Principal, parent: str, page_size: int, page_token: str
    ) -> pagination.Page[ApiKey]:
        _parse_account(parent)
        access.manage_keys(p, parent)
        filters = {"parent": parent}
        page = pagination.page_request(page_size, page_token, filters)
        with self._uow(write=False) as uow:
            items = uow.accounts.list_api_keys(parent, page.after, page.size)
        return pagination.page_of(items, page.size, lambda x: x.id, filters)

    def revoke_api_key(self, p: Principal, name: str) -> ApiKey:
        account, key_id = _parse_key_name(name)
        access.manage_keys(p, account)
        with self._uow() as uow:
            key = uow.accounts.get_api_key(account, key_id)
            if key is None:
                raise NotFound("API_KEY_NOT_FOUND", f"{name} does not exist", resource=name)
            revoked = uow.accounts.revoke_api_key(key)
            uow.after_commit(lambda: self._on_key_revoked(key.key_hash))
            uow.commit()
        return revoked

    def resolve_key(self, key_hash: str) -> Principal | None:
        """For the authenticator: the principal an active key stands for."""
        with self._uow(write=False) as uow:
            key = uow.accounts.find_active_key(key_hash)
        return principal_from_account(key.account, key.name) if key else None

    def authenticate_for_service(self, p: Principal, key: str) -> Principal:
        """Another service asks whose key this is (it caches the answer)."""
        access.trusted_only(p, "resolve API keys")
        principal = self.resolve_key(hash_api_key(key))
        if principal is None:
            raise NotFound("API_KEY_INVALID", "no active API key matches")
        return principal

    def create_oauth_client(
        self, p: Principal, parent: str, display_name: str, request_id: str
    ) -> tuple[OAuthClient, str]:
        """Client credentials for the license server; the secret is returned once."""
        secret = generate_client_secret()
        client = OAuthClient(
            resource_names.new_id("c"), parent, display_name, hash_api_key(secret), utc_now()
        )
        self._add_credential(
            p, "oauth_client", client, request_id, lambda uow: uow.accounts.add_oauth_client
        )
        return client, secret

    def _add_credential(
        self,
        p: Principal,
        field: str,
        credential: ApiKey | OAuthClient,
        request_id: str,
        adder: Callable[[Any], Callable[[Any], bool]],
    ) -> None:
        """A new API key or OAuth client of an account, whose secret is shown once: a
        retried create (same request_id) must not mint a second one."""
        parent = credential.account
        _parse_account(parent)
        access.manage_keys(p, parent)
        v = Violations()
        if len(credential.display_name) > 200:
            v.add(f"{field}.display_name", "must be at most 200 characters")
        v.raise_if_any()
        with self._uow() as uow:
            if not uow.accounts.account_exists(parent):
                raise NotFound("ACCOUNT_NOT_FOUND", f"{parent} does not exist", resource=parent)
            if request_id and uow.requests.resource_for(p.account, request_id):
                raise AlreadyExists(
                    "REQUEST_ALREADY_PROCESSED",
                    f"this request_id already created a {field.replace('_', ' ')}; its secret "
                    "was shown once",
                )
            adder(uow)(credential)
            if request_id:
                uow.requests.remember(p.account, request_id, credential.name)
            uow.commit()

    def list_oauth_clients(
        self, p: Principal, parent: str, page_size: int, page_token: str
    ) -> pagination.Page[OAuthClient]:
        _parse_account(parent)
        access.manage_keys(p, parent)
        filters = {"parent": parent, "kind": "oauth"}
        page = pagination.page_request(page_size, page_token, filters)
        with self._uow(write=False) as uow:
            items = uow.accounts.list_oauth_clients(parent, page.after, page.size)
        return pagination.page_of(items, page.size, lambda x: x.id, filters)

    def revoke_oauth_client(self, p: Principal, name: str) -> OAuthClient:
        collection = "vendors" if name.startswith("vendors/") else "publishers"
        account_id, client_id = resource_names.parse(name, (collection, "oauthClients"), "name")
        account = f"{collection}/{account_id}"
        access.manage_keys(p, account)
        with self._uow() as uow:
            client = uow.accounts.get_oauth_client(account, client_id)
            if client is None:
                raise NotFound("OAUTH_CLIENT_NOT_FOUND", f"{name} does not exist", resource=name)
            revoked = uow.accounts.revoke_oauth_client(client)
            uow.commit()
        return revoked

    def authenticate_oauth_client(self, p: Principal, client_id: str, secret: str) -> OAuthClient:
        """The license server asks whose credentials these are (it caches the answer)."""
        access.trusted_only(p, "check OAuth client credentials")
        with self._uow(write=False) as uow:
            client = uow.accounts.find_active_oauth_client(client_id) if client_id else None
        if client is None or not hmac.compare_digest(client.secret_hash, hash_api_key(secret)):
            raise NotFound("OAUTH_CLIENT_INVALID", "no active OAuth client matches")
        return client

    def _create_account(
        self,
        p: Principal,
        collection: str,
        kind: type[Publisher] | type[Vendor],
        data: AccountInput,
        account_id: str,
        request_id: str,
    ) -> str:
        field = collection[:-1]
        v = Violations()
        check_display_name(v, f"{field}.display_name", data.display_name)
        check_email(v, f"{field}.contact_email", data.contact_email)
        if account_id and not resource_names.is_valid_id(account_id):
            v.add(f"{field}_id", resource_names.ID_RULE)
        v.raise_if_any()
        account = kind(
            account_id or resource_names.new_id(field[0]),
            data.display_name,
            data.contact_email,
            utc_now(),
        )
        with self._uow() as uow:
            if request_id:
                existing = uow.requests.resource_for(p.account, request_id)
                if existing:
                    return existing
            added = (
                uow.accounts.add_publisher(account)
                if isinstance(account, Publisher)
                else uow.accounts.add_vendor(account)
            )
            if not added:
                raise AlreadyExists(
                    f"{field.upper()}_ALREADY_EXISTS",
                    f"{account.name} already exists",
                    resource=account.name,
                )
            if request_id:
                uow.requests.remember(p.account, request_id, account.name)
            uow.commit()
        return account.name


def _parse_account(parent: str) -> None:
    if parent.startswith("vendors/"):
        resource_names.parse(parent, ("vendors",), "parent")
    else:
        resource_names.parse(parent, ("publishers",), "parent")


def _parse_key_name(name: str) -> tuple[str, str]:
    collection = "vendors" if name.startswith("vendors/") else "publishers"
    account_id, key_id = resource_names.parse(name, (collection, "apiKeys"), "name")
    return f"{collection}/{account_id}", key_id
