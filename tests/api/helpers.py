"""Builders for catalog API tests."""

from __future__ import annotations

from dataclasses import dataclass

from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import resources_pb2 as res

from tests.conftest import Client, ServiceHarness


def article(n: int, words: int = 40, **overrides: object) -> res.Work:
    body = " ".join(f"word{(n * 7 + i) % 997}" for i in range(words))
    fields: dict[str, object] = dict(
        external_id=f"ext-{n}",
        title=f"Article {n}",
        body=body,
        language="en",
        section="politics" if n % 2 else "business",
        tags=["daily"] if n % 3 == 0 else [],
        canonical_url=f"https://news.example/articles/{n}",
        authors=["A. Writer"],
    )
    fields.update(overrides)
    return res.Work(**fields)  # type: ignore[arg-type]


@dataclass
class Account:
    name: str
    key: str
    client: Client


def _make_account(catalog: ServiceHarness, collection: str, account_id: str) -> Account:
    op = catalog.operator
    if collection == "publishers":
        op.CreatePublisher(
            api.CreatePublisherRequest(
                publisher=res.Publisher(display_name=account_id.title()), publisher_id=account_id
            )
        )
    else:
        op.CreateVendor(
            api.CreateVendorRequest(
                vendor=res.Vendor(display_name=account_id.title()), vendor_id=account_id
            )
        )
    name = f"{collection}/{account_id}"
    key = op.CreateApiKey(api.CreateApiKeyRequest(parent=name)).key
    return Account(name, key, catalog.client(key))


def make_publisher(catalog: ServiceHarness, publisher_id: str) -> Account:
    return _make_account(catalog, "publishers", publisher_id)


def make_vendor(catalog: ServiceHarness, vendor_id: str) -> Account:
    return _make_account(catalog, "vendors", vendor_id)
