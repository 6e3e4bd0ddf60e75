"""The unpaid-order sweeper replaces the per-order ETA task (issue #11).

Placing an order publishes nothing to the broker (ORDER_EXPIRY_ETA_TASKS is
off); the sweeper walks the due orders in batches, skips the rows another
transaction holds right now, and cancels each through cancel_unpaid_order.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction

from catalog.models import StockRecord
from orders.models import Order, OrderStatus
from orders.services.checkout import Want, place_order
from orders.services.payments import expire_unpaid_orders
from tests.catalog.conftest import TOMORROW


def _stock(sku, point) -> int:
    return StockRecord.objects.get(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).quantity


@pytest.mark.django_db
def test_placing_an_order_schedules_no_eta_task_by_default(
    clock, shopper, point, sku, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert callbacks == []


@pytest.mark.django_db
def test_with_eta_tasks_on_placing_an_order_schedules_its_expiry(
    clock, settings, shopper, point, sku, django_capture_on_commit_callbacks
):
    settings.ORDER_EXPIRY_ETA_TASKS = True
    with django_capture_on_commit_callbacks() as callbacks:
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_the_sweeper_cancels_every_due_order_in_batches_and_leaves_the_others(
    clock, shopper, point, sku
):
    due = [place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point) for _ in range(5)]
    clock.shift(timedelta(minutes=10))
    fresh = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    clock.shift(timedelta(minutes=6))  # the first five are past their 15 minutes
    assert _stock(sku, point) == 50 - 6

    assert expire_unpaid_orders(batch=2) == 5
    assert expire_unpaid_orders(batch=2) == 0  # idempotent

    statuses = dict(Order.objects.values_list("pk", "status"))
    assert [statuses[o.pk] for o in due] == [OrderStatus.CANCELLED] * 5
    assert statuses[fresh.pk] == OrderStatus.PENDING_PAYMENT
    assert _stock(sku, point) == 50 - 1


@pytest.mark.django_db
def test_the_sweeper_stops_at_its_limit(clock, shopper, point, sku):
    for _ in range(3):
        place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    clock.shift(timedelta(minutes=16))
    assert expire_unpaid_orders(limit=2, batch=1) == 2
    assert Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count() == 1
    assert expire_unpaid_orders() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_skips_an_order_another_transaction_holds(clock, shopper, point, sku):
    held = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    free = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    clock.shift(timedelta(minutes=16))
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(10)
    try:
        assert expire_unpaid_orders() == 1  # did not wait for the held row
    finally:
        release.set()
        holder.join(10)
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        held.pk: OrderStatus.PENDING_PAYMENT,
        free.pk: OrderStatus.CANCELLED,
    }
    assert expire_unpaid_orders() == 1  # the next run takes it
    assert Order.objects.get(pk=held.pk).status == OrderStatus.CANCELLED
