"""The RSL license server over HTTP, end to end, with clients no one here wrote:
Authlib's OAuth 2.0 client (RFC 8414 discovery, client_secret_basic, both grants),
PyJWT verifying tokens offline against the JWKS, plain `requests` for the RFC errors.
Catalog and licensing are the real gRPC servers (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres

from tests.api.helpers import Account, article
from tests.api.market import Market, terms
from tests.edge.conftest import Edge

RSL = "{https://rslstandard.org/rsl}"
SITE = "https://pa.example"


@dataclass
class Scene:
    edge: Edge
    works: dict[str, str]  # url -> work name
    vendor: tuple[str, str]  # client_id, secret
    publisher: tuple[str, str]
    paid_offer: str


def oauth_client(account: Account, client: object) -> tuple[str, str]:
    created = client.CreateOAuthClient(  # type: ignore[attr-defined]
        capi.CreateOAuthClientRequest(parent=account.name, oauth_client=cres.OAuthClient())
    )
    return created.oauth_client.client_id, created.client_secret


@pytest.fixture
def scene(edge: Edge) -> Scene:
    m: Market = edge.market
    pa = m.pa.account
    urls = [f"{SITE}/news/story-{i}" for i in range(3)]
    works = {
        url: pa.client.CreateWork(
            capi.CreateWorkRequest(parent=pa.name, work=article(50 + i, canonical_url=url))
        ).name
        for i, url in enumerate(urls)
    }
    # Answers (ai-input) on the news section at $0.002 per use, auto-accepting $0.001 and
    # up; search indexing of everything for free.
    paid = m.offer(
        m.pa,
        terms(
            scope=lres.Scope(urls=[f"{SITE}/news/*"]),
            price=lres.Price(model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=2_000),
        ),
        floor=1_000,
    )
    m.offer(
        m.pa,
        terms(permitted_uses=["search"], price=lres.Price(model=lres.Price.MODEL_FREE)),
    )
    return Scene(
        edge,
        works,
        oauth_client(m.va.account, m.va.account.client),
        oauth_client(pa, pa.client),
        paid.name,
    )


def discovered_session(scene: Scene, credentials: tuple[str, str]) -> tuple[OAuth2Session, dict]:
    metadata = requests.get(
        f"{scene.edge.url}/.well-known/oauth-authorization-server", timeout=10
    ).json()
    session = OAuth2Session(
        credentials[0], credentials[1], token_endpoint_auth_method="client_secret_basic"
    )
    return session, metadata


def rsl_license(amount: str, use: str = "ai-input") -> str:
    return (
        f'<license xmlns="https://rslstandard.org/rsl"><permits type="usage">{use}</permits>'
        f'<payment type="inference"><amount currency="USD">{amount}</amount></payment></license>'
    )


def test_a_crawler_walks_from_robots_txt_to_a_token_for_exactly_its_resource(
    scene: Scene,
) -> None:
    edge, url = scene.edge, next(iter(scene.works))
    # 1. The publisher's robots.txt line and Link header, as the license server tells them.
    found = requests.get(f"{edge.url}/publishers/pa/discovery", timeout=10).json()
    license_url = found["robots_txt_line"].removeprefix("License: ")
    assert found["link_header"] == (
        f'Link: <{license_url}>; rel="license"; type="application/rsl+xml"'
    )
    # 2. license.xml: the content element that covers the URL names the license server.
    document = requests.get(license_url, params={"site": SITE}, timeout=10)
    assert document.headers["content-type"].startswith("application/rsl+xml")
    root = ET.fromstring(document.text)
    covering = [
        c for c in root.iter(f"{RSL}content")
        if re.fullmatch(re.escape(c.get("url", "")).replace(r"\*", ".*"), url)
    ]  # fmt: skip
    assert covering and covering[0].get("server") == edge.url
    # 3. Metadata from that server, then a token by the rsl grant at a price it accepts.
    session, metadata = discovered_session(scene, scene.vendor)
    assert metadata["token_endpoint"] == f"{edge.url}/token"
    token = session.fetch_token(
        metadata["token_endpoint"],
        grant_type="rsl",
        license=rsl_license("0.0015"),
        resource=url,
    )
    assert token["token_type"] == "License" and token["license_granted"] is True
    # 4. The claims cover exactly the resource's work and the use asked for, verified
    # offline with the published keys.
    keys = jwt.PyJWKClient(metadata["jwks_uri"])
    signing_key = keys.get_signing_key_from_jwt(token["access_token"])
    claims = jwt.decode(
        token["access_token"], signing_key.key, algorithms=["EdDSA"], audience="publishers/pa"
    )
    assert claims["work"] == scene.works[url] and claims["resource"] == url
    assert claims["uses"] == ["ai-input"] and claims["sub"] == scene.edge.market.va.name
    assert claims["scope"] == {"works": [scene.works[url]]}
    assert claims["client_id"] == scene.vendor[0]
    # The license took the crawler's price (at or above the floor).
    lic = scene.edge.market.operator.GetLicense(lapi.GetLicenseRequest(name=token["license"]))
    assert lic.terms.price.amount_micros == 1_500


def test_each_grant_introspection_and_revocation(scene: Scene) -> None:
    m = scene.edge.market
    url = list(scene.works)[1]
    session, metadata = discovered_session(scene, scene.vendor)
    # client_credentials with no stated price: the free search offer only.
    free = session.fetch_token(
        metadata["token_endpoint"], grant_type="client_credentials", resource=url, scope="search"
    )
    assert free["scope"] == "search"
    with pytest.raises(Exception) as priced:
        session.fetch_token(
            metadata["token_endpoint"],
            grant_type="client_credentials",
            resource=url,
            scope="ai-input",
        )
    assert "invalid_grant" in str(priced.value) and "0.002 USD" in str(priced.value)
    # The rsl grant at the offer's price; a retry finds the same license.
    first = session.fetch_token(
        metadata["token_endpoint"], grant_type="rsl", license=rsl_license("0.002"), resource=url
    )
    again = session.fetch_token(
        metadata["token_endpoint"], grant_type="rsl", license=rsl_license("0.002"), resource=url
    )
    assert first["license"] == again["license"] and again["license_granted"] is False
    licenses = m.va.lic.ListLicenses(lapi.ListLicensesRequest()).licenses
    assert len([x for x in licenses if x.offer == scene.paid_offer]) == 1

    def introspect(token: str, who: tuple[str, str]) -> dict:
        answer = requests.post(
            metadata["introspection_endpoint"], data={"token": token}, auth=who, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    facts = introspect(first["access_token"], scene.publisher)
    assert facts["active"] is True and facts["license"] == first["license"]
    assert facts["scope"] == "ai-input" and facts["resource"] == url
    assert facts["sub"] == m.va.name and facts["client_id"] == scene.vendor[0]
    assert facts["exp"] > facts["iat"]
    # Only the publisher whose content it licenses learns anything.
    assert introspect(first["access_token"], scene.vendor) == {"active": False}
    head, body, signature = first["access_token"].split(".")
    forged = (
        base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(body + "==").replace(b"ai-input", b"ai-train")
        )
        .rstrip(b"=")
        .decode()
    )
    assert introspect(f"{head}.{forged}.{signature}", scene.publisher) == {"active": False}
    assert introspect("not a token", scene.publisher) == {"active": False}

    m.pa.lic.RevokeLicense(lapi.RevokeLicenseRequest(name=first["license"], reason="test"))
    assert introspect(first["access_token"], scene.publisher) == {"active": False}


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        # Bad client credentials: 401 with WWW-Authenticate: Basic.
        ({"grant_type": "client_credentials", "resource": "X"}, ("nobody", "wrong"), 401,
         "invalid_client"),
        ({"grant_type": "password", "username": "a"}, "vendor", 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "resource": f"{SITE}/news/story-0",
          "scope": "steal"}, "vendor", 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "resource": "https://elsewhere.example/x",
          "scope": "search"}, "vendor", 400, "invalid_target"),
        ({"grant_type": "client_credentials", "scope": "search"}, "vendor", 400,
         "invalid_request"),
        ({"grant_type": "rsl", "resource": f"{SITE}/news/story-0"}, "vendor", 400,
         "invalid_request"),
        # Hostile XML in the rsl grant: refused by defusedxml, nothing written.
        ({"grant_type": "rsl", "resource": f"{SITE}/news/story-0",
          "license": '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                     '<license xmlns="https://rslstandard.org/rsl">&b;</license>'},
         "vendor", 400, "invalid_request"),
        # A price below the offer's floor.
        ({"grant_type": "rsl", "resource": f"{SITE}/news/story-0",
          "license": rsl_license("0.0001")}, "vendor", 400, "invalid_grant"),
        # Publishers' clients introspect; they do not obtain tokens.
        ({"grant_type": "client_credentials", "resource": f"{SITE}/news/story-0",
          "scope": "search"}, "publisher", 400, "unauthorized_client"),
    ],
)  # fmt: skip
def test_bad_token_requests_get_their_rfc_error_and_write_nothing(
    scene: Scene, form: dict, auth: object, status: int, error: str
) -> None:
    m = scene.edge.market
    before = len(m.operator.ListLicenses(lapi.ListLicensesRequest()).licenses)
    credentials = {"vendor": scene.vendor, "publisher": scene.publisher}.get(auth, auth)  # type: ignore[call-overload]
    answer = requests.post(f"{scene.edge.url}/token", data=form, auth=credentials, timeout=10)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error and body.get("error_description")
    assert "Traceback" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")
    assert len(m.operator.ListLicenses(lapi.ListLicensesRequest()).licenses) == before


def test_malformed_and_oversized_requests(scene: Scene) -> None:
    edge = scene.edge
    as_json = requests.post(
        f"{edge.url}/token", json={"grant_type": "client_credentials"}, auth=scene.vendor,
        timeout=10,
    )  # fmt: skip
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    huge = requests.post(
        f"{edge.url}/token",
        data={"grant_type": "rsl", "license": "x" * 200_000},
        auth=scene.vendor,
        timeout=10,
    )
    assert huge.status_code == 413 and huge.json()["error"] == "invalid_request"
    missing = requests.get(f"{edge.url}/publishers/Not..Valid/license.xml", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    nowhere = requests.get(f"{edge.url}/nothing-here", timeout=10)
    assert nowhere.status_code == 404 and nowhere.json()["status"] == 404


def test_jwks_carries_caching_headers_and_answers_not_modified(scene: Scene) -> None:
    url = f"{scene.edge.url}/.well-known/jwks.json"
    first = requests.get(url, timeout=10)
    assert first.status_code == 200 and first.json()["keys"]
    assert "max-age" in first.headers["cache-control"] and first.headers["etag"]
    again = requests.get(url, headers={"If-None-Match": first.headers["etag"]}, timeout=10)
    assert again.status_code == 304
