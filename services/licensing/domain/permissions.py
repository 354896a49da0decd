"""Permission decisions: may this vendor use this work this way, here, now?

Licenses are compiled into Grants (frozensets, umbrellas expanded) and indexed by vendor
and publisher, so a decision is a dict lookup and a few set tests: it runs on every
metered event and every provenance match.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum

from services.licensing.domain import vocabulary as vocab
from services.licensing.domain.licenses import License, LicenseState
from services.licensing.domain.terms import Price, Terms
from services.runtime.urls import url_matches


class Denial(Enum):
    NO_LICENSE = "NO_LICENSE"
    OUT_OF_SCOPE = "OUT_OF_SCOPE"
    USE_PROHIBITED = "USE_PROHIBITED"
    USE_NOT_PERMITTED = "USE_NOT_PERMITTED"
    USER_TYPE_NOT_PERMITTED = "USER_TYPE_NOT_PERMITTED"
    TERRITORY_NOT_PERMITTED = "TERRITORY_NOT_PERMITTED"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    # Batch checks only: the work does not exist (or was deleted).
    WORK_NOT_FOUND = "WORK_NOT_FOUND"


@dataclass(frozen=True, slots=True)
class WorkRef:
    """What a decision needs to know about a work."""

    name: str  # publishers/{p}/works/{w}
    publisher: str  # publishers/{p}
    section: str = ""
    tags: frozenset[str] = frozenset()
    canonical_url: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    license: str = ""
    price: Price | None = None
    commission_bps: int = 0
    denial: Denial | None = None
    explanation: str = ""
    # The decision holds for every time in [valid_from, valid_until) while the licenses
    # stay as they are (None: unbounded on that side).
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    # The same decision holds for every work of this publisher: each license of the
    # vendor's from it covers all of its works (or the vendor holds none).
    every_work: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    license: str
    state: LicenseState
    start: datetime
    end: datetime | None
    everything: bool
    sections: frozenset[str]
    tags: frozenset[str]
    works: frozenset[str]
    urls: tuple[str, ...]
    prohibited_uses: frozenset[str]
    permitted_uses: frozenset[str]
    permitted_users: frozenset[str] | None  # None: every user type
    prohibited_users: frozenset[str]
    permitted_countries: frozenset[str] | None  # None: everywhere
    prohibited_countries: frozenset[str]
    price: Price
    commission_bps: int

    @classmethod
    def of(cls, lic: License) -> Grant:
        return replace(
            cls.of_terms(lic.name, lic.terms, lic.commission_bps),
            state=lic.state,
            start=lic.start_time,
            end=lic.end_time,
        )

    @classmethod
    def of_terms(cls, name: str, t: Terms, commission_bps: int = 0) -> Grant:
        """What terms would grant, in force from the beginning of time (offers)."""
        return cls(
            license=name,
            state=LicenseState.ACTIVE,
            start=datetime.min.replace(tzinfo=UTC),
            end=None,
            everything=t.scope.is_everything,
            sections=frozenset(t.scope.sections),
            tags=frozenset(t.scope.tags),
            works=frozenset(t.scope.works),
            urls=t.scope.urls,
            prohibited_uses=vocab.concrete_uses(t.prohibited_uses),
            permitted_uses=vocab.concrete_uses(t.permitted_uses),
            permitted_users=frozenset(t.permitted_user_types) or None,
            prohibited_users=frozenset(t.prohibited_user_types),
            permitted_countries=vocab.countries(t.permitted_territories) or None,
            prohibited_countries=vocab.countries(t.prohibited_territories),
            price=t.price,
            commission_bps=commission_bps,
        )

    def covers(self, work: WorkRef) -> bool:
        return (
            self.everything
            or work.name in self.works
            or work.section in self.sections
            or not self.tags.isdisjoint(work.tags)
            or any(url_matches(p, work.canonical_url) for p in self.urls)
        )

    def denial(
        self, work: WorkRef, use: str, territory: str, user: str, at: datetime
    ) -> Denial | None:
        """The first rule that fails, in the order a human would explain them."""
        if not self.covers(work):
            return Denial.OUT_OF_SCOPE
        if self.state is LicenseState.REVOKED:
            return Denial.REVOKED
        if self.state is LicenseState.SUSPENDED:
            return Denial.SUSPENDED
        if at < self.start:
            return Denial.NOT_STARTED
        if self.end is not None and at >= self.end:
            return Denial.EXPIRED
        # RSL: what is prohibited is never allowed, whatever is permitted.
        if use in self.prohibited_uses:
            return Denial.USE_PROHIBITED
        if use not in self.permitted_uses:
            return Denial.USE_NOT_PERMITTED
        if user in self.prohibited_users or (
            self.permitted_users is not None and user not in self.permitted_users
        ):
            return Denial.USER_TYPE_NOT_PERMITTED
        if territory in self.prohibited_countries or (
            self.permitted_countries is not None and territory not in self.permitted_countries
        ):
            return Denial.TERRITORY_NOT_PERMITTED
        return None


# How far a license got before failing: the closest one explains a denial best.
_PROGRESS = {
    d: i
    for i, d in enumerate(
        [
            Denial.NO_LICENSE,
            Denial.OUT_OF_SCOPE,
            Denial.REVOKED,
            Denial.SUSPENDED,
            Denial.NOT_STARTED,
            Denial.EXPIRED,
            Denial.USE_PROHIBITED,
            Denial.USE_NOT_PERMITTED,
            Denial.USER_TYPE_NOT_PERMITTED,
            Denial.TERRITORY_NOT_PERMITTED,
        ]
    )
}

_EXPLAIN = {
    Denial.NO_LICENSE: "no license from this work's publisher",
    Denial.OUT_OF_SCOPE: "the work is outside the license's scope",
    Denial.REVOKED: "the license was revoked",
    Denial.SUSPENDED: "the license is suspended",
    Denial.NOT_STARTED: "the license has not started yet",
    Denial.EXPIRED: "the license has expired",
    Denial.USE_PROHIBITED: "the license prohibits this use",
    Denial.USE_NOT_PERMITTED: "the license does not permit this use",
    Denial.USER_TYPE_NOT_PERMITTED: "the license does not cover this user type",
    Denial.TERRITORY_NOT_PERMITTED: "the license does not cover this territory",
}


def decide(
    grants: tuple[Grant, ...], work: WorkRef, use: str, territory: str, user: str, at: datetime
) -> Decision:
    since, until = unchanged_around(grants, at)
    every_work = all(g.everything for g in grants)
    best: tuple[Grant, Denial] | None = None
    for grant in grants:
        denial = grant.denial(work, use, territory, user, at)
        if denial is None:
            return Decision(
                True,
                grant.license,
                grant.price,
                grant.commission_bps,
                None,
                f"allowed by {grant.license}",
                since,
                until,
                every_work,
            )
        if best is None or _PROGRESS[denial] > _PROGRESS[best[1]]:
            best = (grant, denial)
    if best is None:
        explanation = _EXPLAIN[Denial.NO_LICENSE]
        return Decision(False, denial=Denial.NO_LICENSE, explanation=explanation, every_work=True)
    grant, denial = best
    return Decision(
        False,
        grant.license,
        grant.price,
        grant.commission_bps,
        denial,
        f"{_EXPLAIN[denial]} ({grant.license})",
        since,
        until,
        every_work,
    )


def unchanged_around(
    grants: tuple[Grant, ...], at: datetime
) -> tuple[datetime | None, datetime | None]:
    """The span [since, until) around `at` in which no grant starts or ends. Time enters a
    decision only through `at < start` and `at >= end`, so every time in the span gets the
    decision `at` gets."""
    since: datetime | None = None
    until: datetime | None = None
    for grant in grants:
        for edge in (grant.start, grant.end):
            if edge is None:
                continue
            if edge <= at:
                if since is None or edge > since:
                    since = edge
            elif until is None or edge < until:
                until = edge
    return since, until


class PermissionIndex:
    """Every license's grant, by (vendor, publisher). Replaced wholesale or per license;
    readers never lock (a dict swap is atomic under the GIL)."""

    def __init__(self) -> None:
        self._by_party: dict[tuple[str, str], tuple[Grant, ...]] = {}
        self._where: dict[str, tuple[str, str]] = {}
        self._licenses: dict[str, License] = {}

    def load(self, licenses: list[License]) -> None:
        by_party: dict[tuple[str, str], list[Grant]] = {}
        where: dict[str, tuple[str, str]] = {}
        for lic in sorted(licenses, key=lambda x: (x.create_time, x.id)):
            key = (lic.vendor, lic.publisher)
            by_party.setdefault(key, []).append(Grant.of(lic))
            where[lic.name] = key
        self._by_party = {k: tuple(v) for k, v in by_party.items()}
        self._where = where
        self._licenses = {lic.name: lic for lic in licenses}

    def put(self, lic: License) -> None:
        key = (lic.vendor, lic.publisher)
        kept = tuple(g for g in self._by_party.get(key, ()) if g.license != lic.name)
        self._by_party = {**self._by_party, key: (*kept, Grant.of(lic))}
        self._where = {**self._where, lic.name: key}
        self._licenses = {**self._licenses, lic.name: lic}

    def license(self, name: str) -> License | None:
        """The license as last loaded or fed (its state as fresh as the index)."""
        return self._licenses.get(name)

    def grants(self, vendor: str, publisher: str) -> tuple[Grant, ...]:
        return self._by_party.get((vendor, publisher), ())

    def check(
        self,
        vendor: str,
        work: WorkRef,
        use: str,
        territory: str,
        user: str,
        at: datetime,
        license_name: str = "",
    ) -> Decision:
        """`license_name`: judge that license alone (when empty, any of the vendor's)."""
        grants = self.grants(vendor, work.publisher)
        if license_name:
            grants = tuple(g for g in grants if g.license == license_name)
        return decide(grants, work, use, territory, user, at)

    def __len__(self) -> int:
        return len(self._where)
