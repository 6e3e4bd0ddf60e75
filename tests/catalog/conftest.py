"""Catalog test fixtures: a default warehouse.

The clock and its moments moved to tests/clock.py and tests/conftest.py;
they are re-exported here for the modules that import them from this file.
"""

from __future__ import annotations

from datetime import time

import pytest

from tests.catalog.factories import WarehouseFactory
from tests.clock import NOON_ISH, SHANGHAI, TOMORROW
from tests.conftest import clock  # the suite's one clock fixture

__all__ = ["NOON_ISH", "SHANGHAI", "TOMORROW", "clock"]


@pytest.fixture
def warehouse(db):
    return WarehouseFactory(name="长沙岳麓中心仓", is_default=True, cutoff_time=time(23, 0))
