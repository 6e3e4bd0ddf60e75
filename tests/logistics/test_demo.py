"""seed_demo's logistics part: routes, drivers, a week of waves with purchase orders in
every state and runs driven through the real services, nothing dated after now."""

from __future__ import annotations

import io

import pytest
import time_machine
from django.utils import timezone

from catalog import demo as catalog_demo
from leaders import demo as leaders_demo
from logistics import demo
from logistics.models import (
    DeliveryRun,
    Driver,
    PurchaseOrder,
    PurchaseStatus,
    Route,
    RouteStop,
    RunStatus,
    RunStop,
    StopStatus,
    Wave,
    WaveStatus,
)
from orders import demo as orders_demo
from tests.clock import NOON_ISH
from tuangou.accounts import demo as accounts_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    with time_machine.travel(NOON_ISH, tick=False):
        out = io.StringIO()
        for module in (accounts_demo, catalog_demo, leaders_demo, orders_demo, demo):
            module.seed(stdout=out)
        yield out.getvalue()


def test_the_demo_has_routes_a_week_of_waves_purchase_orders_and_driven_runs(seeded):
    """One seed (it is the slow part) and every promise of the logistics demo."""
    _routes_cover_every_point()
    _waves_and_purchase_orders()
    _runs_driven_up_to_now()
    counts = (Route.objects.count(), Wave.objects.count(), DeliveryRun.objects.count())
    with time_machine.travel(NOON_ISH, tick=False):
        demo.seed(stdout=io.StringIO())
    assert (Route.objects.count(), Wave.objects.count(), DeliveryRun.objects.count()) == counts


def _routes_cover_every_point():
    from leaders.models import PickupPoint

    for route in Route.objects.all():
        assert route.vehicle is not None
    assert Route.objects.count() == 2 * Route.objects.values("warehouse").distinct().count()
    assert not PickupPoint.objects.filter(route_stop__isnull=True).exists()
    assert RouteStop.objects.count() == PickupPoint.objects.count()
    assert Driver.objects.filter(user__username="driver").exists()


def _waves_and_purchase_orders():
    assert Wave.objects.count() >= 7
    assert set(Wave.objects.values_list("status", flat=True)) == {WaveStatus.DONE}
    states = set(PurchaseOrder.objects.values_list("status", flat=True))
    # At noon the latest wave's goods are in: received, partly received, sent,
    # a draft and a cancelled order (as many as there are suppliers that day).
    assert {PurchaseStatus.RECEIVED, PurchaseStatus.DRAFT, PurchaseStatus.CANCELLED} <= states


def _runs_driven_up_to_now():
    now = timezone.now()
    runs = DeliveryRun.objects.all()
    assert runs.filter(status=RunStatus.FINISHED).exists()
    for run in runs.filter(status=RunStatus.FINISHED):
        assert run.departed_at < run.finished_at <= now
        for stop in run.stops.all():
            assert stop.status == StopStatus.HANDED_OVER
            assert run.departed_at < stop.arrived_at <= stop.handed_over_at <= now
    assert not RunStop.objects.filter(arrived_at__gt=now).exists()
