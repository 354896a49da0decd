"""Budgets and caps at the toll, as settlement rates the open period: a vendor whose
running charges have reached its budget (SetBudget), or a per-crawl license whose charges
have reached its cap, is refused further paid crawls. Polled for the vendors the toll has
charged, every few seconds (the bound on how far past a budget or a cap crawls can go)."""

from __future__ import annotations

import threading

import grpc
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sgrpc


class BudgetWatch:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = sgrpc.SettlementServiceStub(channel)
        self._vendors: set[str] = set()
        self._over_budget: set[tuple[str, str]] = set()  # (vendor, currency)
        self._charged: dict[str, int] = {}  # license -> minor units so far this period
        self._lock = threading.Lock()

    def watch(self, vendor: str) -> None:
        with self._lock:
            self._vendors.add(vendor)

    def over_budget(self, vendor: str, currency: str) -> bool:
        return (vendor, currency) in self._over_budget

    def charged(self, license_name: str) -> int:
        return self._charged.get(license_name, 0)

    def refresh(self) -> None:
        with self._lock:
            vendors = sorted(self._vendors)
        over: set[tuple[str, str]] = set()
        charged: dict[str, int] = {}
        for vendor in vendors:
            running = self._stub.GetRunningCharges(
                sapi.GetRunningChargesRequest(vendor=vendor), timeout=10
            )
            over |= {(vendor, t.currency) for t in running.totals if t.over_budget}
            for line in running.lines:
                charged[line.license] = charged.get(line.license, 0) + line.amount
        self._over_budget, self._charged = over, charged
