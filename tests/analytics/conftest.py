"""Analytics fixtures: three days of orders made through the real services, and their facts.

`history` places and pays orders on 23, 24 and 25 Nov 2026 (the clock's day and
the two before it) at two pickup points, refunds part of one, and returns the
days; `built` rebuilds the facts over them. Leaders, shoppers and the shop come
from the orders and leaders fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from orders.models import Order, RefundReason
from orders.services.refunds import refund_lines
from tests.catalog.factories import set_stock
from tests.clock import TODAY, at
from tests.leaders.conftest import (  # noqa: F401 - fixtures
    community,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
)
from tests.orders.conftest import (  # noqa: F401 - fixtures
    eager_celery,
    egg_sku,
    point,
    sku,
)
from tests.orders.pickup_support import paid_order

DAYS = [TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY]


@dataclass
class History:
    days: list[date]
    orders: list[Order]
    refunded: Order  # part-refunded on the first day


@pytest.fixture
def history(clock, shopper, other_shopper, point, other_pickup_point, sku, egg_sku) -> History:  # noqa: F811
    orders: list[Order] = []
    for day in DAYS:
        for delivery in (day + timedelta(days=1), day + timedelta(days=2)):
            for s in (sku, egg_sku):
                set_stock(sku=s, warehouse=point.warehouse, delivery_date=delivery, quantity=50)
                set_stock(
                    sku=s,
                    warehouse=other_pickup_point.warehouse,
                    delivery_date=delivery,
                    quantity=50,
                )
    for day in DAYS:
        clock.move_to(at(9, 30, day=day))
        orders.append(paid_order(shopper, point, (sku, 2), (egg_sku, 1)))
        clock.move_to(at(20, 15, day=day))
        orders.append(paid_order(other_shopper, point, (sku, 1)))
        orders.append(paid_order(shopper, other_pickup_point, (egg_sku, 1)))
    clock.move_to(at(23, 40, day=DAYS[0]))  # after the cutoff: still the first day's sale
    late = paid_order(other_shopper, other_pickup_point, (sku, 3), (egg_sku, 2))
    orders.append(late)
    tomato = late.lines.order_by("pk").first()
    refund_lines(order=late, quantities={tomato.pk: 1}, reason=RefundReason.OPERATOR)
    late.refresh_from_db()
    clock.move_to(at(15, 0, day=TODAY))
    return History(days=DAYS, orders=orders, refunded=late)


@pytest.fixture
def built(history):
    from analytics.facts import rebuild_facts

    counts = rebuild_facts(start=history.days[0], end=history.days[-1])
    return counts
