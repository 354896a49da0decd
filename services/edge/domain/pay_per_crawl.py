"""Pay per crawl (the HTTP 402 flow Cloudflare published): a signed crawler of a known
vendor, on content under the publisher's per-crawl offer, states the price it pays.

- no price header: 402 Payment Required with `crawler-price: USD 0.01`;
- `crawler-exact-price: USD 0.01` equal to the price, or `crawler-max-price: USD x` at
  least the price: allowed, answered with `crawler-charged: USD 0.01`;
- over the vendor's budget for the period (settlement's SetBudget), or past the offer's
  per-period cap: 402 with `crawler-error` CrawlerBudgetExhausted or CrawlerCapReached;
- otherwise a `crawler-error` code: ConflictingPriceHeaders (400, both headers),
  InvalidCrawlerExactPrice / InvalidCrawlerMaxPrice (400, unreadable), CrawlerPriceMismatch
  and CrawlerMaxPriceTooLow (402, with the price), CrawlerForbidden (403: no per-crawl
  offer covers the content, or the license could not be taken), InvalidSignature (401).
A price header is `<currency> <amount>` or `<amount>` (the offer's currency).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.money_text import micros_text, minor_digits, parse_micros


@dataclass(frozen=True)
class CrawlOffer:
    offer: str  # publishers/{p}/offers/{o}
    publisher: str
    amount_micros: int
    currency: str
    use: str  # the use a crawl is metered under
    works: frozenset[str]
    sections: frozenset[str]
    tags: frozenset[str]
    urls: tuple[str, ...]
    # Most a vendor is charged per settlement period under this offer (0: no cap).
    cap_micros: int = 0

    @property
    def cap_minor(self) -> int:
        """The cap in minor units (rounded down, as settlement bills it)."""
        return self.cap_micros * 10 ** minor_digits(self.currency) // 1_000_000

    @property
    def price_text(self) -> str:
        return f"{self.currency} {micros_text(self.amount_micros)}"


@dataclass(frozen=True)
class PriceCheck:
    """Whether the stated price pays the offer: `error` empty when it does."""

    status: int
    error: str = ""
    description: str = ""


def check_price(offer: CrawlOffer, exact: str, maximum: str) -> PriceCheck:
    if exact and maximum:
        return PriceCheck(
            400,
            "ConflictingPriceHeaders",
            "send crawler-exact-price or crawler-max-price, not both",
        )
    if not exact and not maximum:
        return PriceCheck(402, "", f"this content costs {offer.price_text} per crawl")
    stated = _amount(exact or maximum, offer.currency)
    if stated is None:
        code = "InvalidCrawlerExactPrice" if exact else "InvalidCrawlerMaxPrice"
        return PriceCheck(400, code, "a price is `<currency> <amount>`, e.g. USD 0.01")
    currency, micros = stated
    if currency != offer.currency:
        return PriceCheck(
            402, "CrawlerPriceMismatch", f"the price is in {offer.currency}: {offer.price_text}"
        )
    if exact and micros != offer.amount_micros:
        return PriceCheck(402, "CrawlerPriceMismatch", f"the price is {offer.price_text}")
    if maximum and micros < offer.amount_micros:
        return PriceCheck(402, "CrawlerMaxPriceTooLow", f"the price is {offer.price_text}")
    return PriceCheck(200)


def _amount(text: str, default_currency: str) -> tuple[str, int] | None:
    parts = text.strip().split()
    if len(parts) == 1:
        currency, amount = default_currency, parts[0]
    elif len(parts) == 2 and len(parts[0]) == 3 and parts[0].isalpha():
        currency, amount = parts[0].upper(), parts[1]
    else:
        return None
    try:
        return currency, parse_micros(amount)
    except ValueError:
        return None
