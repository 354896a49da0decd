"""A typed Python client for Licentia's gRPC APIs (see README: "Python client").

from services.client import Licentia

with Licentia(api_key) as lic:
    for work in lic.paged(lic.catalog.ListWorks, ListWorksRequest(parent=p), "works"):
        ...
"""

from services.client.connection import Endpoints, Licentia, new_request_id
from services.client.usage import UsageBatcher

__all__ = ["Endpoints", "Licentia", "UsageBatcher", "new_request_id"]
