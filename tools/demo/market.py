"""Steps 1-4 of the demo: accounts, catalogues, offers, licenses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.duration_pb2 import Duration
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres
from rich.console import Console
from rich.progress import Progress

from services.client import Endpoints, Licentia, new_request_id
from services.runtime.proto_time import timestamp
from services.samples.articles import ArticleGenerator

PUBLISHERS = {
    "harbour-gazette": "The Harbour Gazette",
    "northern-courier": "The Northern Courier",
    "city-ledger": "The City Ledger",
}
VENDORS = {"answer-engine": "Answer Engine (vendor A)", "model-lab": "Model Lab (vendor B)"}
SECTIONS = ("politics", "business", "culture", "sport")
CO_OWNER = "people/ada-reyes"


@dataclass
class Party:
    name: str
    key: str
    client: Licentia


@dataclass
class Market:
    operator: Licentia
    publishers: dict[str, Party]
    vendors: dict[str, Party]
    works: dict[str, list[cres.Work]] = field(default_factory=dict)
    licenses: dict[str, lres.License] = field(default_factory=dict)


def open_accounts(operator: Licentia, endpoints: Endpoints, console: Console) -> Market:
    """1. The operator opens three publishers and two AI vendors, each with an API key."""
    parties: dict[str, Party] = {}
    for pid, title in PUBLISHERS.items():
        operator.catalog.CreatePublisher(
            capi.CreatePublisherRequest(
                publisher=cres.Publisher(display_name=title), publisher_id=pid
            )
        )
        parties[pid] = _with_key(operator, endpoints, f"publishers/{pid}")
    for vid, title in VENDORS.items():
        operator.catalog.CreateVendor(
            capi.CreateVendorRequest(vendor=cres.Vendor(display_name=title), vendor_id=vid)
        )
        parties[vid] = _with_key(operator, endpoints, f"vendors/{vid}")
    console.print(
        f"[bold]1.[/] operator opened {len(PUBLISHERS)} publishers and {len(VENDORS)} vendors, "
        "each with an API key (shown once, stored hashed)"
    )
    return Market(
        operator,
        {p: parties[p] for p in PUBLISHERS},
        {v: parties[v] for v in VENDORS},
    )


def _with_key(operator: Licentia, endpoints: Endpoints, account: str) -> Party:
    key = operator.catalog.CreateApiKey(capi.CreateApiKeyRequest(parent=account)).key
    return Party(account, key, Licentia(key, endpoints))


def import_catalogues(market: Market, per_publisher: int, console: Console) -> None:
    """2. Each publisher imports generated articles in streamed batches; one is co-owned."""
    generator = ArticleGenerator(seed=2026)
    total = per_publisher * len(market.publishers)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("importing articles", total=total)
        for pid, party in market.publishers.items():
            articles = [_article(generator, pid, n) for n in range(per_publisher)]
            batches = [
                capi.ImportWorksRequest(parent=party.name, works=articles[i : i + 25])
                for i in range(0, len(articles), 25)
            ]
            imported = []
            for response in party.client.catalog.ImportWorks(iter(batches)):
                imported += [r.work for r in response.results]
                progress.advance(task, len(response.results))
            market.works[pid] = [
                cres.Work(name=name, section=a.section, title=a.title, body=a.body)
                for name, a in zip(imported, articles, strict=True)
            ]
    first = market.works["harbour-gazette"][0].name
    console.print(
        f"[bold]2.[/] publishers imported {total} articles; {first} is co-owned "
        f"(70% the Gazette, 30% {CO_OWNER})"
    )


def _article(generator: ArticleGenerator, publisher: str, n: int) -> cres.Work:
    article = generator.article(words=260)
    holders = []
    if publisher == "harbour-gazette" and n == 0:
        holders = [
            cres.RightsHolder(party=f"publishers/{publisher}", share_bps=7_000),
            cres.RightsHolder(party=CO_OWNER, display_name="Ada Reyes", share_bps=3_000),
        ]
    return cres.Work(
        external_id=f"{publisher}-{n}",
        title=article.title,
        body=article.body,
        language="en",
        section=SECTIONS[n % len(SECTIONS)],
        rights_holders=holders,
    )


def publish_offers(market: Market, start: datetime, console: Console) -> dict[str, lres.Offer]:
    """3. Offers with different price models; the Courier's has an auto-accept floor."""

    def price(model: int, **kw: int) -> lres.Price:
        return lres.Price(model=model, currency="USD", **kw)  # type: ignore[arg-type]

    plans = {
        "answers-per-use": ("harbour-gazette", ["ai-input"], lres.Scope(),
                            price(lres.Price.MODEL_PER_USE, amount_micros=5_000), 0),
        "answers-per-1k-tokens": ("northern-courier", ["ai-input"], lres.Scope(),
                                  price(lres.Price.MODEL_PER_1K_TOKENS,
                                        amount_micros=2_000_000), 1_500_000),
        "business-revenue-share": ("city-ledger", ["ai-input"],
                                   lres.Scope(sections=["business"]),
                                   price(lres.Price.MODEL_REVENUE_SHARE, share_bps=4_000), 0),
        "training-per-work": ("city-ledger", ["ai-train"], lres.Scope(),
                              price(lres.Price.MODEL_PER_USE, amount_micros=20_000), 0),
    }  # fmt: skip
    offers = {}
    for label, (pid, uses, scope, cost, floor) in plans.items():
        party = market.publishers[pid]
        draft = party.client.licensing.CreateOffer(
            lapi.CreateOfferRequest(
                parent=party.name,
                offer=lres.Offer(
                    display_name=label,
                    auto_accept_floor_micros=floor,
                    terms=lres.Terms(
                        scope=scope,
                        permitted_uses=uses,
                        price=cost,
                        start_time=timestamp(start),
                        duration=Duration(seconds=365 * 86_400),
                        attribution_required=True,
                        reporting_required=True,
                    ),
                ),
            )
        )
        offers[label] = party.client.licensing.PublishOffer(
            lapi.PublishOfferRequest(name=draft.name)
        )
    console.print(
        "[bold]3.[/] offers published: per use ($0.005/answer), per 1,000 tokens ($2.00, "
        "auto-accept from $1.50), revenue share (40% of the pool, business section), "
        "training ($0.02 per work); commission disclosed on each: "
        f"{offers['answers-per-use'].commission_bps / 100:.0f}%"
    )
    return offers


