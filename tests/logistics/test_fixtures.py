"""The logistics fixtures hold together: one route through both pickup points."""

import pytest

from logistics.models import RouteStop
from orders.models import OrderStatus

from .conftest import paid_order


@pytest.mark.django_db
def test_the_route_visits_both_points_in_order_and_orders_are_confirmed(
    clock, route, point, other_pickup_point, shopper, sku, driver
):
    stops = list(RouteStop.objects.filter(route=route).values_list("pickup_point_id", flat=True))
    assert stops == [point.pk, other_pickup_point.pk]
    assert route.vehicle.warehouse_id == point.warehouse_id == other_pickup_point.warehouse_id
    assert driver.user.has_role("drivers")
    order = paid_order(shopper, point, (sku, 2))
    assert order.status == OrderStatus.CONFIRMED
