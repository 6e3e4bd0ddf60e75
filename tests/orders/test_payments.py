"""Payments: one prepay per order, notifications applied exactly once, faults change nothing,
late payments refunded once, unpaid orders expire, lost notifications found by querying."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from catalog.models import StockLedger, StockRecord
from orders.models import (
    NotificationOutcome,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentNotificationLog,
    PaymentStatus,
    Refund,
    RefundReason,
    RefundStatus,
)
from orders.payments import sandbox
from orders.services.checkout import Want, place_order
from orders.services.payments import (
    cancel_unpaid_order,
    expire_unpaid_orders,
    find_lost_payments,
    handle_payment_notification,
    start_payment,
)
from orders.tasks import expire_unpaid_orders_task
from tuangou.money import to_fen

from .conftest import NOON_ISH, TOMORROW


def _order(shopper, point, sku, quantity=2):
    return place_order(user=shopper, wants=[Want(sku.pk, quantity)], pickup_point=point)


def _paid_notification(payment, amount_fen=None, **kwargs):
    return sandbox.build_payment_notification(
        payment.out_trade_no,
        to_fen(payment.amount) if amount_fen is None else amount_fen,
        **kwargs,
    )


def _stock(sku, point):
    return StockRecord.objects.get(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW)


def _ledger_matches_stock(sku, point):
    from django.db.models import Sum

    total = StockLedger.objects.filter(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).aggregate(s=Sum("delta"))["s"]
    return total == _stock(sku, point).quantity


@pytest.mark.django_db
class TestStartPayment:
    def test_a_second_tap_gets_the_same_prepay(self, clock, shopper, point, sku):
        order = _order(shopper, point, sku)
        first = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        second = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        assert first.pk == second.pk
        assert first.out_trade_no == order.number
        assert first.prepay_id.startswith("sandbox_")
        assert first.pay_params["sandbox_url"].endswith(f"/{order.number}/")
        assert Payment.objects.count() == 1

    def test_an_expired_order_cannot_be_paid(self, clock, shopper, point, sku):
        from orders.services.checkout import CheckoutError

        order = _order(shopper, point, sku)
        clock.shift(timedelta(minutes=16))
        with pytest.raises(CheckoutError):
            start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        assert Payment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_parallel_taps_make_one_prepay(shopper, point, sku):
    with time_machine.travel(NOON_ISH, tick=True):
        order = _order(shopper, point, sku)
        barrier = threading.Barrier(8)

        def tap():
            barrier.wait()
            try:
                return start_payment(order=order, channel="h5", client_ip="10.0.0.1").pk
            finally:
                connection.close()

        with ThreadPoolExecutor(8) as pool:
            ids = set(pool.map(lambda _n: tap(), range(8)))
    assert len(ids) == 1
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.django_db
class TestNotifications:
    def test_the_same_notification_ten_times_moves_the_order_once(
        self, clock, shopper, point, sku, django_capture_on_commit_callbacks
    ):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        headers, body = _paid_notification(payment)
        with django_capture_on_commit_callbacks(execute=True):
            replies = [handle_payment_notification(headers=headers, body=body) for _ in range(10)]
        assert all(r.ok and r.status_code == 200 for r in replies)
        assert [r.outcome for r in replies].count(NotificationOutcome.ACCEPTED) == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.CONFIRMED
        assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PAID
        assert payment.transaction_id.startswith("SANDBOX")
        assert PaymentNotificationLog.objects.count() == 10

    def test_a_bad_signature_changes_nothing_and_is_logged(self, clock, shopper, point, sku):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        headers, body = _paid_notification(payment)
        forged = body.replace(b'"resource"', b'"resource" ', 1)
        reply = handle_payment_notification(headers=headers, body=forged)
        assert (reply.ok, reply.status_code) == (False, 401)
        order.refresh_from_db()
        assert order.status == OrderStatus.PENDING_PAYMENT
        assert PaymentNotificationLog.objects.get().outcome == NotificationOutcome.BAD_SIGNATURE

    def test_a_replayed_old_notification_changes_nothing(self, clock, shopper, point, sku):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        stale = int((NOON_ISH - timedelta(minutes=10)).timestamp())
        headers, body = _paid_notification(payment, timestamp=stale)
        reply = handle_payment_notification(headers=headers, body=body)
        assert reply.ok is False
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
        assert PaymentNotificationLog.objects.get().outcome == NotificationOutcome.REPLAYED

    def test_an_unknown_order_is_logged_for_reconciliation(self, clock):
        headers, body = sandbox.build_payment_notification("26112500000000000000", 990)
        reply = handle_payment_notification(headers=headers, body=body)
        assert reply.ok is True
        assert PaymentNotificationLog.objects.get().outcome == NotificationOutcome.UNKNOWN_ORDER

    def test_a_wrong_amount_changes_nothing(self, clock, shopper, point, sku):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        headers, body = _paid_notification(payment, amount_fen=1)
        handle_payment_notification(headers=headers, body=body)
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
        assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CREATED
        log = PaymentNotificationLog.objects.get()
        assert log.outcome == NotificationOutcome.AMOUNT_MISMATCH
        assert log.detail == "expected 780 fen, got 1"

    def test_a_payment_for_a_cancelled_order_is_refunded_exactly_once(
        self, clock, shopper, point, sku, django_capture_on_commit_callbacks
    ):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        headers, body = _paid_notification(payment)
        # The shopper paid, but the order was cancelled before the news came.
        from orders.services.transitions import transition

        transition(order, OrderStatus.CANCELLED, note="test")
        with django_capture_on_commit_callbacks(execute=True):
            replies = [handle_payment_notification(headers=headers, body=body) for _ in range(3)]
        assert [r.outcome for r in replies] == [
            NotificationOutcome.LATE_PAYMENT,
            NotificationOutcome.DUPLICATE,
            NotificationOutcome.DUPLICATE,
        ]
        refund = Refund.objects.get()
        assert refund.reason == RefundReason.LATE_PAYMENT
        assert refund.amount == payment.amount
        assert refund.status == RefundStatus.SUCCEEDED
        assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_notifications_move_the_order_once(shopper, point, sku):
    with time_machine.travel(NOON_ISH, tick=True):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        headers, body = _paid_notification(payment)
        barrier = threading.Barrier(10)

        def deliver():
            barrier.wait()
            try:
                return handle_payment_notification(headers=headers, body=body)
            finally:
                connection.close()

        with ThreadPoolExecutor(10) as pool:
            replies = list(pool.map(lambda _n: deliver(), range(10)))
    assert all(r.ok for r in replies)
    assert [r.outcome for r in replies].count(NotificationOutcome.ACCEPTED) == 1
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CONFIRMED


@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_a_payment_ends_one_way_and_never_deadlocks(
    shopper, point, sku, monkeypatch
):
    """cancel_unpaid_order and apply_payment lock the same rows in the same order
    (payments by pk, then the order). Each round starts both together: either
    the payment wins (confirmed, nothing refunded) or the cancel does (cancelled,
    the late payment refunded once) - never both, never a deadlock error."""
    # The provider has not heard of the payment when the cancel asks: a real race.
    monkeypatch.setattr("orders.services.payments._paid_at_provider", lambda payment: False)
    outcomes = []
    with time_machine.travel(NOON_ISH, tick=True):
        for _round in range(8):
            order = _order(shopper, point, sku, quantity=1)
            payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
            headers, body = _paid_notification(payment)
            barrier = threading.Barrier(2)

            def cancel(order=order, barrier=barrier):
                barrier.wait()
                try:
                    return cancel_unpaid_order(order=order, reason="cancelled")
                finally:
                    connection.close()

            def notify(barrier=barrier, headers=headers, body=body):
                barrier.wait()
                try:
                    return handle_payment_notification(headers=headers, body=body)
                finally:
                    connection.close()

            with ThreadPoolExecutor(2) as pool:
                cancelled = pool.submit(cancel)
                reply = pool.submit(notify)
                cancelled, reply = cancelled.result(), reply.result()  # raises on a deadlock

            order.refresh_from_db()
            payment.refresh_from_db()
            refunds = list(Refund.objects.filter(order=order))
            assert payment.status == PaymentStatus.PAID
            assert reply.ok
            if cancelled:
                assert order.status == OrderStatus.CANCELLED
                assert reply.outcome == NotificationOutcome.LATE_PAYMENT
                assert [(r.reason, r.amount) for r in refunds] == [
                    (RefundReason.LATE_PAYMENT, payment.amount)
                ]
                outcomes.append("cancelled")
            else:
                assert order.status == OrderStatus.CONFIRMED
                assert reply.outcome == NotificationOutcome.ACCEPTED
                assert refunds == []
                outcomes.append("paid")
            assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == (
                0 if cancelled else 1
            )
    assert len(outcomes) == 8
    assert _ledger_matches_stock(sku, point)


@pytest.mark.django_db
class TestExpiry:
    def test_an_unpaid_order_is_cancelled_after_fifteen_minutes_and_stock_comes_back(
        self, clock, shopper, point, sku, django_capture_on_commit_callbacks
    ):
        order = _order(shopper, point, sku, quantity=5)
        assert _stock(sku, point).quantity == 45
        clock.shift(timedelta(minutes=14))
        assert expire_unpaid_orders() == 0
        clock.shift(timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            expire_unpaid_orders_task.delay()
            expire_unpaid_orders_task.delay()  # twice: changes nothing more
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert _stock(sku, point).quantity == 50
        assert _ledger_matches_stock(sku, point)
        assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.CANCELLED).count() == 1

    def test_a_payment_whose_notification_never_came_is_found_by_querying(
        self, clock, shopper, point, sku, django_capture_on_commit_callbacks
    ):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        # The sandbox records the payment, but the notification is lost.
        _paid_notification(payment)
        clock.shift(timedelta(minutes=3))
        with django_capture_on_commit_callbacks(execute=True):
            assert find_lost_payments() == 1
        assert Order.objects.get(pk=order.pk).status == OrderStatus.CONFIRMED

    def test_expiry_asks_the_provider_before_cancelling(
        self, clock, shopper, point, sku, django_capture_on_commit_callbacks
    ):
        order = _order(shopper, point, sku)
        payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
        _paid_notification(payment)  # paid at the provider, news not here yet
        clock.shift(timedelta(minutes=16))
        with django_capture_on_commit_callbacks(execute=True):
            assert cancel_unpaid_order(order=order) is False
        order.refresh_from_db()
        assert order.status == OrderStatus.CONFIRMED
        assert _stock(sku, point).quantity == 48


@pytest.mark.django_db
def test_stock_equals_the_ledger_after_placed_cancelled_expired_and_refunded_orders(
    clock, shopper, other_shopper, point, sku, django_capture_on_commit_callbacks
):
    from orders.services.refunds import refund_order

    with django_capture_on_commit_callbacks(execute=True):
        kept = _order(shopper, point, sku, 3)
        cancelled = _order(shopper, point, sku, 4)
        _order(other_shopper, point, sku, 5)  # never paid: expires
        refunded = _order(other_shopper, point, sku, 6)
        for order in (kept, refunded):
            payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
            headers, body = _paid_notification(payment)
            handle_payment_notification(headers=headers, body=body)
        cancel_unpaid_order(order=cancelled, actor=shopper, reason="changed my mind")
        clock.shift(timedelta(minutes=16))
        expire_unpaid_orders()
        refund_order(order=Order.objects.get(pk=refunded.pk))
    assert _stock(sku, point).quantity == 50 - 3
    assert _ledger_matches_stock(sku, point)
    assert Order.objects.get(pk=refunded.pk).status == OrderStatus.REFUNDED
    assert Refund.objects.get(order=refunded).status == RefundStatus.SUCCEEDED
