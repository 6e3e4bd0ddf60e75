"""Logistics fixtures: one warehouse (the leaders' default) with a van, a driver and
a route through both personas' pickup points, plus paid orders for tomorrow.

Orders are made through the real services (tests/orders/pickup_support.paid_order),
so they are confirmed, hold stock and have payments a refund can go back to.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import factory
import pytest
from django.contrib.auth.models import Group

from logistics.models import Driver, Route, RouteStop, Vehicle
from tests.leaders.factories import UserFactory, default_warehouse
from tests.orders.conftest import (  # noqa: F401 - fixtures
    community,
    eager_celery,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)
from tests.orders.pickup_support import delivery_morning, paid_order
from tuangou.accounts.roles import DRIVERS, sync_roles

__all__ = ["delivery_morning", "paid_order", "put_on_route"]


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    warehouse = factory.LazyFunction(default_warehouse)
    plate = factory.Sequence(lambda n: f"湘A{n:05d}")
    capacity_kg = 1500
    capacity_crates = 120
    is_cold_chain = True


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    warehouse = factory.LazyFunction(default_warehouse)
    name = factory.Sequence(lambda n: f"司机{n}")
    phone = factory.Sequence(lambda n: f"1390000{n:04d}")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if create:
            sync_roles()
            obj.user.groups.add(Group.objects.get(name=DRIVERS))


class RouteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Route

    warehouse = factory.LazyFunction(default_warehouse)
    code = factory.Sequence(lambda n: f"R{n:02d}")
    name = factory.Sequence(lambda n: f"线路{n}")
    vehicle = factory.SubFactory(VehicleFactory)
    default_driver = factory.SubFactory(DriverFactory)
    departure_time = time(6, 0)
    cost_per_run = Decimal("180.00")


def put_on_route(route: Route, *points) -> list[RouteStop]:
    """Append pickup points to a route in the given order."""
    start = route.stops.count()
    return [
        RouteStop.objects.create(route=route, pickup_point=p, position=start + i + 1)
        for i, p in enumerate(points)
    ]


@pytest.fixture
def driver(db):
    return DriverFactory(name="李师傅", phone="13900001111")


@pytest.fixture
def other_driver(db):
    return DriverFactory(name="赵师傅", phone="13900002222")


@pytest.fixture
def route(point, other_pickup_point, driver):  # noqa: F811 - fixtures
    """Route R01 from the default warehouse: 幸福里便利店 then 阳光花园物业."""
    r = RouteFactory(code="R01", name="岳麓线", default_driver=driver)
    put_on_route(r, point, other_pickup_point)
    return r
