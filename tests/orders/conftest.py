"""Orders fixtures: a shop with stock for tomorrow, a pickup point, a clock, eager Celery."""

from __future__ import annotations

from decimal import Decimal

import pytest

from leaders.models import PickupPoint
from tests.catalog.conftest import NOON_ISH, TOMORROW, clock  # noqa: F401 - fixtures
from tests.catalog.factories import SkuFactory, set_stock
from tests.leaders.conftest import (  # noqa: F401 - fixtures
    community,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
)
from tuangou.celery import app

__all__ = ["NOON_ISH", "TOMORROW"]


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in the caller (after commit) unless a test starts a real worker."""
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def point(pickup_point):  # noqa: F811 - the leaders fixture, reloaded as views load it
    """The pickup point as views load it (leader and warehouse joined)."""
    return PickupPoint.objects.select_related("leader", "warehouse").get(pk=pickup_point.pk)


@pytest.fixture
def sku(point):
    sku = SkuFactory(product__name="西红柿", spec="500g/份", price=Decimal("3.90"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=50)
    return sku


@pytest.fixture
def egg_sku(point):
    sku = SkuFactory(product__name="土鸡蛋", spec="10枚/盒", price=Decimal("12.80"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=20)
    return sku
