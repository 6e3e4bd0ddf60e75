# ruff: noqa: F811 - pytest fixtures imported from other test modules
"""Checkout behind the stock gate (catalog/gate.py) on real PostgreSQL and Redis.

Buyers start together on a threading.Barrier, each thread with its own
database connection. What is checked: never more than the gate's cap inside
the stock reservation at once, no oversell, every refusal clean (a
CheckoutBusy, nothing written), the ledger still explaining every stock row;
and the checkout page's answer to a full gate (429, Retry-After, Chinese).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from catalog.gate import gate_load, stock_gate
from catalog.models import StockLedger, StockRecord
from catalog.selectors import stock_ledger_mismatches
from catalog.services import OutOfStock
from orders.models import Order, OrderLine
from orders.services import checkout
from orders.services.checkout import CheckoutBusy, Want, place_order
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401 - fixtures
from tests.orders.conftest import eager_celery, point  # noqa: F401 - fixtures
from tests.orders.shopper_helpers import bind

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hot_sku(point):
    sku = SkuFactory(product__name="秒杀鸡蛋", spec="30枚/盒", price=Decimal("9.90"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=10)
    return sku


@pytest.fixture
def watched(monkeypatch):
    """How many orders are inside the stock reservation at once (the row lock)."""
    state = {"inside": 0, "peak": 0}
    lock = threading.Lock()
    real = checkout.reserve_stock

    def counting(**kwargs):
        with lock:
            state["inside"] += 1
            state["peak"] = max(state["peak"], state["inside"])
        try:
            return real(**kwargs)
        finally:
            with lock:
                state["inside"] -= 1

    monkeypatch.setattr(checkout, "reserve_stock", counting)
    return state


def _buyers(shopper, point, sku, n):
    barrier = threading.Barrier(n)

    def buy():
        try:
            barrier.wait(timeout=30)
            place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
            return "ok"
        except CheckoutBusy as exc:
            return f"busy:{exc.message}"
        except OutOfStock:
            return "sold out"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _i: buy(), range(n)))


def _nothing_half_written(sku, point) -> None:
    assert stock_ledger_mismatches() == []
    record = StockRecord.objects.get(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW)
    orders = Order.objects.count()
    assert record.quantity >= 0
    assert record.quantity + record.sold == 10
    assert record.sold == orders == OrderLine.objects.count()
    assert StockLedger.objects.filter(reason="reserve").count() == orders


def test_thirty_buyers_of_ten_units_behind_a_gate_of_two(
    clock, settings, shopper, point, hot_sku, watched
):
    settings.ORDER_GATE_PER_SKU = 2
    settings.ORDER_GATE_WAIT_MS = 20_000  # everyone waits for a turn: no refusal
    bind(shopper, point)
    results = _buyers(shopper, point, hot_sku, 30)
    assert results.count("ok") == 10
    assert results.count("sold out") == 20
    assert watched["peak"] <= 2
    assert watched["inside"] == 0
    _nothing_half_written(hot_sku, point)
    assert gate_load(warehouse_id=point.warehouse_id, sku_id=hot_sku.pk) == 0


def test_a_full_gate_refuses_cleanly_under_a_rush(
    clock, settings, shopper, point, hot_sku, watched
):
    settings.ORDER_GATE_PER_SKU = 1
    settings.ORDER_GATE_WAIT_MS = 0  # no waiting: whoever finds it full is refused
    bind(shopper, point)
    results = _buyers(shopper, point, hot_sku, 16)
    busy = [r for r in results if r.startswith("busy:")]
    assert set(busy) <= {"busy:人太多了，请稍后再试"}
    assert results.count("ok") + len(busy) + results.count("sold out") == 16
    assert results.count("ok") >= 1
    assert watched["peak"] == 1
    _nothing_half_written(hot_sku, point)
    assert gate_load(warehouse_id=point.warehouse_id, sku_id=hot_sku.pk) == 0


def test_the_checkout_page_answers_a_full_gate_with_429(
    clock, settings, client, shopper, point, hot_sku
):
    settings.ORDER_GATE_PER_SKU = 1
    settings.ORDER_GATE_WAIT_MS = 0
    bind(shopper, point)
    client.force_login(shopper)
    with stock_gate(warehouse_id=point.warehouse_id, sku_ids=[hot_sku.pk]):
        response = client.post(reverse("orders:checkout"), {"sku": hot_sku.code, "quantity": 2})
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    html = response.content.decode()
    assert "人太多了，请稍后再试" in html
    assert "没有下单，请等 1 秒后再试。" in html
    # "Try again" posts the same order again.
    assert f'name="sku" value="{hot_sku.code}"' in html
    assert 'name="quantity" value="2"' in html
    assert not Order.objects.exists()
    assert StockRecord.objects.get(sku=hot_sku).quantity == 10
    assert gate_load(warehouse_id=point.warehouse_id, sku_id=hot_sku.pk) == 0
    # The gate free again: the same POST places the order.
    again = client.post(reverse("orders:checkout"), {"sku": hot_sku.code, "quantity": 2})
    assert again.status_code == 302
    assert Order.objects.get().payable == Decimal("19.80")
