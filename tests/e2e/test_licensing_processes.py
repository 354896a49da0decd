"""Catalog, licensing and provenance as separate processes: keys are checked across
services, a licensed vendor fetches content (catalog -> licensing -> catalog) and checks
a text quoting it (provenance, fed by the catalog's feed, asking licensing), then all
three drain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as capi_grpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res
from licentia.provenance.v1 import provenance_service_pb2 as ppi
from licentia.provenance.v1 import provenance_service_pb2_grpc as ppi_grpc
from licentia.provenance.v1 import resources_pb2 as pres

from services.runtime.ports import free_port
from services.samples.articles import ArticleGenerator
from tests.e2e.processes import wait_healthy

BODY = ArticleGenerator(seed=4).text(200)


def _auth(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def test_marketplace_across_processes(tmp_path: Path) -> None:
    ports = {"catalog": free_port(), "licensing": free_port(), "provenance": free_port()}
    env = {
        **os.environ,
        "LICENTIA_DATA_DIR": str(tmp_path),
        "LICENTIA_OPERATOR_API_KEY": "e2e-operator",
        "LICENTIA_SERVICE_TOKEN": "e2e-service-token",
        **{f"LICENTIA_{n.upper()}_PORT": str(p) for n, p in ports.items()},
    }
    env.pop("LICENTIA_DATABASE_URL", None)
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ports
    }
    try:
        catalog_channel = grpc.insecure_channel(f"127.0.0.1:{ports['catalog']}")
        licensing_channel = grpc.insecure_channel(f"127.0.0.1:{ports['licensing']}")
        provenance_channel = grpc.insecure_channel(f"127.0.0.1:{ports['provenance']}")
        wait_healthy(catalog_channel)
        wait_healthy(licensing_channel)
        wait_healthy(provenance_channel)
        catalog = capi_grpc.CatalogServiceStub(catalog_channel)
        licensing = api_grpc.LicensingServiceStub(licensing_channel)
        op = _auth("e2e-operator")
        catalog.CreatePublisher(
            capi.CreatePublisherRequest(
                publisher=cres.Publisher(display_name="P"), publisher_id="p"
            ),
            metadata=op,
        )
        catalog.CreateVendor(
            capi.CreateVendorRequest(vendor=cres.Vendor(display_name="V"), vendor_id="v"),
            metadata=op,
        )
        pkey = catalog.CreateApiKey(
            capi.CreateApiKeyRequest(parent="publishers/p"), metadata=op
        ).key
        vkey = catalog.CreateApiKey(capi.CreateApiKeyRequest(parent="vendors/v"), metadata=op).key
        work = catalog.CreateWork(
            capi.CreateWorkRequest(
                parent="publishers/p",
                work=cres.Work(title="T", body=BODY, language="en"),
            ),
            metadata=_auth(pkey),
        ).name
        # Licensing knows the publisher's key only by asking the catalog.
        offer = licensing.CreateOffer(
            api.CreateOfferRequest(
                parent="publishers/p",
                offer=res.Offer(
                    display_name="Answers",
                    terms=res.Terms(
                        permitted_uses=["ai-input"],
                        price=res.Price(
                            model=res.Price.MODEL_PER_USE, currency="USD", amount_micros=2_000
                        ),
                    ),
                ),
            ),
            metadata=_auth(pkey),
        )
        licensing.PublishOffer(api.PublishOfferRequest(name=offer.name), metadata=_auth(pkey))
        proposal = licensing.CreateProposal(
            api.CreateProposalRequest(offer=offer.name), metadata=_auth(vkey)
        )
        content = catalog.GetWorkContent(
            capi.GetWorkContentRequest(name=work, use="ai-input"), metadata=_auth(vkey)
        )
        assert content.body == BODY and content.license == proposal.license

        provenance = ppi_grpc.ProvenanceServiceStub(provenance_channel)
        answer = f"As reported: {BODY[:300]} That is all."
        deadline = time.monotonic() + 10
        while not (
            matches := provenance.CheckText(
                ppi.CheckTextRequest(text=answer), metadata=_auth(vkey)
            ).matches
        ):
            assert time.monotonic() < deadline, "the work never reached provenance"
            time.sleep(0.1)
        assert [(m.work, m.license_status, m.license) for m in matches] == [
            (work, pres.LICENSE_STATUS_LICENSED, proposal.license)
        ]
        for channel in (catalog_channel, licensing_channel, provenance_channel):
            channel.close()
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        stderr = {name: p.communicate(timeout=30)[1] for name, p in processes.items()}
    for name, process in processes.items():
        assert process.returncode == 0, stderr[name]
        assert f"{name} stopped" in stderr[name] and "Traceback" not in stderr[name]
