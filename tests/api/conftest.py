from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.runtime.config import Settings
from tests.api.market import Market, start_market


@pytest.fixture
def market(settings: Settings) -> Iterator[Market]:
    yield from start_market(settings)
