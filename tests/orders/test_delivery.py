"""Delivery: the day's orders leave (dispatch), and the leader signs for them at
the point with a shortage report (签收) that refunds the affected lines."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from orders.models import (
    DeliverySignoff,
    Notice,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PickupCode,
    Refund,
    RefundReason,
    ShortageLine,
)
from orders.schedules import BEAT_SCHEDULE
from orders.services import pickup as pickup_services
from orders.services.delivery import (
    dispatch_orders,
    dispatch_selected_orders,
    sign_for_delivery,
)
from orders.services.pickup import PickupError
from orders.tasks import dispatch_orders_task
from tests.catalog.factories import WarehouseFactory

from .conftest import NOON_ISH, TOMORROW
from .pickup_support import delivery_morning, paid_order


def _status(order) -> str:
    return Order.objects.get(pk=order.pk).status


@pytest.mark.django_db
class TestDispatch:
    def test_the_days_confirmed_orders_go_in_delivery_and_shoppers_are_told(
        self, clock, shopper, other_shopper, point, sku
    ):
        first = paid_order(shopper, point, (sku, 2))
        second = paid_order(other_shopper, point, (sku, 1))
        moved = dispatch_orders(delivery_date=TOMORROW)
        assert sorted(o.pk for o in moved) == [first.pk, second.pk]
        assert _status(first) == OrderStatus.IN_DELIVERY
        assert Notice.objects.filter(kind="in_delivery").count() == 2
        assert (
            OrderEvent.objects.filter(
                order=first, from_status=OrderStatus.CONFIRMED, to_status=OrderStatus.IN_DELIVERY
            ).count()
            == 1
        )

    def test_a_second_run_moves_nothing_and_tells_nobody_again(self, clock, shopper, point, sku):
        paid_order(shopper, point, (sku, 2))
        dispatch_orders(delivery_date=TOMORROW)
        assert dispatch_orders(delivery_date=TOMORROW) == []
        assert Notice.objects.filter(kind="in_delivery").count() == 1
        assert OrderEvent.objects.filter(to_status=OrderStatus.IN_DELIVERY).count() == 1

    def test_unpaid_orders_and_other_days_stay_where_they_are(self, clock, shopper, point, sku):
        from orders.services.checkout import Want, place_order

        unpaid = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
        paid = paid_order(shopper, point, (sku, 1))
        assert dispatch_orders(delivery_date=TOMORROW + timedelta(days=1)) == []
        assert _status(paid) == OrderStatus.CONFIRMED
        dispatch_orders(delivery_date=TOMORROW)
        assert _status(unpaid) == OrderStatus.PENDING_PAYMENT

    def test_a_warehouse_filter_leaves_other_warehouses_orders(self, clock, shopper, point, sku):
        order = paid_order(shopper, point, (sku, 1))
        assert dispatch_orders(delivery_date=TOMORROW, warehouse=WarehouseFactory()) == []
        assert _status(order) == OrderStatus.CONFIRMED
        assert len(dispatch_orders(delivery_date=TOMORROW, warehouse=point.warehouse)) == 1

    def test_dispatching_selected_orders_skips_those_not_confirmed(
        self, clock, shopper, point, sku
    ):
        from orders.services.checkout import Want, place_order

        unpaid = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
        paid = paid_order(shopper, point, (sku, 1))
        moved = dispatch_selected_orders(orders=[unpaid, paid])
        assert [o.pk for o in moved] == [paid.pk]
        assert _status(unpaid) == OrderStatus.PENDING_PAYMENT

    def test_the_daily_task_dispatches_todays_deliveries(self, clock, shopper, point, sku):
        order = paid_order(shopper, point, (sku, 1))
        assert dispatch_orders_task() == 0  # today is the 25th: nothing due
        clock.move_to(delivery_morning(6))
        assert dispatch_orders_task() == 1
        assert _status(order) == OrderStatus.IN_DELIVERY
        assert dispatch_orders_task() == 0

    def test_the_six_oclock_dispatch_is_scheduled_by_logistics(self):
        # Orders must not know routes: logistics moves the orders of points on
        # no route at 06:00, and routed ones leave with their van.
        from django.conf import settings

        assert "orders-dispatch-today" not in BEAT_SCHEDULE
        entry = settings.CELERY_BEAT_SCHEDULE["logistics-dispatch-unrouted"]
        assert entry["task"] == "logistics.tasks.dispatch_unrouted_orders_task"
        assert entry["schedule"].hour == {6}
        assert entry["schedule"].minute == {0}


@pytest.mark.django_db
class TestSignoff:
    def test_signing_makes_the_days_orders_ready_with_one_code_per_shopper(
        self, clock, shopper, other_shopper, leader_user, point, sku, egg_sku
    ):
        first = paid_order(shopper, point, (sku, 2))
        second = paid_order(shopper, point, (egg_sku, 1))
        third = paid_order(other_shopper, point, (sku, 1))
        dispatch_orders(delivery_date=TOMORROW)
        clock.move_to(delivery_morning())
        result = sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        assert sorted(o.pk for o in result.ready) == [first.pk, second.pk, third.pk]
        assert {_status(o) for o in (first, second, third)} == {OrderStatus.READY_FOR_PICKUP}
        codes = PickupCode.objects.filter(pickup_point=point, delivery_date=TOMORROW)
        assert codes.count() == 2
        mine = codes.get(user=shopper).code
        assert len(mine) == 6 and mine.isdigit()
        assert mine != codes.get(user=other_shopper).code
        ready = Notice.objects.filter(kind="ready", user=shopper).order_by("order_id")
        assert [n.order_id for n in ready] == [first.pk, second.pk]
        assert ready[0].params == {"number": first.number, "point": "幸福里便利店", "code": mine}
        signoff = DeliverySignoff.objects.get()
        assert (signoff.pickup_point_id, signoff.signed_by_id) == (point.pk, leader_user.pk)
        assert Order.objects.get(pk=first.pk).ready_at == delivery_morning()

    def test_a_second_signoff_is_refused_and_changes_nothing(
        self, clock, shopper, leader_user, point, sku
    ):
        paid_order(shopper, point, (sku, 2))
        clock.move_to(delivery_morning())
        sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        with pytest.raises(PickupError) as refused:
            sign_for_delivery(
                pickup_point=point, delivery_date=TOMORROW, actor=leader_user, shortages={sku.pk: 1}
            )
        assert refused.value.message == ("这批货已由 幸福里团长小王 于 11-26 08:00 签收。")
        assert DeliverySignoff.objects.count() == 1
        assert not Refund.objects.exists()
        assert PickupCode.objects.count() == 1

    def test_a_delivery_cannot_be_signed_before_its_day(
        self, clock, shopper, leader_user, point, sku
    ):
        order = paid_order(shopper, point, (sku, 2))
        with pytest.raises(PickupError):
            sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        assert not DeliverySignoff.objects.exists()
        assert _status(order) == OrderStatus.CONFIRMED

    def test_a_day_without_orders_has_nothing_to_sign(self, clock, leader_user, point):
        clock.move_to(delivery_morning())
        with pytest.raises(PickupError) as refused:
            sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        assert refused.value.message == "当天没有订单，无需签收。"
        assert not DeliverySignoff.objects.exists()

    def test_orders_never_dispatched_pass_through_in_delivery(
        self, clock, shopper, leader_user, point, sku
    ):
        order = paid_order(shopper, point, (sku, 2))
        clock.move_to(delivery_morning())
        sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        moves = list(
            OrderEvent.objects.filter(order=order)
            .exclude(from_status=OrderStatus.PENDING_PAYMENT)
            .values_list("from_status", "to_status")
        )
        assert moves == [
            (OrderStatus.PAID, OrderStatus.CONFIRMED),
            (OrderStatus.CONFIRMED, OrderStatus.IN_DELIVERY),
            (OrderStatus.IN_DELIVERY, OrderStatus.READY_FOR_PICKUP),
        ]

    def test_another_points_orders_are_not_signed(
        self, clock, shopper, other_shopper, leader_user, point, other_pickup_point, sku
    ):
        mine = paid_order(shopper, point, (sku, 1))
        theirs = paid_order(other_shopper, other_pickup_point, (sku, 1))
        clock.move_to(delivery_morning())
        sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        assert _status(mine) == OrderStatus.READY_FOR_PICKUP
        assert _status(theirs) == OrderStatus.CONFIRMED


@pytest.mark.django_db
class TestShortage:
    def test_missing_units_are_refunded_from_the_latest_orders_first(
        self,
        clock,
        make_user,
        leader_user,
        point,
        sku,
        egg_sku,
        django_capture_on_commit_callbacks,
    ):
        early = paid_order(make_user("s1", "+8613800000101"), point, (sku, 2))
        clock.shift(timedelta(minutes=5))
        middle = paid_order(make_user("s2", "+8613800000102"), point, (sku, 2), (egg_sku, 1))
        clock.shift(timedelta(minutes=5))
        late = paid_order(make_user("s3", "+8613800000103"), point, (sku, 2))
        clock.move_to(delivery_morning())
        with django_capture_on_commit_callbacks(execute=True):
            result = sign_for_delivery(
                pickup_point=point, delivery_date=TOMORROW, actor=leader_user, shortages={sku.pk: 3}
            )
        # The latest order loses both units (and is closed as refunded), the
        # middle one a single unit; the earliest keeps everything.
        assert _status(late) == OrderStatus.REFUNDED
        assert _status(middle) == OrderStatus.READY_FOR_PICKUP
        assert _status(early) == OrderStatus.READY_FOR_PICKUP
        refunds = {r.order_id: r for r in Refund.objects.all()}
        assert set(refunds) == {late.pk, middle.pk}
        assert refunds[late.pk].amount == Decimal("7.80")
        assert refunds[middle.pk].amount == Decimal("3.90")
        assert {r.reason for r in refunds.values()} == {RefundReason.SHORTAGE}
        middle_line = OrderLine.objects.get(order=middle, sku=sku)
        assert (middle_line.refunded_quantity, middle_line.outstanding_quantity) == (1, 1)
        assert result.refunded_total == Decimal("11.70")
        assert [o.pk for o in result.ready] == [early.pk, middle.pk]
        shortage = Notice.objects.get(kind="shortage", order=middle)
        assert shortage.params["product"] == "西红柿 500g/份"
        assert shortage.params["amount"] == "3.90"
        assert list(ShortageLine.objects.values_list("sku_id", "quantity")) == [(sku.pk, 3)]
        # The refunded shopper has nothing to collect and gets no code.
        assert not PickupCode.objects.filter(user=late.user).exists()

    def test_reporting_more_missing_than_ordered_changes_nothing(
        self, clock, shopper, leader_user, point, sku
    ):
        order = paid_order(shopper, point, (sku, 2))
        clock.move_to(delivery_morning())
        with pytest.raises(PickupError) as refused:
            sign_for_delivery(
                pickup_point=point, delivery_date=TOMORROW, actor=leader_user, shortages={sku.pk: 3}
            )
        assert refused.value.message == "这批配送中 西红柿 500g/份 只订了 2 件。"
        assert not DeliverySignoff.objects.exists()
        assert not Refund.objects.exists()
        assert not ShortageLine.objects.exists()
        assert _status(order) == OrderStatus.CONFIRMED

    def test_a_product_not_in_the_delivery_cannot_be_reported_missing(
        self, clock, shopper, leader_user, point, sku, egg_sku
    ):
        paid_order(shopper, point, (sku, 2))
        clock.move_to(delivery_morning())
        with pytest.raises(PickupError):
            sign_for_delivery(
                pickup_point=point,
                delivery_date=TOMORROW,
                actor=leader_user,
                shortages={egg_sku.pk: 1},
            )
        assert not DeliverySignoff.objects.exists()

    def test_a_negative_shortage_is_refused(self, clock, shopper, leader_user, point, sku):
        paid_order(shopper, point, (sku, 2))
        clock.move_to(delivery_morning())
        with pytest.raises(PickupError):
            sign_for_delivery(
                pickup_point=point,
                delivery_date=TOMORROW,
                actor=leader_user,
                shortages={sku.pk: -1},
            )
        assert not DeliverySignoff.objects.exists()


@pytest.mark.django_db
def test_a_code_taken_at_the_point_is_drawn_again(
    clock, shopper, other_shopper, leader_user, point, sku, monkeypatch
):
    draws = iter(["123456", "123456", "654321"])
    monkeypatch.setattr(pickup_services, "new_pickup_code", lambda: next(draws))
    paid_order(shopper, point, (sku, 1))
    paid_order(other_shopper, point, (sku, 1))
    clock.move_to(delivery_morning())
    sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
    codes = dict(PickupCode.objects.values_list("user__username", "code"))
    assert codes == {"alice": "123456", "bob": "654321"}


@pytest.mark.django_db
def test_asking_for_a_shoppers_code_twice_gives_the_same_code(clock, shopper, point):
    first = pickup_services.pickup_code_for(
        user_id=shopper.pk, pickup_point_id=point.pk, delivery_date=TOMORROW
    )
    again = pickup_services.pickup_code_for(
        user_id=shopper.pk, pickup_point_id=point.pk, delivery_date=TOMORROW
    )
    assert first.pk == again.pk


@pytest.mark.django_db(transaction=True)
def test_two_phones_signing_at_once_make_one_signoff(shopper, leader_user, point, sku):
    with time_machine.travel(NOON_ISH, tick=True) as traveller:
        order = paid_order(shopper, point, (sku, 2))
        traveller.move_to(delivery_morning())
        barrier = threading.Barrier(6)
        outcomes: list[str] = []

        def sign():
            barrier.wait()
            try:
                sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
                outcomes.append("signed")
            except PickupError:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=sign) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["signed"]
    assert DeliverySignoff.objects.count() == 1
    assert PickupCode.objects.count() == 1
    assert (
        OrderEvent.objects.filter(order=order, to_status=OrderStatus.READY_FOR_PICKUP).count() == 1
    )
    assert Notice.objects.filter(kind="ready").count() == 1
