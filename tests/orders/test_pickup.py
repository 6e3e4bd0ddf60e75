"""Pickup: the leader hands out lines (all or some), undoes mistakes, never hands
out more than is outstanding; complete orders complete; uncollected ones are flagged."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from orders.models import Handout, Notice, Order, OrderEvent, OrderLine, OrderStatus
from orders.schedules import BEAT_SCHEDULE
from orders.services.delivery import sign_for_delivery
from orders.services.pickup import (
    PickupError,
    flag_uncollected_orders,
    hand_out,
    hand_out_everything,
    uncollected_deadline,
    undo_handout,
)
from orders.services.refunds import refund_lines
from orders.tasks import flag_uncollected_orders_task
from tuangou.timeutils import SHANGHAI

from .conftest import NOON_ISH, TOMORROW
from .pickup_support import delivery_morning, paid_order


def _ready(clock, leader_user, point, *orders_args):
    orders = [paid_order(*args) for args in orders_args]
    clock.move_to(delivery_morning())
    sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
    return [Order.objects.get(pk=o.pk) for o in orders]


def _line(order, sku) -> OrderLine:
    return OrderLine.objects.get(order=order, sku=sku)


@pytest.mark.django_db
class TestHandOut:
    def test_handing_out_every_line_completes_the_order(
        self, clock, shopper, leader_user, point, sku, egg_sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 2), (egg_sku, 1)))
        result = hand_out(
            pickup_point=point,
            quantities={_line(order, sku).pk: 2, _line(order, egg_sku).pk: 1},
            actor=leader_user,
        )
        assert result.units == 3
        assert [o.pk for o in result.completed] == [order.pk]
        order.refresh_from_db()
        assert order.status == OrderStatus.COMPLETED
        assert order.completed_at == delivery_morning()
        assert _line(order, sku).handed_out_quantity == 2
        trail = list(Handout.objects.values_list("order_line__sku_id", "quantity", "actor_id"))
        assert trail == [(sku.pk, 2, leader_user.pk), (egg_sku.pk, 1, leader_user.pk)]
        assert Notice.objects.filter(kind="completed", order=order).count() == 1

    def test_some_lines_leave_the_order_waiting_for_the_rest(
        self, clock, shopper, leader_user, point, sku, egg_sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 2), (egg_sku, 1)))
        result = hand_out(
            pickup_point=point, quantities={_line(order, sku).pk: 1}, actor=leader_user
        )
        assert result.completed == []
        assert Order.objects.get(pk=order.pk).status == OrderStatus.READY_FOR_PICKUP
        hand_out(
            pickup_point=point,
            quantities={_line(order, sku).pk: 1, _line(order, egg_sku).pk: 1},
            actor=leader_user,
        )
        assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
        assert list(Handout.objects.values_list("quantity", flat=True)) == [1, 1, 1]

    def test_everything_for_a_shopper_in_one_tap(
        self, clock, shopper, leader_user, point, sku, egg_sku
    ):
        first, second = _ready(
            clock,
            leader_user,
            point,
            (shopper, point, (sku, 2)),
            (shopper, point, (egg_sku, 3)),
        )
        result = hand_out_everything(pickup_point=point, orders=[first, second], actor=leader_user)
        assert result.units == 5
        assert sorted(o.pk for o in result.completed) == [first.pk, second.pk]
        with pytest.raises(PickupError) as again:
            hand_out_everything(pickup_point=point, orders=[first, second], actor=leader_user)
        assert again.value.message == "已经全部核销了。"
        assert Handout.objects.count() == 2

    def test_more_than_outstanding_is_refused_and_nothing_is_written(
        self, clock, shopper, leader_user, point, sku, egg_sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 2), (egg_sku, 1)))
        with pytest.raises(PickupError) as refused:
            hand_out(
                pickup_point=point,
                quantities={_line(order, egg_sku).pk: 1, _line(order, sku).pk: 3},
                actor=leader_user,
            )
        assert refused.value.message == "西红柿 只剩 2 件待核销。"
        assert _line(order, egg_sku).handed_out_quantity == 0
        assert not Handout.objects.exists()

    def test_a_refunded_unit_cannot_be_handed_out_and_the_rest_completes(
        self, clock, shopper, leader_user, point, sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 3)))
        line = _line(order, sku)
        refund_lines(order=order, quantities={line.pk: 1}, reason="operator")
        with pytest.raises(PickupError):
            hand_out(pickup_point=point, quantities={line.pk: 3}, actor=leader_user)
        hand_out(pickup_point=point, quantities={line.pk: 2}, actor=leader_user)
        assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED

    def test_a_line_at_another_point_is_not_found(
        self,
        clock,
        shopper,
        other_shopper,
        leader_user,
        other_leader_user,
        point,
        other_pickup_point,
        sku,
    ):
        theirs = paid_order(other_shopper, other_pickup_point, (sku, 1))
        _ready(clock, leader_user, point, (shopper, point, (sku, 1)))
        sign_for_delivery(
            pickup_point=other_pickup_point, delivery_date=TOMORROW, actor=other_leader_user
        )
        with pytest.raises(PickupError) as refused:
            hand_out(pickup_point=point, quantities={_line(theirs, sku).pk: 1}, actor=leader_user)
        assert refused.value.message == "这件商品不在本自提点待取。"
        assert _line(theirs, sku).handed_out_quantity == 0

    def test_an_order_not_yet_signed_for_cannot_be_handed_out(
        self, clock, shopper, leader_user, point, sku
    ):
        order = paid_order(shopper, point, (sku, 1))
        with pytest.raises(PickupError):
            hand_out(pickup_point=point, quantities={_line(order, sku).pk: 1}, actor=leader_user)
        assert not Handout.objects.exists()

    def test_zero_or_negative_quantities_are_refused(self, clock, shopper, leader_user, point, sku):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 2)))
        for quantities in ({}, {_line(order, sku).pk: -1}):
            with pytest.raises(PickupError):
                hand_out(pickup_point=point, quantities=quantities, actor=leader_user)
        assert _line(order, sku).handed_out_quantity == 0


@pytest.mark.django_db
class TestUndo:
    def test_undo_takes_back_units_with_a_negative_row(
        self, clock, shopper, leader_user, point, sku, egg_sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 2), (egg_sku, 1)))
        line = _line(order, sku)
        hand_out(pickup_point=point, quantities={line.pk: 2}, actor=leader_user)
        undone = undo_handout(
            pickup_point=point, order_line_id=line.pk, quantity=2, actor=leader_user
        )
        assert undone.quantity == -2
        assert _line(order, sku).outstanding_quantity == 2
        assert list(Handout.objects.values_list("quantity", flat=True)) == [2, -2]

    def test_undo_of_more_than_was_handed_out_is_refused(
        self, clock, shopper, leader_user, point, sku, egg_sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 2), (egg_sku, 1)))
        line = _line(order, sku)
        hand_out(pickup_point=point, quantities={line.pk: 1}, actor=leader_user)
        with pytest.raises(PickupError) as refused:
            undo_handout(pickup_point=point, order_line_id=line.pk, quantity=2, actor=leader_user)
        assert refused.value.message == "西红柿 只核销了 1 件。"
        assert _line(order, sku).handed_out_quantity == 1
        assert Handout.objects.count() == 1

    def test_a_completed_order_cannot_be_undone_at_the_counter(
        self, clock, shopper, leader_user, point, sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 1)))
        line = _line(order, sku)
        hand_out(pickup_point=point, quantities={line.pk: 1}, actor=leader_user)
        with pytest.raises(PickupError):
            undo_handout(pickup_point=point, order_line_id=line.pk, quantity=1, actor=leader_user)
        assert _line(order, sku).handed_out_quantity == 1


@pytest.mark.django_db(transaction=True)
def test_double_taps_never_hand_out_more_than_is_outstanding(shopper, leader_user, point, sku):
    with time_machine.travel(NOON_ISH, tick=True) as traveller:
        order = paid_order(shopper, point, (sku, 3))
        traveller.move_to(delivery_morning())
        sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
        line = _line(order, sku)
        barrier = threading.Barrier(10)
        outcomes: list[str] = []

        def tap():
            barrier.wait()
            try:
                hand_out(pickup_point=point, quantities={line.pk: 1}, actor=leader_user)
                outcomes.append("handed")
            except PickupError:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=tap) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["handed"] * 3 + ["refused"] * 7
    assert _line(order, sku).handed_out_quantity == 3
    assert Handout.objects.count() == 3
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.COMPLETED).count() == 1
    assert Notice.objects.filter(kind="completed").count() == 1


@pytest.mark.django_db
class TestUncollected:
    def test_the_deadline_is_two_days_after_delivery_at_nine_pm(self):
        assert uncollected_deadline(TOMORROW) == datetime(2026, 11, 28, 21, 0, tzinfo=SHANGHAI)

    def test_the_deadline_comes_from_the_settings(self, settings):
        settings.ORDER_UNCOLLECTED_AFTER_DAYS = 1
        settings.ORDER_UNCOLLECTED_AT = "18:30"
        assert uncollected_deadline(TOMORROW) == datetime(2026, 11, 27, 18, 30, tzinfo=SHANGHAI)

    def test_a_configured_deadline_moves_the_sweep(
        self, clock, settings, shopper, leader_user, point, sku
    ):
        settings.ORDER_UNCOLLECTED_AFTER_DAYS = 0
        settings.ORDER_UNCOLLECTED_AT = "20:00"
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 1)))
        clock.move_to(datetime(2026, 11, 26, 19, 59, tzinfo=SHANGHAI))
        assert flag_uncollected_orders() == 0
        clock.move_to(datetime(2026, 11, 26, 20, 0, tzinfo=SHANGHAI))
        assert flag_uncollected_orders() == 1
        assert Order.objects.get(pk=order.pk).is_uncollected is True

    @pytest.mark.parametrize(
        ("days", "at", "message"),
        [
            (-1, "21:00", "ORDER_UNCOLLECTED_AFTER_DAYS must be a whole number of days >= 0"),
            ("2", "21:00", "ORDER_UNCOLLECTED_AFTER_DAYS must be a whole number of days >= 0"),
            (2, "9pm", "ORDER_UNCOLLECTED_AT must be a time like 21:00, not '9pm'"),
            (2, "25:00", "ORDER_UNCOLLECTED_AT must be a time like 21:00, not '25:00'"),
        ],
    )
    def test_a_bad_setting_fails_loudly_at_start_up_and_in_the_sweep(
        self, settings, days, at, message
    ):
        from orders.apps import check_order_settings

        settings.ORDER_UNCOLLECTED_AFTER_DAYS = days
        settings.ORDER_UNCOLLECTED_AT = at
        (error,) = check_order_settings()
        assert error.id == "orders.E001"
        assert message in error.msg
        with pytest.raises(ImproperlyConfigured, match=message.split(",")[0]):
            flag_uncollected_orders()

    def test_the_default_settings_pass_the_check(self):
        from orders.apps import check_order_settings

        assert check_order_settings() == []

    def test_orders_still_waiting_after_the_deadline_are_flagged_once(
        self, clock, shopper, leader_user, point, sku
    ):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 1)))
        clock.move_to(uncollected_deadline(TOMORROW) - timedelta(minutes=1))
        assert flag_uncollected_orders() == 0
        assert Order.objects.get(pk=order.pk).is_uncollected is False
        clock.move_to(uncollected_deadline(TOMORROW))
        assert flag_uncollected_orders() == 1
        assert flag_uncollected_orders() == 0
        assert Order.objects.get(pk=order.pk).is_uncollected is True
        notice = Notice.objects.get(kind="uncollected")
        assert notice.params == {"number": order.number, "point": "幸福里便利店"}

    def test_collected_orders_are_not_flagged(self, clock, shopper, leader_user, point, sku):
        (order,) = _ready(clock, leader_user, point, (shopper, point, (sku, 1)))
        hand_out(pickup_point=point, quantities={_line(order, sku).pk: 1}, actor=leader_user)
        clock.move_to(uncollected_deadline(TOMORROW) + timedelta(days=1))
        assert flag_uncollected_orders_task() == 0
        assert not Notice.objects.filter(kind="uncollected").exists()

    def test_the_sweep_runs_every_hour(self):
        entry = BEAT_SCHEDULE["orders-flag-uncollected"]
        assert entry["task"] == "orders.tasks.flag_uncollected_orders_task"
        assert entry["schedule"].minute == {5}
