"""Licentia's Python client: typed stubs for every service, one object per API key.

    from licentia_client import Licentia
    from licentia.catalog.v1 import catalog_service_pb2 as catalog

    with Licentia(api_key) as lic:  # addresses from LICENTIA_* (default localhost:50051-5)
        for work in lic.paged(lic.catalog.ListWorks, catalog.ListWorksRequest(
                parent="publishers/-"), "works"):
            ...

Over TLS: `Licentia(api_key, tls=ClientTls(ca_file=Path("ca.pem")))`, with `cert_file`
and `key_file` for mutual TLS. Amounts read as people write them: `money_text(invoice.
total, invoice.currency)` is `7.00 USD` (billed amounts are minor units), `price_text(
price.amount_micros, price.currency)` is `0.004 USD` (prices are micro-units).
"""

from licentia_client.channels import ClientTls
from licentia_client.connection import Endpoints, Licentia, new_request_id
from licentia_client.money import money as money_text
from licentia_client.money import price as price_text
from licentia_client.usage import UsageBatcher

__version__ = "0.1.0"
__all__ = [
    "ClientTls",
    "Endpoints",
    "Licentia",
    "UsageBatcher",
    "__version__",
    "money_text",
    "new_request_id",
    "price_text",
]
