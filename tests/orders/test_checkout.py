"""place_order: server prices, snapshots, stock held, all or nothing, few queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from catalog.models import StockLedger, StockRecord
from leaders.models import LeaderStatus, PickupPointPause
from orders.models import Cart, CartLine, Order, OrderEvent, OrderStatus
from orders.pricing import FixedAmountOff
from orders.services.checkout import CheckoutError, Want, place_order
from tests.catalog.factories import SkuFactory, set_stock

from .conftest import NOON_ISH, TOMORROW

pytestmark = pytest.mark.django_db


def _stock(sku, point) -> int:
    return StockRecord.objects.get(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).quantity


def test_it_places_an_order_with_server_prices_and_holds_stock(
    clock, shopper, point, sku, egg_sku, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(
            user=shopper,
            wants=[Want(sku.pk, 3), Want(egg_sku.pk, 1)],
            pickup_point=point,
        )
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.goods_total == Decimal("24.50")  # 3 × 3.90 + 12.80
    assert order.payable == Decimal("24.50")
    assert order.delivery_date == TOMORROW
    assert order.pickup_point_name == "幸福里便利店"
    assert order.leader_id == point.leader_id
    assert order.pay_deadline == NOON_ISH + timedelta(minutes=15)
    assert len(order.number) == 19 and order.number.startswith("261125150000")
    assert len(order.code) >= 16
    lines = {line.product_name: line for line in order.lines.all()}
    assert lines["西红柿"].payable == Decimal("11.70")
    assert lines["西红柿"].spec == "500g/份"
    assert _stock(sku, point) == 47
    assert _stock(egg_sku, point) == 19
    assert StockLedger.objects.filter(reference=order.number).count() == 2
    assert OrderEvent.objects.filter(order=order).count() == 1


def test_after_the_cutoff_the_order_is_delivered_the_day_after_tomorrow(shopper, point, sku):
    late = NOON_ISH.replace(hour=23, minute=30)
    set_stock(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW + timedelta(days=1), quantity=5
    )
    with time_machine.travel(late, tick=False):
        order = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert order.delivery_date == TOMORROW + timedelta(days=1)


def test_an_order_discount_is_apportioned_over_the_lines_to_the_fen(
    clock, shopper, point, sku, egg_sku
):
    order = place_order(
        user=shopper,
        wants=[Want(sku.pk, 1), Want(egg_sku.pk, 1)],
        pickup_point=point,
        rules=[FixedAmountOff(Decimal("5.00"))],
    )
    lines = list(order.lines.order_by("pk"))
    assert order.payable == Decimal("11.70")
    assert sum(line.discount_total for line in lines) == Decimal("5.00")
    assert sum(line.payable for line in lines) == order.payable


@pytest.mark.django_db(transaction=True)
def test_one_line_from_the_cart_runs_at_most_eight_statements(clock, shopper, point, sku):
    """8 statements of work (BEGIN/COMMIT aside), whatever else the shop holds.

    Celery is not eager here: in production the expiry timer is a broker
    publish after commit, not SQL.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tuangou.celery import app

    cart = Cart.objects.create(user=shopper)
    CartLine.objects.create(cart=cart, sku=sku, quantity=2)
    for n in range(30):
        other = SkuFactory(product__name=f"商品{n}")
        set_stock(sku=other, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=9)
    app.conf.task_always_eager = False
    with CaptureQueriesContext(connection) as ctx:
        order = place_order(user=shopper, wants=[Want(sku.pk, 2)], pickup_point=point, cart=cart)
    statements = [q["sql"] for q in ctx.captured_queries if q["sql"] not in {"BEGIN", "COMMIT"}]
    assert len(statements) <= 8, "\n".join(statements)
    # The hot lock comes last: the stock UPDATE with its ledger row (one statement).
    assert statements[-1].startswith("WITH moved AS (\n    UPDATE catalog_stockrecord")
    assert not CartLine.objects.filter(cart=cart).exists()
    assert order.payable == Decimal("7.80")


