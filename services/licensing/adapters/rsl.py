"""RSL 1.0 documents (https://rslstandard.org/rsl) and W3C TDMRep, to and from offers.

RSL carries uses, user types, territories and the payment model. What RSL has no element
for (scope by section, tag or work; volume tiers; caps; the term; revenue-share rate;
per-token unit) travels in a `lic:` extension namespace, so our own documents round-trip
exactly while any RSL reader still understands the core terms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from services.licensing.domain.offers import Offer
from services.licensing.domain.terms import Price, PriceModel, Scope, Terms, VolumeTier
from services.runtime.errors import InvalidArgument
from services.runtime.money_text import micros_text, parse_micros

RSL_NS = "https://rslstandard.org/rsl"
EXT_NS = "https://licentia.dev/rsl-extension/1"
ET.register_namespace("", RSL_NS)
ET.register_namespace("lic", EXT_NS)
MICROS = Decimal(1_000_000)
MAX_DOCUMENT = 1_000_000  # characters

_PAYMENT_TYPE = {
    PriceModel.PER_USE: "inference",
    PriceModel.PER_1K_TOKENS: "inference",
    PriceModel.PER_CRAWL: "crawl",
    PriceModel.SUBSCRIPTION: "subscription",
    PriceModel.REVENUE_SHARE: "attribution",
    PriceModel.FREE: "free",
}
# RSL payment types we read; purchase and training are priced per use.
_MODEL_OF = {
    "inference": PriceModel.PER_USE,
    "purchase": PriceModel.PER_USE,
    "training": PriceModel.PER_USE,
    "crawl": PriceModel.PER_CRAWL,
    "subscription": PriceModel.SUBSCRIPTION,
    "attribution": PriceModel.REVENUE_SHARE,
    "free": PriceModel.FREE,
}


@dataclass(frozen=True)
class ImportedOffer:
    display_name: str
    terms: Terms
    auto_accept_floor_micros: int


def _q(tag: str, ns: str = RSL_NS) -> str:
    return f"{{{ns}}}{tag}"


def to_rsl(offers: list[Offer], site_url: str, server_url: str) -> str:
    """One <content> for the site (offers not scoped by URL), then one per URL pattern
    an offer's scope names, each with its licenses and this license server."""
    root = ET.Element(_q("rsl"))
    by_url: dict[str, list[Offer]] = {}
    for offer in offers:
        for pattern in offer.terms.scope.urls or (site_url.rstrip("/") + "/*",):
            by_url.setdefault(pattern, []).append(offer)
    for url, listed in by_url.items():
        content = ET.SubElement(root, _q("content"), {"url": url})
        if server_url:
            content.set("server", server_url)
        for offer in listed:
            content.append(_license(offer))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _license(offer: Offer) -> ET.Element:
    t = offer.terms
    lic = ET.Element(_q("license"))
    for element, kind, values in (
        ("permits", "usage", t.permitted_uses),
        ("permits", "user", t.permitted_user_types),
        ("permits", "geo", t.permitted_territories),
        ("prohibits", "usage", t.prohibited_uses),
        ("prohibits", "user", t.prohibited_user_types),
        ("prohibits", "geo", t.prohibited_territories),
    ):
        if values:
            ET.SubElement(lic, _q(element), {"type": kind}).text = ",".join(values)
    price = t.price
    assert price.model is not None
    payment = ET.SubElement(lic, _q("payment"), {"type": _PAYMENT_TYPE[price.model]})
    if price.amount_micros:
        amount = ET.SubElement(payment, _q("amount"), {"currency": price.currency})
        amount.text = _decimal(price.amount_micros)
    if price.model in (PriceModel.PER_USE, PriceModel.PER_1K_TOKENS):
        unit = "1k-tokens" if price.model is PriceModel.PER_1K_TOKENS else "use"
        payment.set(_q("unit", EXT_NS), unit)
    ext = ET.SubElement(lic, _q("terms", EXT_NS), _extension_attributes(offer))
    for tier in price.tiers:
        ET.SubElement(
            ext,
            _q("tier", EXT_NS),
            {"from": str(tier.from_quantity), "amount": _decimal(tier.amount_micros)},
        )
    return lic


