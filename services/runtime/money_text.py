"""Money as people and documents write it: defined in the client library (integrators
need it too), shared by the CLI, RSL documents and settlement."""

from licentia_client.money import (
    MICROS,
    micros_text,
    minor_digits,
    minor_text,
    money,
    parse_micros,
    price,
)

__all__ = ["MICROS", "micros_text", "minor_digits", "minor_text", "money", "parse_micros", "price"]
