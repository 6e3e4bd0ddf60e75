"""seed_demo's orders part: a month of orders in every state, fast and idempotent."""

from __future__ import annotations

import io

import pytest
import time_machine
from django.db.models import Sum

from catalog import demo as catalog_demo
from catalog.models import StockLedger, StockRecord
from leaders import demo as leaders_demo
from orders import demo
from orders.models import (
    AfterSaleClaim,
    DeliverySignoff,
    Order,
    OrderStatus,
    PickupCode,
    RefundReason,
    ShortageLine,
)
from tuangou.accounts import demo as accounts_demo

from .conftest import NOON_ISH

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    with time_machine.travel(NOON_ISH, tick=True):
        out = io.StringIO()
        accounts_demo.seed(stdout=out)
        catalog_demo.seed(stdout=out)
        leaders_demo.seed(stdout=out)
        demo.seed(stdout=out)
    return out.getvalue()


def test_seed_makes_a_month_of_orders_in_every_state(seeded):
    output = seeded
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses >= {
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.CONFIRMED,
        OrderStatus.IN_DELIVERY,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.REFUNDED,
    }
    days = Order.objects.values_list("delivery_date", flat=True)
    assert (max(days) - min(days)).days >= 25
    assert Order.objects.values("user").distinct().count() == 6
    assert ShortageLine.objects.count() == 1
    assert Order.objects.filter(refunds__reason=RefundReason.SHORTAGE).exists()
    assert AfterSaleClaim.objects.filter(status="open").count() == 1
    assert (
        Order.objects.filter(is_uncollected=True, status=OrderStatus.READY_FOR_PICKUP).count() == 1
    )
    assert DeliverySignoff.objects.exists()
    waiting = Order.objects.filter(status=OrderStatus.READY_FOR_PICKUP, is_uncollected=False)
    for order in waiting:
        assert PickupCode.objects.filter(
            user=order.user, pickup_point=order.pickup_point, delivery_date=order.delivery_date
        ).exists()
    assert "demo orders" in output


def test_history_is_dated_when_it_happened(seeded):
    completed = Order.objects.filter(status=OrderStatus.COMPLETED).order_by("delivery_date").first()
    assert completed.created_at.date() < completed.delivery_date
    assert completed.completed_at.astimezone().date() >= completed.delivery_date
    assert completed.events.order_by("created_at").first().created_at == completed.created_at


def test_stock_still_matches_its_ledger(seeded):
    for record in StockRecord.objects.all():
        total = StockLedger.objects.filter(
            sku=record.sku, warehouse=record.warehouse, delivery_date=record.delivery_date
        ).aggregate(s=Sum("delta"))["s"]
        assert total == record.quantity


def test_seeding_again_changes_nothing(seeded):
    before = (Order.objects.count(), DeliverySignoff.objects.count())
    out = io.StringIO()
    with time_machine.travel(NOON_ISH, tick=True):
        demo.seed(stdout=out)
    assert (Order.objects.count(), DeliverySignoff.objects.count()) == before
    assert "nothing to do" in out.getvalue()
