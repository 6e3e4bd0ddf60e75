"""`make bench`: throughput of place_order on one hot SKU, the platform's ceiling.

Not a test of speed (nothing here fails on a slow machine): it prints orders
per second and latency percentiles for 1, 4 and 16 concurrent buyers, each
on its own connection, all buying the same SKU, as a flash sale would.
Compare the numbers before and after a change to the checkout path.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from catalog.models import Category, Product, Sku, StockRecord, Warehouse
from leaders.models import Community, Leader, PickupPoint
from orders.services.checkout import Want, place_order
from tests.clock import NOON_ISH, SHANGHAI, TOMORROW
from tuangou.accounts.models import User
from tuangou.celery import app

ORDERS_PER_RUN = 400
# Open every day: whatever weekday TOMORROW is, the point takes the orders.
EVERY_DAY = {str(weekday): ["08:00", "21:00"] for weekday in range(7)}


@pytest.fixture
def shop(transactional_db):
    app.conf.task_always_eager = False  # the expiry timer is a broker publish
    warehouse = Warehouse.objects.create(name="bench", city="长沙", address="x", is_default=True)
    category = Category.objects.create(name="蔬菜", slug="veg")
    product = Product.objects.create(name="西红柿", category=category, is_on_shelf=True)
    sku = Sku.objects.create(product=product, spec="500g", price=Decimal("3.90"))
    StockRecord.objects.create(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=10**7)
    user = User.objects.create(username="leader", phone="+8613700000000")
    community = Community.objects.create(
        name="幸福里", city="长沙", district="岳麓区", warehouse=warehouse
    )
    leader = Leader.objects.create(
        user=user,
        real_name="王",
        phone=user.phone,
        kind="store",
        status="active",
        share_code="bench",
        joined_at=datetime(2026, 1, 1, tzinfo=SHANGHAI),
    )
    point = PickupPoint.objects.create(
        leader=leader,
        community=community,
        warehouse=warehouse,
        name="点",
        address="x",
        opening_hours=EVERY_DAY,
        status="active",
    )
    buyers = [User.objects.create(username=f"b{n}", phone=f"+86138{n:08d}") for n in range(16)]
    return sku, point, buyers


def _run(sku, point, buyers, workers: int) -> tuple[float, list[float]]:
    per_worker = ORDERS_PER_RUN // workers
    barrier = threading.Barrier(workers)
    latencies: list[float] = []
    lock = threading.Lock()

    def buyer(n: int) -> None:
        from leaders.models import PickupPoint as PP

        local_point = PP.objects.select_related("leader", "warehouse").get(pk=point.pk)
        mine = []
        barrier.wait()
        for _ in range(per_worker):
            started = time.perf_counter()
            place_order(user=buyers[n], wants=[Want(sku.pk, 1)], pickup_point=local_point)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(buyer, range(workers)))
    return time.perf_counter() - started, latencies


def test_place_order_throughput_on_one_hot_sku(shop, capsys):
    sku, point, buyers = shop
    lines = []
    # The suite's clock (tests/clock.py), running: orders placed at NOON_ISH
    # are for TOMORROW, whatever the real date.
    with time_machine.travel(NOON_ISH, tick=True):
        for workers in (1, 4, 16):
            elapsed, latencies = _run(sku, point, buyers, workers)
            q = statistics.quantiles(latencies, n=100)
            lines.append(
                f"place_order, {workers:>2} buyers: {len(latencies) / elapsed:7.0f} orders/s, "
                f"p50 {q[49] * 1000:5.1f} ms, p95 {q[94] * 1000:5.1f} ms"
            )
    sold = StockRecord.objects.get(sku=sku).sold
    with capsys.disabled():
        print("\n" + "\n".join(lines) + f"\n(stock sold: {sold})")
    assert sold == sum(ORDERS_PER_RUN // w * w for w in (1, 4, 16))
