"""Catalog test fixtures: a default warehouse and a fixed Shanghai clock."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.catalog.factories import WarehouseFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-25 15:00 in Shanghai: before the 23:00 cutoff, delivery tomorrow.
NOON_ISH = datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI)
TOMORROW = date(2026, 11, 26)


@pytest.fixture
def clock():
    with time_machine.travel(NOON_ISH, tick=False) as traveller:
        yield traveller


@pytest.fixture
def warehouse(db):
    return WarehouseFactory(name="长沙岳麓中心仓", is_default=True, cutoff_time=time(23, 0))