def license_offers(market: Market, offers: dict[str, lres.Offer], console: Console) -> None:
    """4. Vendor A takes one offer as is and negotiates another; vendor B licenses training."""
    a, b = market.vendors["answer-engine"], market.vendors["model-lab"]
    courier = market.publishers["northern-courier"]
    as_is = a.client.licensing.CreateProposal(
        lapi.CreateProposalRequest(offer=offers["answers-per-use"].name)
    )
    market.licenses["gazette"] = a.client.licensing.GetLicense(
        lapi.GetLicenseRequest(name=as_is.license)
    )
    terms = lres.Terms()
    terms.CopyFrom(offers["answers-per-1k-tokens"].terms)
    terms.price.amount_micros = 1_200_000
    proposal = a.client.licensing.CreateProposal(
        lapi.CreateProposalRequest(offer=offers["answers-per-1k-tokens"].name, terms=terms)
    )
    terms.price.amount_micros = 1_600_000
    courier.client.licensing.CounterProposal(
        lapi.CounterProposalRequest(name=proposal.name, terms=terms, note="meet us at $1.60")
    )
    accepted = a.client.licensing.AcceptProposal(
        lapi.AcceptProposalRequest(name=proposal.name, request_id=new_request_id())
    )
    market.licenses["courier"] = accepted.license
    share = a.client.licensing.CreateProposal(
        lapi.CreateProposalRequest(offer=offers["business-revenue-share"].name)
    )
    market.licenses["ledger-share"] = a.client.licensing.GetLicense(
        lapi.GetLicenseRequest(name=share.license)
    )
    training = b.client.licensing.CreateProposal(
        lapi.CreateProposalRequest(offer=offers["training-per-work"].name)
    )
    market.licenses["ledger-training"] = b.client.licensing.GetLicense(
        lapi.GetLicenseRequest(name=training.license)
    )
    console.print(
        "[bold]4.[/] vendor A took the per-use offer as is; proposed $1.20 per 1k tokens, "
        "the Courier countered $1.60, vendor A accepted "
        f"({accepted.license.name}); vendor A took the revenue share; vendor B licensed "
        "the Ledger for training"
    )
