"""The asyncio gRPC server (grpc.aio) against the thread-pool server the runtime uses:
prints figures; never a pass/fail test.

Two servers, each its own process, answer the same two calls with the same messages
(catalog's GetWorkRequest -> Work):

- a cached read: the work from a dict in memory (what a permission check, a license
  lookup or a document-cache hit costs);
- a database read: the work's row by primary key through SQLAlchemy on PostgreSQL
  (TEST_DATABASE_URL or LICENTIA_DATABASE_URL; skipped without one). The thread-pool
  server uses the synchronous engine and a pool of 32 connections, as the services do;
  the asyncio server uses SQLAlchemy's asyncio engine over psycopg's async connections,
  the same pool size.

Each measured with 1 and 32 closed-loop callers from this process, in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, text

from bench.harness import measure, wait_healthy
from services.runtime.ports import free_port

ROWS = 10_000
CALLS = int(os.environ.get("BENCH_CALLS", "3000"))
SERVICE = "bench.v1.ServerStyles"
metadata = MetaData()
works = Table(
    "bench_works",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String),
    Column("body", String),
)


def _url() -> str | None:
    url = os.environ.get("LICENTIA_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url else None


def _work(row: Any) -> cres.Work:
    return cres.Work(name=f"publishers/p/works/{row.id}", title=row.title, body=row.body)


CACHED = {
    n: cres.Work(name=f"publishers/p/works/{n}", title=f"Work {n}", body="word " * 400)
    for n in range(ROWS)
}


def _id(request: capi.GetWorkRequest) -> int:
    return int(request.name.rsplit("/", 1)[1])


def _handlers(cached: Any, database: Any) -> grpc.GenericRpcHandler:
    def handler(behaviour: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=capi.GetWorkRequest.FromString,
            response_serializer=cres.Work.SerializeToString,
        )

    return grpc.method_handlers_generic_handler(
        SERVICE, {"Cached": handler(cached), "Database": handler(database)}
    )


def serve_threads(port: int, schema: str) -> None:
    url = _url()
    engine = (
        create_engine(url, pool_size=32, connect_args={"options": f"-csearch_path={schema}"})
        if url
        else None
    )

    def cached(request: capi.GetWorkRequest, context: Any) -> cres.Work:
        return CACHED[_id(request)]

    def database(request: capi.GetWorkRequest, context: Any) -> cres.Work:
        assert engine is not None
        with engine.connect() as conn:
            row = conn.execute(select(works).where(works.c.id == _id(request))).one()
        return _work(row)

    server = grpc.server(ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((_handlers(cached, database),))
    _health(server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


async def serve_asyncio(port: int, schema: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    url = _url()
    engine = (
        create_async_engine(url, pool_size=32, connect_args={"options": f"-csearch_path={schema}"})
        if url
        else None
    )

    async def cached(request: capi.GetWorkRequest, context: Any) -> cres.Work:
        return CACHED[_id(request)]

    async def database(request: capi.GetWorkRequest, context: Any) -> cres.Work:
        assert engine is not None
        async with engine.connect() as conn:
            row = (await conn.execute(select(works).where(works.c.id == _id(request)))).one()
        return _work(row)

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handlers(cached, database),))
    _health(server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def _health(server: Any) -> None:
    from grpc_health.v1 import health, health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(
        health.HealthServicer(experimental_non_blocking=True), server
    )


def _prepare(schema: str) -> None:
    url = _url()
    assert url
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(text(f'SET search_path TO "{schema}"'))
        metadata.create_all(conn)
        conn.execute(
            works.insert(),
            [{"id": n, "title": f"Work {n}", "body": "word " * 400} for n in range(ROWS)],
        )
    engine.dispose()


def _drop(schema: str) -> None:
    url = _url()
    assert url
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


async def _measure(port: int, style: str, methods: tuple[str, ...], label: str = "") -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        for method in methods:
            call_method = channel.unary_unary(
                f"/{SERVICE}/{method}",
                request_serializer=capi.GetWorkRequest.SerializeToString,
                response_deserializer=cres.Work.FromString,
            )

            def call(i: int, call_method: Any = call_method) -> Any:
                return call_method(capi.GetWorkRequest(name=f"publishers/p/works/{i % ROWS}"))

            read = "cached" if method == "Cached" else "database"
            name = label or f"{style} server, {read} read"
            await measure(f"{name} (warm-up)", call, 500, 32)
            for callers in (1, 32):
                await measure(name, call, CALLS, callers)


@contextlib.contextmanager
def _server(style: str, schema: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.aio_server_bench", style, str(port), schema]
    )
    try:
        wait_healthy(style, port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def measure_database_floor() -> None:
    """The floor under a service's database read: a bare thread-pool server whose only
    work is one primary-key read through SQLAlchemy on PostgreSQL (nothing without one)."""
    if _url() is None:
        return
    schema = f"bench_floor_{uuid.uuid4().hex[:8]}"
    _prepare(schema)
    try:
        with _server("thread-pool", schema) as port:
            label = "Floor: one PostgreSQL read by primary key, bare gRPC server"
            asyncio.run(_measure(port, "thread-pool", ("Database",), label))
    finally:
        _drop(schema)


def main() -> None:
    database = _url() is not None
    schema = f"bench_aio_{uuid.uuid4().hex[:8]}"
    if database:
        _prepare(schema)
        print(f"database reads on PostgreSQL ({ROWS:,} rows)")
    else:
        print("database reads skipped: set TEST_DATABASE_URL to a PostgreSQL database")
    try:
        for style in ("thread-pool", "asyncio", "thread-pool", "asyncio"):
            with _server(style, schema) as port:
                methods = ("Cached", "Database") if database else ("Cached",)
                asyncio.run(_measure(port, style, methods))
    finally:
        if database:
            _drop(schema)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        style, port, schema = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        if style == "asyncio":
            asyncio.run(serve_asyncio(port, schema))
        else:
            serve_threads(port, schema)
    else:
        main()
