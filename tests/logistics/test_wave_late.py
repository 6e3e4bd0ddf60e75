# ruff: noqa: F811 - pytest fixtures imported from the wave support module
"""Late orders: confirmed after their day's wave froze the orders, they move to
the next day (stock, pickup time, event, notice) and into that day's wave."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import translation

from catalog.models import StockLedger, StockRecord
from logistics.models import WaveLine, WaveStatus
from logistics.services.wave import (
    Problem,
    late_orders,
    problem_messages,
    roll_late_orders,
    run_wave,
)
from logistics.tasks import roll_late_orders_task
from orders.event_notes import describe_note
from orders.models import Notice, Order, OrderEvent, OrderStatus
from orders.payments import sandbox
from orders.services.checkout import Want, place_order
from orders.services.payments import handle_payment_notification, start_payment
from tests.catalog.factories import set_stock
from tests.clock import TOMORROW, at
from tuangou.money import to_fen
from tuangou.timeutils import local_datetime

from .wave_support import day, weighed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

DAY_AFTER = TOMORROW + timedelta(days=1)


def _pay(order: Order) -> Order:
    payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    assert handle_payment_notification(headers=headers, body=body).outcome == "accepted"
    order.refresh_from_db()
    return order


@pytest.fixture
def late(clock, day, point, shopper, weighed):
    """An order placed at 22:55 for tomorrow, the wave at 23:00, paid at 23:05."""
    tomato, _eggs = weighed
    clock.move_to(at(22, 55))
    order = place_order(user=shopper, wants=[Want(tomato.pk, 2)], pickup_point=point)
    assert order.delivery_date == TOMORROW
    clock.move_to(at(23, 0))
    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    clock.move_to(at(23, 5))
    order = _pay(order)
    assert order.status == OrderStatus.CONFIRMED and order.delivery_date == TOMORROW
    return wave, order


def test_an_order_paid_after_the_wave_moves_to_the_next_days_wave(late, point, weighed, clock):
    tomato, _eggs = weighed
    wave, order = late
    set_stock(sku=tomato, warehouse=point.warehouse, delivery_date=DAY_AFTER, quantity=30)
    assert not WaveLine.objects.filter(wave=wave, order=order).exists()
    assert list(late_orders(wave=wave)) == [order]

    assert roll_late_orders_task() == 1

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.delivery_date == DAY_AFTER
    assert order.pickup_from == local_datetime(DAY_AFTER, time(10, 0))
    # The stock moved with it: back on the wave's day, taken from the next.
    stock = {
        r.delivery_date: (r.quantity, r.sold)
        for r in StockRecord.objects.filter(sku=tomato, warehouse=point.warehouse)
    }
    assert stock[DAY_AFTER] == (28, 2)
    assert list(
        StockLedger.objects.filter(reference__startswith=order.number)
        .order_by("pk")
        .values_list("reason", "delivery_date", "delta", "reference")
    ) == [
        ("reserve", TOMORROW, -2, order.number),
        ("release", TOMORROW, 2, f"{order.number}/moved-20261127"),
        ("reserve", DAY_AFTER, -2, order.number),
    ]
    event = OrderEvent.objects.filter(order=order).order_by("pk").last()
    assert (event.from_status, event.to_status) == ("confirmed", "confirmed")
    assert event.note == f"moved to the next day: confirmed after the cutoff wave {wave.pk}"
    # The order page reads it in Chinese.
    assert describe_note(event.note) == f"顺延至下一配送日：截单波次 {wave.pk} 已关闭后才确认"
    notice = Notice.objects.filter(order=order).order_by("pk").last()
    assert (notice.kind, notice.params["day"]) == ("confirmed", "11-27")
    # Nothing else was late; a second sweep moves nothing.
    assert roll_late_orders_task() == 0
    assert list(late_orders(wave=wave)) == []

    clock.move_to(at(23, 0, day=TOMORROW))
    next_wave = run_wave(warehouse=point.warehouse, delivery_date=DAY_AFTER)
    assert list(WaveLine.objects.filter(wave=next_wave).values_list("order_id", "quantity")) == [
        (order.pk, 2)
    ]


def test_an_order_that_cannot_move_stays_and_is_listed_until_it_can(late, point, weighed):
    tomato, _eggs = weighed
    wave, order = late
    ledger_before = StockLedger.objects.count()

    result = roll_late_orders(wave=wave)

    assert result.moved == []
    order.refresh_from_db()
    assert order.delivery_date == TOMORROW  # not moved, not lost
    assert StockLedger.objects.count() == ledger_before
    wave.refresh_from_db()
    assert [(p["kind"], p["order"], p["name"]) for p in wave.problems] == [
        (Problem.LATE_ORDER_STUCK, order.pk, order.number)
    ]
    with translation.override("zh-hans"):
        assert problem_messages(wave) == [
            f"订单 {order.number} 在截单波次之后才确认，无法顺延到下一天"
            f"（{wave.problems[0]['reason']}）：请退款或补充库存。"
        ]
    assert "西红柿" in wave.problems[0]["reason"]

    set_stock(sku=tomato, warehouse=point.warehouse, delivery_date=DAY_AFTER, quantity=5)
    assert [o.pk for o in roll_late_orders(wave=wave).moved] == [order.pk]
    wave.refresh_from_db()
    assert wave.problems == []


def test_a_rerun_after_the_payment_takes_the_late_order_in(late, point):
    """Before the sweep moved it, a rerun of the wave simply includes it."""
    _wave, order = late
    again = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    assert again.status == WaveStatus.DONE
    assert WaveLine.objects.filter(wave=again, order=order).exists()
    order.refresh_from_db()
    assert order.delivery_date == TOMORROW


def test_orders_of_a_wave_not_done_are_never_moved(late, point):
    wave, order = late
    wave.status = WaveStatus.FAILED
    wave.save(update_fields=["status"])
    assert roll_late_orders(wave=wave).moved == []
    order.refresh_from_db()
    assert order.delivery_date == TOMORROW


def test_an_order_confirmed_while_the_wave_is_built_moves_at_its_end(
    clock, day, point, shopper, weighed, monkeypatch
):
    from logistics.services import wave as wave_service

    tomato, _eggs = weighed
    set_stock(sku=tomato, warehouse=point.warehouse, delivery_date=DAY_AFTER, quantity=30)
    clock.move_to(at(22, 58))
    order = place_order(user=shopper, wants=[Want(tomato.pk, 1)], pickup_point=point)
    clock.move_to(at(23, 0))
    real_plan_run = wave_service.routing.plan_run

    def pay_during_the_build(*, run):
        _pay(order)  # after the lines were frozen, before the wave is done
        real_plan_run(run=run)

    monkeypatch.setattr(wave_service.routing, "plan_run", pay_during_the_build)

    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)

    assert not WaveLine.objects.filter(wave=wave, order=order).exists()
    order.refresh_from_db()
    assert (order.status, order.delivery_date) == (OrderStatus.CONFIRMED, DAY_AFTER)
