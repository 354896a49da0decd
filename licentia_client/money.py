"""Money as people and documents write it: one place for the text of amounts, shared by
the CLI, the client, RSL documents and settlement.

The API carries integers: prices in micro-units (a millionth of the currency unit) and
billed amounts in minor units (cents for USD, yen for JPY, fils for KWD). People read
decimal strings with their currency: `0.004 USD`, `7.00 USD`, never micros beside
dollars and never bare cents.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MICROS = 1_000_000

# ISO 4217 minor-unit digits that differ from the usual 2.
_MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency, 2)


def minor_text(amount: int, currency: str) -> str:
    """Minor units as a decimal in the currency's unit: 1234 USD -> `12.34`."""
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{part:0{digits}d}" if digits else f"{sign}{whole}"


def micros_text(amount_micros: int) -> str:
    """Micro-units as the shortest exact decimal: 4000 -> `0.004`, 2_500_000 -> `2.5`."""
    text = format(Decimal(amount_micros) / MICROS, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(amount: int, currency: str) -> str:
    """A billed amount (minor units) with its currency: `7.00 USD`."""
    return f"{minor_text(amount, currency)} {currency}".strip()


def price(amount_micros: int, currency: str) -> str:
    """A price (micro-units) with its currency: `0.004 USD`."""
    return f"{micros_text(amount_micros)} {currency}".strip()


def parse_micros(text: str) -> int:
    """`0.005` -> 5000, exactly (no floats); ValueError with a reason for anything else:
    not a decimal, negative, or finer than a micro-unit."""
    try:
        value = Decimal(text.strip()) * MICROS
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal amount such as 0.005") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a decimal amount such as 0.005")
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} has more than 6 decimal places")
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return int(value)