def _extension_attributes(offer: Offer) -> dict[str, str]:
    t, price = offer.terms, offer.terms.price
    values = {
        "offer": offer.name,
        "name": offer.display_name,
        "currency": price.currency,
        "sections": " ".join(t.scope.sections),
        "tags": " ".join(t.scope.tags),
        "works": " ".join(t.scope.works),
        "urls": " ".join(t.scope.urls),
        "share-bps": str(price.share_bps) if price.share_bps else "",
        "period-cap": _decimal(price.period_cap_micros) if price.period_cap_micros else "",
        "minimum-commitment": (
            _decimal(price.minimum_commitment_micros) if price.minimum_commitment_micros else ""
        ),
        "auto-accept-floor": (
            _decimal(offer.auto_accept_floor_micros) if offer.auto_accept_floor_micros else ""
        ),
        **_interval_attributes(price),
        "start": t.start_time.isoformat() if t.start_time else "",
        "end": t.end_time.isoformat() if t.end_time else "",
        "duration-seconds": str(int(t.duration.total_seconds())) if t.duration else "",
        "attribution-required": "true" if t.attribution_required else "",
        "reporting-required": "true" if t.reporting_required else "",
    }
    return {k: v for k, v in values.items() if v}


def _interval_attributes(price: Price) -> dict[str, str]:
    """What a subscription's price (and a minimum commitment) is for."""
    if price.model is not PriceModel.SUBSCRIPTION and not price.minimum_commitment_micros:
        return {}
    if price.interval_seconds:
        return {"interval-seconds": str(price.interval_seconds)}
    return {"interval": price.interval.lower()}


def tdmrep(site_url: str, policy_url: str) -> str:
    """TDM reservation: text and data mining is reserved; the policy says on what terms."""
    location = site_url.rstrip("/") + "/*"
    return json.dumps([{"location": location, "tdm-reservation": 1, "tdm-policy": policy_url}])


def from_rsl(document: str) -> list[ImportedOffer]:
    if len(document) > MAX_DOCUMENT:
        raise _bad(f"the document is larger than {MAX_DOCUMENT:,} characters")
    try:
        root = SafeET.fromstring(document)
    except (ET.ParseError, DefusedXmlException) as error:
        raise _bad(f"not well-formed (or unsafe) XML: {error}") from error
    if root.tag != _q("rsl"):
        raise _bad(f'the root element must be <rsl xmlns="{RSL_NS}">')
    imported = []
    for c, content in enumerate(root.findall(_q("content"))):
        for n, lic in enumerate(content.findall(_q("license"))):
            imported.append(_offer_from(lic, f"content[{c}].license[{n}]"))
    if not imported:
        raise _bad("the document has no <content><license> to import")
    return _merged(imported)


MAX_LICENSE_ELEMENT = 100_000  # characters


def license_terms(element: str) -> Terms:
    """The terms of one RSL `<license>` element, as a crawler sends it in OLP's `rsl`
    grant: parsed safely (defusedxml), `<license>` in the RSL namespace at the root."""
    if len(element) > MAX_LICENSE_ELEMENT:
        raise _bad(f"the <license> is larger than {MAX_LICENSE_ELEMENT:,} characters")
    try:
        root = SafeET.fromstring(element)
    except (ET.ParseError, DefusedXmlException) as error:
        raise _bad(f"not well-formed (or unsafe) XML: {error}") from error
    if root.tag != _q("license"):
        raise _bad(f'the root element must be <license xmlns="{RSL_NS}">')
    return _offer_from(root, "license").terms


def _merged(imported: list[ImportedOffer]) -> list[ImportedOffer]:
    """One offer per license: a license exported under each of its URL patterns (its
    terms carry them all) is read back once."""
    return list(dict.fromkeys(imported))


