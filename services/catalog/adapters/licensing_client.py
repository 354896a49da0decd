"""Asks licensing whether a vendor may use a work (content delivery's gate)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc

from services.runtime.errors import InvalidArgument, Unavailable


@dataclass(frozen=True)
class PermissionAnswer:
    allowed: bool
    license: str
    denial: str
    explanation: str


class LicensingPermissions:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = api_grpc.LicensingServiceStub(channel)

    def check(
        self, vendor: str, work: str, use: str, territory: str, user_type: str
    ) -> PermissionAnswer:
        request = api.CheckPermissionRequest(
            vendor=vendor, work=work, use=use, territory=territory, user_type=user_type
        )
        try:
            answer = self._stub.CheckPermission(request)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument("INVALID_FIELDS", error.details() or "bad request") from error
            raise Unavailable(
                "LICENSING_UNAVAILABLE", "cannot check the license right now; retry"
            ) from error
        denial = api.CheckPermissionResponse.Denial.Name(answer.denial).removeprefix("DENIAL_")
        return PermissionAnswer(answer.allowed, answer.license, denial, answer.explanation)
