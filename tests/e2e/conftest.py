# The in-process marketplace (catalog and licensing) the API tests use.
from tests.api.conftest import market  # noqa: F401
