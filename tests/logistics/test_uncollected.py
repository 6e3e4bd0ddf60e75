"""Uncollected goods: after the deadline each line's category decides: perishables
are refunded (once), shelf-stable goods go back to the warehouse's shelf."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from catalog.models import UncollectedAction
from logistics.models import InventoryItem, UncollectedDisposal
from logistics.schedules import BEAT_SCHEDULE
from logistics.services.uncollected import (
    dispose_uncollected,
    last_overdue_day,
    return_to_warehouse,
)
from logistics.tasks import dispose_uncollected_task
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, Refund, RefundReason
from orders.services.delivery import sign_for_delivery
from orders.services.pickup import hand_out, uncollected_deadline
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TOMORROW, at

from .conftest import delivery_morning, paid_order

DEADLINE = at(21, 0, day=TOMORROW + timedelta(days=2))  # 2 days after delivery, 21:00


@pytest.fixture
def rice_sku(point):
    """Shelf-stable: returned to the warehouse when nobody collects it."""
    sku = SkuFactory(product__name="东北大米", spec="5kg/袋", price=Decimal("39.90"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=30)
    category = sku.product.category
    category.uncollected_action = UncollectedAction.RETURN
    category.save(update_fields=["uncollected_action"])
    return sku


@pytest.fixture
def perishable(sku):
    """西红柿 ¥3.90: refunded and written off when nobody collects it."""
    category = sku.product.category
    category.uncollected_action = UncollectedAction.REFUND
    category.save(update_fields=["uncollected_action"])
    return sku


def ready(clock, leader_user, point, *orders):
    clock.move_to(delivery_morning())
    sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
    return [Order.objects.get(pk=o.pk) for o in orders]


def line_of(order, sku) -> OrderLine:
    return OrderLine.objects.get(order=order, sku=sku)


def on_hand(point, sku) -> int | None:
    return (
        InventoryItem.objects.filter(warehouse=point.warehouse, sku=sku)
        .values_list("on_hand", flat=True)
        .first()
    )


@pytest.mark.django_db
class TestDisposal:
    def test_the_deadline_is_the_orders_own(self, clock):
        assert uncollected_deadline(TOMORROW) == DEADLINE
        assert last_overdue_day(DEADLINE) == TOMORROW
        assert last_overdue_day(DEADLINE - timedelta(seconds=1)) == TOMORROW - timedelta(days=1)

    def test_nothing_happens_before_the_deadline(
        self, clock, shopper, leader_user, point, perishable, rice_sku
    ):
        order = paid_order(shopper, point, (perishable, 2), (rice_sku, 1))
        (order,) = ready(clock, leader_user, point, order)
        clock.move_to(DEADLINE - timedelta(minutes=1))

        result = dispose_uncollected()

        assert result.orders == []
        assert Order.objects.get(pk=order.pk).status == OrderStatus.READY_FOR_PICKUP
        assert not UncollectedDisposal.objects.exists()
        assert not Refund.objects.exists()
        assert not InventoryItem.objects.exists()

    def test_a_perishable_line_is_refunded_exactly_once(
        self, clock, shopper, leader_user, point, perishable
    ):
        order = paid_order(shopper, point, (perishable, 2))
        (order,) = ready(clock, leader_user, point, order)
        clock.move_to(DEADLINE)

        first = dispose_uncollected()
        second = dispose_uncollected()

        assert first.orders == [order.number] and first.refunded_units == 2
        assert second.orders == [] and second.refunded_units == 0
        refund = Refund.objects.get()
        assert refund.order_id == order.pk
        assert refund.amount == Decimal("7.80")
        assert refund.reason == RefundReason.OPERATOR
        assert refund.note == "uncollected by the deadline: perishable, written off"
        disposal = UncollectedDisposal.objects.get()
        assert (disposal.order_line_id, disposal.action, disposal.quantity, disposal.refund_id) == (
            line_of(order, perishable).pk,
            "refunded",
            2,
            refund.pk,
        )
        line = line_of(order, perishable)
        assert (line.refunded_quantity, line.refunded_amount) == (2, Decimal("7.80"))
        order.refresh_from_db()
        # Everything refunded and nothing handed out: the refund flow closes it.
        assert order.status == OrderStatus.REFUNDED
        assert order.refunded_amount == Decimal("7.80")
        assert not InventoryItem.objects.exists()  # written off, not back on a shelf

    def test_a_shelf_stable_line_goes_back_to_the_warehouse(
        self, clock, shopper, other_shopper, leader_user, point, rice_sku
    ):
        InventoryItem.objects.create(warehouse=point.warehouse, sku=rice_sku, on_hand=10)
        one = paid_order(shopper, point, (rice_sku, 3))
        two = paid_order(other_shopper, point, (rice_sku, 2))
        one, two = ready(clock, leader_user, point, one, two)
        clock.move_to(DEADLINE + timedelta(minutes=20))

        result = dispose_uncollected()
        dispose_uncollected()

        assert result.returned_units == 5 and result.refunded_units == 0
        assert on_hand(point, rice_sku) == 15  # 10 + 3 + 2, once
        assert not Refund.objects.exists()
        assert sorted(UncollectedDisposal.objects.values_list("action", "quantity")) == [
            ("returned", 2),
            ("returned", 3),
        ]
        for order in (one, two):
            order.refresh_from_db()
            assert order.status == OrderStatus.COMPLETED
            assert order.refunded_amount == Decimal("0.00")
            event = OrderEvent.objects.get(order=order, to_status=OrderStatus.COMPLETED)
            assert event.note == "uncollected by the deadline: returned to the warehouse"

    def test_a_return_creates_the_shelf_row_when_there_is_none(
        self, clock, shopper, leader_user, point, rice_sku
    ):
        order = paid_order(shopper, point, (rice_sku, 4))
        ready(clock, leader_user, point, order)
        clock.move_to(DEADLINE)
        dispose_uncollected()
        assert on_hand(point, rice_sku) == 4

    def test_partly_handed_out_lines_dispose_only_the_rest(
        self, clock, shopper, leader_user, point, perishable, rice_sku
    ):
        order = paid_order(shopper, point, (perishable, 3), (rice_sku, 4))
        (order,) = ready(clock, leader_user, point, order)
        hand_out(
            pickup_point=point,
            quantities={line_of(order, perishable).pk: 1, line_of(order, rice_sku).pk: 1},
            actor=leader_user,
        )
        clock.move_to(DEADLINE)

        result = dispose_uncollected()

        assert (result.refunded_units, result.returned_units) == (2, 3)
        refund = Refund.objects.get()
        assert refund.amount == Decimal("7.80")  # 2 × ¥3.90, not the handed-out one
        tomato, rice = line_of(order, perishable), line_of(order, rice_sku)
        assert (tomato.handed_out_quantity, tomato.refunded_quantity) == (1, 2)
        assert (rice.handed_out_quantity, rice.refunded_quantity) == (1, 0)
        assert on_hand(point, rice_sku) == 3
        assert dict(UncollectedDisposal.objects.values_list("order_line_id", "quantity")) == {
            tomato.pk: 2,
            rice.pk: 3,
        }
        order.refresh_from_db()
        assert order.status == OrderStatus.COMPLETED
        assert order.refunded_amount == Decimal("7.80")

    def test_a_fully_handed_out_line_is_left_alone(
        self, clock, shopper, leader_user, point, perishable, rice_sku
    ):
        order = paid_order(shopper, point, (perishable, 1), (rice_sku, 2))
        (order,) = ready(clock, leader_user, point, order)
        hand_out(
            pickup_point=point, quantities={line_of(order, perishable).pk: 1}, actor=leader_user
        )
        clock.move_to(DEADLINE)

        dispose_uncollected()

        assert not Refund.objects.exists()
        assert list(UncollectedDisposal.objects.values_list("order_line_id", "action")) == [
            (line_of(order, rice_sku).pk, "returned")
        ]
        assert on_hand(point, rice_sku) == 2
        assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED

    def test_orders_already_collected_or_refunded_are_not_touched(
        self, clock, shopper, leader_user, point, perishable
    ):
        order = paid_order(shopper, point, (perishable, 1))
        (order,) = ready(clock, leader_user, point, order)
        hand_out(
            pickup_point=point, quantities={line_of(order, perishable).pk: 1}, actor=leader_user
        )
        clock.move_to(DEADLINE + timedelta(days=3))
        assert dispose_uncollected().orders == []
        assert not UncollectedDisposal.objects.exists()

    def test_the_hourly_task_runs_the_sweep(
        self, clock, shopper, leader_user, point, perishable, rice_sku
    ):
        assert BEAT_SCHEDULE["logistics-dispose-uncollected"]["task"] == (
            "logistics.tasks.dispose_uncollected_task"
        )
        order = paid_order(shopper, point, (perishable, 1), (rice_sku, 2))
        ready(clock, leader_user, point, order)
        clock.move_to(DEADLINE)
        assert dispose_uncollected_task.delay().get() == {
            "orders": 1,
            "refunded_units": 1,
            "returned_units": 2,
            "failed": [],
            "leaders_told": 1,
        }
        assert dispose_uncollected_task.delay().get()["orders"] == 0


@pytest.mark.django_db
def test_return_to_warehouse_adds_in_sql(clock, point, rice_sku):
    return_to_warehouse(warehouse_id=point.warehouse_id, sku_id=rice_sku.pk, quantity=2)
    return_to_warehouse(warehouse_id=point.warehouse_id, sku_id=rice_sku.pk, quantity=5)
    assert on_hand(point, rice_sku) == 7
    with pytest.raises(ValueError):
        return_to_warehouse(warehouse_id=point.warehouse_id, sku_id=rice_sku.pk, quantity=0)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_dispose_of_each_line_once(
    shopper, other_shopper, leader_user, point, perishable, rice_sku
):
    with time_machine.travel(NOON_ISH, tick=False) as traveller:
        one = paid_order(shopper, point, (perishable, 2), (rice_sku, 1))
        two = paid_order(other_shopper, point, (perishable, 1), (rice_sku, 3))
        traveller.move_to(delivery_morning())
        sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        traveller.move_to(DEADLINE)
        barrier = threading.Barrier(2)
        results = []

        def sweep():
            barrier.wait()
            try:
                results.append(dispose_uncollected())
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(len(r.orders) for r in results) in ([0, 2], [1, 1])
    assert sum(r.refunded_units for r in results) == 3
    assert sum(r.returned_units for r in results) == 4
    assert all(r.failed == [] for r in results)
    assert Refund.objects.count() == 2  # one per order
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [
        Decimal("3.90"),
        Decimal("7.80"),
    ]
    assert UncollectedDisposal.objects.count() == 4  # one per line
    assert on_hand(point, rice_sku) == 4
    for order in (one, two):
        assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
        assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.COMPLETED).count() == 1
