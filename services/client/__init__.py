"""A typed Python client for Licentia's gRPC APIs (see README: "Python client").

from services.client import Licentia

with Licentia(api_key, tls=ClientTls(ca_file=Path("ca.pem"))) as lic:  # tls: optional
    for work in lic.paged(lic.catalog.ListWorks, ListWorksRequest(parent=p), "works"):
        ...

Amounts read as people write them: `money_text(invoice.total, invoice.currency)` is
`7.00 USD` (billed amounts are minor units), `price_text(price.amount_micros,
price.currency)` is `0.004 USD` (prices are micro-units).
"""

from services.client.connection import Endpoints, Licentia, new_request_id
from services.client.usage import UsageBatcher
from services.runtime.clients import ClientTls
from services.runtime.money_text import money as money_text
from services.runtime.money_text import price as price_text

__all__ = [
    "ClientTls",
    "Endpoints",
    "Licentia",
    "UsageBatcher",
    "money_text",
    "new_request_id",
    "price_text",
]