def test_out_of_stock_writes_nothing(clock, shopper, point, sku, egg_sku):
    from catalog.services import OutOfStock

    with pytest.raises(OutOfStock) as info:
        place_order(user=shopper, wants=[Want(sku.pk, 2), Want(egg_sku.pk, 21)], pickup_point=point)
    assert "库存不足" in str(info.value.message) or "已售罄" in str(info.value.message)
    assert Order.objects.count() == 0
    assert _stock(sku, point) == 50
    assert _stock(egg_sku, point) == 20
    assert not StockLedger.objects.exclude(note="test set-up").exists()


@pytest.mark.parametrize(
    ("wants", "message"),
    [
        (lambda sku: [Want(sku.pk, 0)], "购买数量至少为 1"),
        (lambda sku: [Want(sku.pk, -3)], "购买数量至少为 1"),
        (lambda sku: [Want(999999, 1)], "商品不存在"),
        (lambda sku: [], "购物车是空的"),
        (lambda sku: [Want(sku.pk, 1), Want(sku.pk, 2)], "同一商品在一个订单中只能出现一次"),
    ],
)
def test_bad_lines_get_a_clear_message_and_write_nothing(
    clock, shopper, point, sku, wants, message
):
    with pytest.raises(CheckoutError) as info:
        place_order(user=shopper, wants=wants(sku), pickup_point=point)
    assert message in str(info.value.message)
    assert Order.objects.count() == 0
    assert _stock(sku, point) == 50


def test_an_off_shelf_product_cannot_be_ordered(clock, shopper, point, sku):
    sku.product.is_on_shelf = False
    sku.product.save()
    with pytest.raises(CheckoutError) as info:
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert "已下架" in info.value.message
    assert Order.objects.count() == 0


def test_a_paused_pickup_point_takes_no_orders_that_day(clock, shopper, point, sku):
    PickupPointPause.objects.create(point=point, day=TOMORROW, reason="家里有事")
    with pytest.raises(CheckoutError) as info:
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert "自提点" in info.value.message and "11-26" in info.value.message
    assert Order.objects.count() == 0


def test_a_suspended_leaders_point_takes_no_orders(clock, shopper, point, sku):
    point.leader.status = LeaderStatus.SUSPENDED
    point.leader.save()
    with pytest.raises(CheckoutError):
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert Order.objects.count() == 0


def test_no_pickup_point_no_order(clock, shopper, sku):
    with pytest.raises(CheckoutError) as info:
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=None)
    assert "请先选择自提点" in info.value.message


def test_order_numbers_sort_by_time():
    from orders.services.checkout import new_order_number

    first = new_order_number(datetime(2026, 11, 25, 7, 0, 0, 1000, tzinfo=NOON_ISH.tzinfo))
    second = new_order_number(datetime(2026, 11, 25, 7, 0, 0, 2000, tzinfo=NOON_ISH.tzinfo))
    assert first[:15] < second[:15]


def test_a_clashing_order_number_is_drawn_again(clock, shopper, point, sku, monkeypatch):
    from orders.services import checkout

    first = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    numbers = iter([first.number, "2611251500000009999"])
    monkeypatch.setattr(checkout, "new_order_number", lambda now=None: next(numbers))
    second = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert second.number == "2611251500000009999"
    assert Order.objects.count() == 2
    assert _stock(sku, point) == 48


def test_a_point_closed_on_the_delivery_weekday_takes_no_orders_for_that_day(
    clock, shopper, point, sku
):
    hours = dict(point.opening_hours)
    hours.pop(str(TOMORROW.weekday()), None)  # closed on Thursdays
    point.opening_hours = hours
    point.save(update_fields=["opening_hours"])
    with pytest.raises(CheckoutError) as info:
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert "自提点" in info.value.message and "11-26" in info.value.message
    assert Order.objects.count() == 0
    assert _stock(sku, point) == 50
