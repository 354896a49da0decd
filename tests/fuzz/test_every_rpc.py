"""Every RPC of the five services, fuzzed from its descriptor against the real servers
(SQLite and PostgreSQL): whatever a caller sends, the answer is never INTERNAL or
UNKNOWN, no error detail carries a traceback or more than a short prefix of the input,
a refused write changes nothing, and no call takes longer than a stated bound.

Quick profile in `make test` (FUZZ_EXAMPLES per RPC, 12 by default, fixed seed); the
long one is `make fuzz`. A failing example prints a one-line reproduction.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from licentia.catalog.v1 import catalog_service_pb2
from licentia.licensing.v1 import licensing_service_pb2
from licentia.metering.v1 import metering_service_pb2
from licentia.provenance.v1 import provenance_service_pb2
from licentia.settlement.v1 import settlement_service_pb2

from tests.conftest import INVALID_UTF8_REQUEST
from tests.fuzz.conftest import Marketplace
from tests.fuzz.requests import message_strategy

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
CALL_BOUND_SECONDS = 10.0
MAX_DETAIL_BYTES = 4_096
NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
_MODULES = {
    "catalog": catalog_service_pb2,
    "licensing": licensing_service_pb2,
    "provenance": provenance_service_pb2,
    "metering": metering_service_pb2,
    "settlement": settlement_service_pb2,
}
METHODS = [
    (service, method)
    for service, module in _MODULES.items()
    for grpc_service in module.DESCRIPTOR.services_by_name.values()
    for method in grpc_service.methods
]
SEEN: Counter[tuple[str, str]] = Counter()


def test_every_rpc_is_covered() -> None:
    assert len(METHODS) >= 73


@pytest.mark.parametrize(("service", "method"), METHODS, ids=[f"{s}.{m.name}" for s, m in METHODS])
def test_bad_input_never_breaks_an_rpc(
    marketplace: Marketplace, service: str, method: MethodDescriptor
) -> None:
    path = f"/{method.containing_service.full_name}/{method.name}"
    channel = marketplace.harnesses[service].channel
    call = _callable(channel, path, method)
    _check_invalid_utf8(marketplace, service, call, path, method)

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        request=message_strategy(method.input_type, marketplace.names),
        party=st.sampled_from(["operator", "publisher", "vendor"]),
        copies=st.sampled_from([1, 1, 2]),
    )
    def fuzz(request: Message, party: str, copies: int) -> None:
        payload = request.SerializeToString()
        key = marketplace.keys[party]
        before = marketplace.counts(service) if _writes(method) else None
        started = time.monotonic()
        code, error = _send(call, method, [payload] * copies, key)
        elapsed = time.monotonic() - started
        repro = _reproduction(path, party, payload)
        SEEN[(path, code.name)] += 1
        assert code not in NEVER, f"{path} answered {code.name}: {error}\n  {repro}"
        assert elapsed < CALL_BOUND_SECONDS, f"{path} took {elapsed:.1f} s\n  {repro}"
        if error is not None:
            _check_details(error, path, repro)
            if before is not None:
                after = marketplace.counts(service)
                assert after == before, f"{path} refused the call but wrote: {repro}"

    fuzz()


def _check_invalid_utf8(
    marketplace: Marketplace, service: str, call: object, path: str, method: MethodDescriptor
) -> None:
    code, error = _send(call, method, [INVALID_UTF8_REQUEST], marketplace.keys["operator"])
    assert code not in NEVER, f"{path}: a request that is not UTF-8 answered {code.name}"
    if error is not None:
        _check_details(error, path, _reproduction(path, "operator", INVALID_UTF8_REQUEST))


def _callable(channel: grpc.Channel, path: str, method: MethodDescriptor) -> object:
    kinds = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }
    factory = kinds[(method.client_streaming, method.server_streaming)]
    return factory(path, request_serializer=bytes, response_deserializer=bytes)


def _send(
    call: object, method: MethodDescriptor, payloads: list[bytes], key: str
) -> tuple[grpc.StatusCode, grpc.RpcError | None]:
    metadata = [("authorization", f"Bearer {key}")]
    try:
        if method.client_streaming:
            answer = call(iter(payloads), metadata=metadata, timeout=30)  # type: ignore[operator]
        else:
            answer = call(payloads[0], metadata=metadata, timeout=30)  # type: ignore[operator]
        if method.server_streaming:
            for _ in answer:
                pass
    except grpc.RpcError as error:
        return error.code(), error
    return grpc.StatusCode.OK, None


def _check_details(error: grpc.RpcError, path: str, repro: str) -> None:
    message = error.details() or ""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    size = len(message.encode()) + (len(status.SerializeToString()) if status else 0)
    assert size <= MAX_DETAIL_BYTES, f"{path}: {size} bytes of error detail\n  {repro}"
    texts = [message] + ([str(d) for d in status.details] if status else [])
    for text in texts:
        assert "Traceback" not in text and 'File "' not in text, f"{path}: traceback\n  {repro}"


def _writes(method: MethodDescriptor) -> bool:
    verbs = ("Create", "Update", "Delete", "Import", "Record", "Stream", "Set", "Close",
             "Publish", "Withdraw", "Accept", "Reject", "Counter", "Suspend", "Resume",
             "Revoke", "Confirm", "Seal", "Rotate", "Issue")  # fmt: skip
    return method.name.startswith(verbs)


def _reproduction(path: str, party: str, payload: bytes) -> str:
    encoded = base64.b64encode(payload).decode()
    if len(encoded) > 600:
        encoded = encoded[:600] + "..."
    return f"reproduce: python -m tools.fuzz_call {path} {party} {encoded}"


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """With FUZZ_REPORT set: the calls per RPC and the status codes seen (pytest -s)."""
    yield
    if not (SEEN and os.environ.get("FUZZ_REPORT")):
        return
    by_code: Counter[str] = Counter()
    per_rpc: dict[str, Counter[str]] = {}
    for (path, code), n in SEEN.items():
        by_code[code] += n
        per_rpc.setdefault(path, Counter())[code] += n
    print(f"\nfuzz: {sum(SEEN.values()):,} calls over {len(per_rpc)} RPCs (seed {SEED})")
    for path, codes in sorted(per_rpc.items()):
        print(
            f"  {path}: {sum(codes.values()):,} "
            + ", ".join(f"{c} {n}" for c, n in sorted(codes.items()))
        )
    print("status codes:", ", ".join(f"{c} {n:,}" for c, n in sorted(by_code.items())))
    print(f"INTERNAL or UNKNOWN: {by_code['INTERNAL'] + by_code['UNKNOWN']}")
