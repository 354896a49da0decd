"""What settlement needs from the other services, as it sees them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from services.settlement.domain.billing import UsageRow
from services.settlement.domain.postings import Holder
from services.settlement.domain.terms import LicenseTerms


class UsageSource(Protocol):
    """Metering."""

    def seal(self, seal: int, end: datetime) -> None: ...

    def billable(
        self, start: datetime | None, end: datetime, late_seal: int, vendor: str = ""
    ) -> Iterator[UsageRow]: ...


class LicenseSource(Protocol):
    """Licensing: licenses in every state, with their frozen terms."""

    def licenses(self, vendor: str = "") -> list[LicenseTerms]: ...


class RightsSource(Protocol):
    """The catalog: who holds the rights of each work (deleted works: absent)."""

    def holders(self, works: Sequence[str]) -> dict[str, tuple[Holder, ...]]: ...
