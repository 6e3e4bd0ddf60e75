# ruff: noqa: F811 - pytest fixtures imported from other test modules
"""The 秒杀 Redis gate under a crowd: 2,000 shoppers on a quota of 100, on real
Redis and PostgreSQL; a Redis that is down; the reconciliation."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import StockRecord
from marketing import gate
from marketing.models import FlashPurchase, FlashSaleItem, GateMode
from marketing.services import flash
from orders.models import Order, OrderLine
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TOMORROW
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401
from tests.marketing.flash_support import buy, buy_admitted, clean_gate, make_sale  # noqa: F401
from tests.orders.conftest import eager_celery, point  # noqa: F401
from tuangou.accounts.models import User

BUYERS = 2000
QUOTA = 100
THREADS = 32


@pytest.fixture
def hot_sku(point):
    sku = SkuFactory(product__name="车厘子", spec="500g/盒", price="39.90")
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=1000)
    return sku


def _crowd(n: int) -> list[User]:
    return User.objects.bulk_create(
        [User(username=f"crowd{i:05d}", phone=f"+86137{i:08d}", password="!") for i in range(n)],
        batch_size=1000,
    )


@pytest.mark.django_db(transaction=True)
def test_two_thousand_buyers_on_a_quota_of_100_make_exactly_100_orders(clock, hot_sku, point):
    item = make_sale(sku=hot_sku, quota=QUOTA)
    users = _crowd(BUYERS)
    # Every shopper presses once, and 500 of them press again (a double tap).
    attempts = [*users, *random.Random(7).sample(users, 500)]
    admitted: list[flash.Admission] = []
    refused: Counter = Counter()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def press(chunk):
        start.wait()
        for user in chunk:
            try:
                admission = flash.admit(user=user, item=item, quantity=1, at=NOON_ISH)
            except flash.FlashSaleRefused as exc:
                with lock:
                    refused[exc.code] += 1
            else:
                with lock:
                    admitted.append(admission)

    chunks = [attempts[i::THREADS] for i in range(THREADS)]
    with CaptureQueriesContext(connection) as ctx, ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(press, chunks))
    # The gate never touched PostgreSQL (the threads would have opened their own
    # connections; the main one saw nothing either).
    assert ctx.captured_queries == []

    fresh = [a for a in admitted if not a.reused]
    assert len(fresh) == QUOTA
    assert len({a.user_id for a in admitted}) == QUOTA  # no shopper twice
    assert sum(refused.values()) + len(admitted) == len(attempts)
    assert set(refused) <= {"sold_out", "already_bought"}
    assert gate.snapshot(item_id=item.pk).left == 0

    # The admitted write their orders (the checkout's transaction), in parallel.
    by_id = {u.pk: u for u in users}

    def order(admission):
        try:
            buy_admitted(user=by_id[admission.user_id], admission=admission, point=point)
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(order, fresh))

    assert Order.objects.count() == QUOTA
    assert OrderLine.objects.filter(unit_price="1.99").count() == QUOTA
    purchases = FlashPurchase.objects.filter(item=item)
    assert purchases.count() == QUOTA
    assert purchases.values("user_id").distinct().count() == QUOTA  # 0 double buys
    item.refresh_from_db()
    assert item.sold == QUOTA  # 0 oversell
    record = StockRecord.objects.get(sku=hot_sku)
    assert (record.quantity, record.sold) == (1000 - QUOTA, QUOTA)
    # Redis equals the database: buyers, nothing held, nothing left.
    snap = gate.snapshot(item_id=item.pk)
    assert snap.left == 0
    assert snap.held == {}
    assert {int(u): q for u, q in snap.buyers.items()} == dict(
        purchases.values_list("user_id", "quantity")
    )
    # And the reconciliation agrees: nothing to repair.
    assert not flash.reconcile_item(item=item, at=NOON_ISH).drifted


@pytest.mark.django_db
def test_a_refusal_from_the_gate_runs_no_sql(clock, hot_sku, shopper, other_shopper):
    item = make_sale(sku=hot_sku, quota=1)
    flash.admit(user=shopper, item=item, quantity=1, at=NOON_ISH)
    with CaptureQueriesContext(connection) as ctx:
        answer = flash.attempt(user_id=other_shopper.pk, item_id=item.pk, quantity=1, at=NOON_ISH)
        again = flash.attempt(user_id=shopper.pk, item_id=item.pk, quantity=1, at=NOON_ISH)
    assert answer.refusal.code == "sold_out"
    assert answer.refusal.message == "已抢光，本场秒杀已无库存"
    # The shopper who holds it is let through again (the checkout reads the item).
    assert again.admission is not None and again.admission.reused
    assert len(ctx.captured_queries) == 1  # only the holder's item read


@pytest.mark.django_db
def test_a_failed_order_gives_the_unit_back(clock, hot_sku, shopper, other_shopper, point):
    item = make_sale(sku=hot_sku, quota=1)
    admission = flash.admit(user=shopper, item=item, quantity=1, at=NOON_ISH)
    with pytest.raises(flash.FlashSaleRefused):
        flash.admit(user=other_shopper, item=item, quantity=1, at=NOON_ISH)
    assert flash.release(admission=admission) == 1
    assert flash.release(admission=admission) == 0  # idempotent
    assert gate.snapshot(item_id=item.pk).left == 1
    order = buy(user=other_shopper, item=item, point=point, at=NOON_ISH)
    assert order.lines.get().unit_price == item.price
    assert FlashPurchase.objects.get().user == other_shopper


@pytest.mark.django_db
def test_redis_down_falls_back_to_database_mode(clock, hot_sku, shopper, other_shopper, point,
                                                  settings):  # fmt: skip
    item = make_sale(sku=hot_sku, quota=1)
    settings.FLASH_GATE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    admission = flash.admit(user=shopper, item=item, quantity=1, at=NOON_ISH)
    assert admission.mode == GateMode.DATABASE
    order = buy(user=shopper, item=item, point=point, at=NOON_ISH)
    assert order.lines.get().unit_price == item.price
    with pytest.raises(flash.FlashSaleRefused) as refused:
        buy(user=other_shopper, item=item, point=point, at=NOON_ISH)
    assert refused.value.code == "sold_out"
    answer = flash.attempt(user_id=shopper.pk, item_id=item.pk, quantity=1, at=NOON_ISH)
    assert answer.refusal.code == "already_bought"
    assert Order.objects.count() == 1
    assert FlashSaleItem.objects.get().sold == 1
    assert flash.reconcile_flash_sales(at=NOON_ISH) == []  # skipped, not failed


@pytest.mark.django_db
def test_reconciliation_repairs_drift_and_gives_back_stale_holds(
    clock, hot_sku, shopper, other_shopper, point
):
    item = make_sale(sku=hot_sku, quota=5)
    buy(user=shopper, item=item, point=point, at=NOON_ISH)
    # other_shopper is admitted and walks away from the checkout.
    flash.admit(user=other_shopper, item=item, quantity=1, at=NOON_ISH)
    k = gate.keys(item.pk)
    conn = gate.client()
    conn.hdel(k["buyers"], str(shopper.pk))  # the gate forgot a buyer
    conn.hset(k["buyers"], "999999", 1)  # and knows one the database does not
    conn.set(k["left"], 4)
    assert gate.snapshot(item_id=item.pk).left == 4

    # Within the hold time the walker's unit is still theirs.
    result = flash.reconcile_item(item=item, at=NOON_ISH + timedelta(minutes=1))
    assert (result.left_before, result.left_after) == (4, 3)
    assert (result.buyers_added, result.entries_dropped) == (1, 1)
    snap = gate.snapshot(item_id=item.pk)
    assert set(snap.buyers) == {str(shopper.pk), str(other_shopper.pk)}
    assert list(snap.held) == [str(other_shopper.pk)]

    # After the hold time it goes back, and a second run changes nothing.
    later = NOON_ISH + timedelta(seconds=flash.hold_seconds() + 1)
    result = flash.reconcile_item(item=item, at=later)
    assert (result.left_after, result.entries_dropped) == (4, 1)
    assert not flash.reconcile_item(item=item, at=later).drifted
    assert gate.snapshot(item_id=item.pk).buyers == {str(shopper.pk): 1}
    # The shopper who was refused may buy now; the one who bought may not.
    assert flash.admit(user=other_shopper, item=item, quantity=1, at=NOON_ISH).quantity == 1
    with pytest.raises(flash.FlashSaleRefused):
        flash.admit(user=shopper, item=item, quantity=1, at=NOON_ISH)


@pytest.mark.django_db
def test_an_items_keys_expire_two_days_after_its_end(clock, hot_sku, shopper):
    item = make_sale(sku=hot_sku, quota=5)  # ends NOON_ISH + 1 h
    flash.admit(user=shopper, item=item, quantity=1, at=NOON_ISH)
    conn, k = gate.client(), gate.keys(item.pk)
    assert k["cfg"] == f"flash:{{{item.pk}}}:cfg"  # one Cluster slot per item
    expected = (timedelta(hours=1) + timedelta(days=2)).total_seconds() * 1000
    for key in k.values():
        assert expected - 60_000 < conn.pttl(key) <= expected
