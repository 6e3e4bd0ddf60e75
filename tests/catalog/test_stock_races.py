"""Stock under real concurrency on PostgreSQL: threads started together.

PostgreSQL allows 100 connections and a second xdist worker runs beside us, so
buyers go through a bounded pool: WORKERS threads, each task waits on a
barrier of WORKERS, so every wave of WORKERS reservations starts at the same
instant, and the waves follow each other until all buyers have tried. Each task
closes its own database connection when it ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from catalog import services
from catalog.models import StockRecord
from catalog.selectors import stock_ledger_mismatches
from tests.catalog.factories import SkuFactory, WarehouseFactory, set_stock
from tests.clock import TOMORROW

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 25


def run_together(tasks, workers=WORKERS):
    """Run callables in waves of `workers` that start together; return their results."""
    assert len(tasks) % workers == 0, "every wave must fill the barrier"
    barrier = threading.Barrier(workers)

    def run(task):
        try:
            barrier.wait(timeout=30)
            return task()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, tasks))


def buy(sku_lines, warehouse, day, reference):
    def attempt():
        try:
            services.reserve_stock(
                lines=sku_lines, warehouse=warehouse, delivery_date=day, reference=reference
            )
        except services.OutOfStock as exc:
            return exc.message
        return "ok"

    return attempt


@pytest.fixture
def day(clock):
    """The delivery day everyone buys for: tomorrow on the suite's clock."""
    return TOMORROW


@pytest.fixture
def warehouse_tx():
    return WarehouseFactory(is_default=True)


def test_200_buyers_on_a_quota_of_50_exactly_50_succeed(warehouse_tx, day):
    sku = SkuFactory(product__name="爆款土鸡蛋", spec="30枚/盒", per_order_limit=None)
    set_stock(sku=sku, warehouse=warehouse_tx, delivery_date=day, quantity=50)
    tasks = [buy([(sku.pk, 1)], warehouse_tx, day, f"T{n:04d}") for n in range(200)]
    outcomes = Counter(run_together(tasks))
    assert outcomes == {"ok": 50, "爆款土鸡蛋 30枚/盒 已售罄": 150}
    record = StockRecord.objects.get(sku=sku)
    assert (record.quantity, record.sold) == (0, 50)
    assert stock_ledger_mismatches() == []


def test_two_lines_on_one_sku_above_the_quota_reserve_nothing(warehouse_tx, day):
    sku = SkuFactory(product__name="西红柿", spec="500g/份", per_order_limit=None)
    set_stock(sku=sku, warehouse=warehouse_tx, delivery_date=day, quantity=10)
    # Each order alone fits line by line (3 <= 10 twice) but wants 6 in all:
    # only one order can have it, and a half-reserved order never happens.
    tasks = [buy([(sku.pk, 3), (sku.pk, 3)], warehouse_tx, day, f"T{n:04d}") for n in range(25)]
    outcomes = Counter(run_together(tasks))
    assert outcomes["ok"] == 1
    record = StockRecord.objects.get(sku=sku)
    assert (record.quantity, record.sold) == (4, 6)
    with pytest.raises(services.OutOfStock):
        services.reserve_stock(
            lines=[(sku.pk, 3), (sku.pk, 2)],
            warehouse=warehouse_tx,
            delivery_date=day,
            reference="X",
        )
    record.refresh_from_db()
    assert (record.quantity, record.sold) == (4, 6)
    assert stock_ledger_mismatches() == []


def test_orders_sharing_skus_in_opposite_orders_never_deadlock(warehouse_tx, day):
    milk = SkuFactory(product__name="鲜牛奶", per_order_limit=None)
    bread = SkuFactory(product__name="全麦吐司", per_order_limit=None)
    for sku in (milk, bread):
        set_stock(sku=sku, warehouse=warehouse_tx, delivery_date=day, quantity=30)
    tasks = [
        buy(
            [(milk.pk, 1), (bread.pk, 1)] if n % 2 else [(bread.pk, 1), (milk.pk, 1)],
            warehouse_tx,
            day,
            f"T{n:04d}",
        )
        for n in range(50)
    ]
    outcomes = Counter(run_together(tasks))
    assert outcomes["ok"] == 30
    assert sum(outcomes.values()) == 50
    for sku in (milk, bread):
        record = StockRecord.objects.get(sku=sku)
        assert (record.quantity, record.sold) == (0, 30)
    assert stock_ledger_mismatches() == []


def test_an_operator_lowering_the_quota_during_orders_never_goes_negative(
    warehouse_tx, day, operator
):
    sku = SkuFactory(product__name="砂糖橘", per_order_limit=None)
    set_stock(sku=sku, warehouse=warehouse_tx, delivery_date=day, quantity=100)
    steps = [80, 60, 40, 20, 10, 5]

    def lower():
        for quantity in steps:
            services.set_stock_quantity(
                sku=sku,
                warehouse=warehouse_tx,
                delivery_date=day,
                quantity=quantity,
                note="产地减产",
                actor=operator,
            )
        return "operator"

    buyers = [buy([(sku.pk, 2)], warehouse_tx, day, f"T{n:04d}") for n in range(49)]
    outcomes = Counter(run_together([lower, *buyers]))
    record = StockRecord.objects.get(sku=sku)
    assert 0 <= record.quantity <= 5
    assert record.sold == 2 * outcomes["ok"]
    assert outcomes["operator"] == 1
    assert stock_ledger_mismatches() == []


def test_the_database_itself_refuses_negative_stock(warehouse_tx, day):
    sku = SkuFactory()
    set_stock(sku=sku, warehouse=warehouse_tx, delivery_date=day, quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockRecord.objects.filter(sku=sku).update(quantity=F("quantity") - 2)
    assert StockRecord.objects.get(sku=sku).quantity == 1


def test_a_release_racing_with_itself_gives_back_once(warehouse_tx, day):
    sku = SkuFactory(per_order_limit=None)
    set_stock(sku=sku, warehouse=warehouse_tx, delivery_date=day, quantity=10)
    services.reserve_stock(
        lines=[(sku.pk, 4)], warehouse=warehouse_tx, delivery_date=day, reference="T1"
    )

    def release():
        return services.release_stock(reference="T1")

    results = run_together([release] * WORKERS)
    assert sorted(len(r) for r in results) == [0] * (WORKERS - 1) + [1]
    record = StockRecord.objects.get(sku=sku)
    assert (record.quantity, record.sold) == (10, 0)
    assert stock_ledger_mismatches() == []
