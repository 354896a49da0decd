"""The RSL 1.0 vocabularies for uses, user types and territories."""

from __future__ import annotations

import pycountry

from services.runtime.uses import CONCRETE_USES

# Umbrella terms and what they cover. A concrete use is what a vendor actually does.
ALL = "all"
AI_ALL = "ai-all"
USES = (ALL, AI_ALL, *CONCRETE_USES)
_COVERS = {
    ALL: frozenset(CONCRETE_USES),
    AI_ALL: frozenset({"ai-train", "ai-input", "ai-index"}),
    **{use: frozenset({use}) for use in CONCRETE_USES},
}

USER_TYPES = ("commercial", "non-commercial", "education", "government", "personal")
DEFAULT_USER_TYPE = "commercial"

EU = "EU"
EU_MEMBERS = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    }
)
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)


def concrete_uses(terms: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The concrete uses a list of RSL usage terms names (umbrellas expanded)."""
    covered: set[str] = set()
    for term in terms:
        covered |= _COVERS[term]
    return frozenset(covered)


def countries(codes: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """Country codes with `EU` expanded to its member states."""
    expanded: set[str] = set()
    for code in codes:
        expanded |= EU_MEMBERS if code == EU else {code}
    return frozenset(expanded)


def is_territory(code: str) -> bool:
    return code == EU or code in COUNTRIES