def _offer_from(lic: ET.Element, where: str) -> ImportedOffer:
    lists: dict[str, tuple[str, ...]] = {}
    for element in ("permits", "prohibits"):
        for node in lic.findall(_q(element)):
            kind = node.get("type", "usage")
            field = {"usage": "uses", "user": "user_types", "geo": "territories"}.get(kind)
            if field is None:
                raise _bad(f"{where}: <{element} type={kind!r}> is not usage, user or geo")
            prefix = "permitted" if element == "permits" else "prohibited"
            values = tuple(v.strip() for v in (node.text or "").split(",") if v.strip())
            lists[f"{prefix}_{field}"] = lists.get(f"{prefix}_{field}", ()) + values
    ext = lic.find(_q("terms", EXT_NS))
    attrs = dict(ext.attrib) if ext is not None else {}
    payment = lic.find(_q("payment"))
    price = _price(payment, attrs, ext, where)
    terms = Terms(
        scope=Scope(
            tuple(attrs.get("sections", "").split()),
            tuple(attrs.get("tags", "").split()),
            tuple(attrs.get("works", "").split()),
            tuple(attrs.get("urls", "").split()),
        ),
        price=price,
        start_time=_time(attrs.get("start"), where),
        end_time=_time(attrs.get("end"), where),
        duration=(
            timedelta(seconds=_int(attrs["duration-seconds"], where))
            if "duration-seconds" in attrs
            else None
        ),
        attribution_required=attrs.get("attribution-required") == "true",
        reporting_required=attrs.get("reporting-required") == "true",
        **lists,
    )
    name = attrs.get("name") or f"Imported RSL license ({where})"
    floor = _micros(attrs["auto-accept-floor"], where) if "auto-accept-floor" in attrs else 0
    return ImportedOffer(name[:200], terms, floor)


def _price(
    payment: ET.Element | None, attrs: dict[str, str], ext: ET.Element | None, where: str
) -> Price:
    kind = payment.get("type", "free") if payment is not None else "free"
    model = _MODEL_OF.get(kind)
    if model is None:
        raise _bad(f"{where}: payment type {kind!r} is not one RSL 1.0 defines")
    if payment is not None and payment.get(_q("unit", EXT_NS)) == "1k-tokens":
        model = PriceModel.PER_1K_TOKENS
    amount = payment.find(_q("amount")) if payment is not None else None
    tiers = tuple(
        VolumeTier(_int(t.get("from", ""), where), _micros(t.get("amount", ""), where))
        for t in (ext.findall(_q("tier", EXT_NS)) if ext is not None else [])
    )
    return Price(
        model=model,
        currency=(amount.get("currency", "") if amount is not None else attrs.get("currency", "")),
        amount_micros=_micros(amount.text or "", where) if amount is not None else 0,
        share_bps=_int(attrs.get("share-bps", "0"), where),
        tiers=tiers,
        period_cap_micros=_micros(attrs["period-cap"], where) if "period-cap" in attrs else 0,
        minimum_commitment_micros=(
            _micros(attrs["minimum-commitment"], where) if "minimum-commitment" in attrs else 0
        ),
        interval=attrs.get("interval", "month").upper(),
        interval_seconds=_int(attrs.get("interval-seconds", "0"), where),
    )


def _decimal(micros: int) -> str:
    return micros_text(micros)


def _micros(text: str, where: str) -> int:
    try:
        return parse_micros(text)
    except ValueError as error:
        raise _bad(f"{where}: {error}") from error


def _int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError as error:
        raise _bad(f"{where}: {text!r} is not an integer") from error


def _time(text: str | None, where: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise _bad(f"{where}: {text!r} is not an ISO 8601 time") from error


def _bad(message: str) -> InvalidArgument:
    return InvalidArgument("INVALID_RSL_DOCUMENT", message)
