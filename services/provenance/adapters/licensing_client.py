"""Asking licensing, in one call per checked text, which matched works a vendor may use."""

from __future__ import annotations

import logging

import grpc
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc

from services.provenance.domain.works import LicenseAnswer

log = logging.getLogger(__name__)


UNKNOWN = LicenseAnswer(None, explanation="the licensing service did not answer")


class LicensingPermissions:
    def __init__(self, channel: grpc.Channel, timeout_seconds: float = 1.0) -> None:
        self._stub = api_grpc.LicensingServiceStub(channel)
        self._timeout = timeout_seconds

    def answers(self, vendor: str, works: list[str], use: str) -> dict[str, LicenseAnswer]:
        if not works:
            return {}
        request = api.BatchCheckPermissionsRequest(
            requests=[api.CheckPermissionRequest(vendor=vendor, work=w, use=use) for w in works]
        )
        try:
            response = self._stub.BatchCheckPermissions(request, timeout=self._timeout)
        except grpc.RpcError as error:
            # A slow or failing licensing service must not fail provenance checks.
            log.warning("license check failed: %s", error.code())
            return {w: UNKNOWN for w in works}
        return {
            w: LicenseAnswer(r.allowed, r.license, "" if r.allowed else r.explanation)
            for w, r in zip(works, response.responses, strict=True)
        }
