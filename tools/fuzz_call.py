"""Replays one fuzz example against running services: the line a failing fuzz test
prints. Addresses and keys come from the environment, as for `licentia`:

    python -m tools.fuzz_call /licentia.catalog.v1.CatalogService/GetWork operator <base64>

`operator` uses LICENTIA_OPERATOR_API_KEY; `publisher` and `vendor` use LICENTIA_API_KEY.
"""

from __future__ import annotations

import base64
import os
import sys

import grpc
from grpc_status import rpc_status

from services.runtime.config import Settings


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, party, encoded = argv
    service = path.split(".")[1]  # /licentia.<service>.v1.<Name>Service/<Method>
    settings = Settings()
    address = settings.address_of(service)
    key = settings.operator_api_key if party == "operator" else os.environ.get("LICENTIA_API_KEY")
    payload = base64.b64decode(encoded)
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(path, request_serializer=bytes, response_deserializer=bytes)
        try:
            call(payload, metadata=[("authorization", f"Bearer {key}")], timeout=30)
        except grpc.RpcError as error:
            status = rpc_status.from_call(error)
            print(f"{error.code().name}: {error.details()}")
            for detail in status.details if status else []:
                print(f"  {detail}")
            return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
