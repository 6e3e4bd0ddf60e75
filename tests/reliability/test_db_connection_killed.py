"""PostgreSQL kills the connection in the middle of the work (issue #15, faults 1).

Each test pauses the work at a known statement, terminates its server
process from another connection (pg_terminate_backend), lets the statement
meet the dead connection, and checks that:

- a shopper's request answers 503 with a clear page (never a 500), a payment
  notification answers 503 (the provider retries on any non-2xx), a task
  retries;
- nothing is half-written: the transaction died with the connection;
- the retry (the shopper's second tap, the provider's next notification, the
  task's retry) does the work exactly once.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.urls import reverse

from catalog.models import StockLedger, StockRecord
from leaders.commission.models import CommissionEntry, Settlement
from leaders.commission.services import add_adjustment
from leaders.commission.tasks import settle_commissions_task
from orders.models import (
    CartLine,
    Notice,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from orders.payments import sandbox
from orders.payments.sandbox import SandboxProvider
from orders.services.cart import add_to_cart
from orders.services.payments import start_payment
from orders.services.refunds import refund_lines
from orders.tasks import send_refund_task
from tests.clock import TOMORROW
from tests.orders.shopper_helpers import pay, place
from tuangou.celery import app
from tuangou.money import to_fen

from .support import backend_killed_before

pytestmark = pytest.mark.django_db(transaction=True)


def _stock(sku, point) -> tuple[int, int, int]:
    row = StockRecord.objects.get(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW)
    ledger = sum(
        StockLedger.objects.filter(
            sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
        ).values_list("delta", flat=True)
    )
    return row.quantity, row.sold, ledger


def _notification(order: Order):
    payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}, body


def test_a_checkout_whose_connection_dies_at_the_stock_update_answers_503_and_writes_nothing(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    # The stock UPDATE is the last statement of place_order, holding the hot row.
    with backend_killed_before(r"UPDATE \"?catalog_stockrecord") as stopped:
        response = shopper_client.post(reverse("orders:checkout"), {"note": ""})
    assert stopped, "the checkout never reached the stock UPDATE"
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "请稍后重试" in response.content.decode()
    # Nothing half-written: no order, no line, the stock and the cart as they were.
    assert Order.objects.count() == 0
    assert _stock(sku, point) == (50, 0, 50)
    assert list(CartLine.objects.values_list("sku_id", "quantity")) == [(sku.pk, 2)]
    # The shopper taps again: one order, stock taken once.
    response = shopper_client.post(reverse("orders:checkout"), {"note": ""})
    assert response.status_code == 302
    order = Order.objects.get()
    assert response["Location"] == reverse("orders:pay", args=[order.code])
    assert _stock(sku, point) == (48, 2, 48)
    assert not CartLine.objects.exists()


def test_a_payment_notification_whose_connection_dies_is_retried_and_applied_once(
    clock, client, shopper, point, sku
):
    order = place(shopper, point, (sku, 3))
    extra, body = _notification(order)
    url = reverse("orders:notify_payment")
    with backend_killed_before(r"UPDATE \"orders_payment\" SET") as stopped:
        response = client.post(url, data=body, content_type="application/json", **extra)
    assert stopped
    assert response.status_code == 503  # WeChat Pay sends it again
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert Payment.objects.get(order=order).status == PaymentStatus.CREATED
    assert not Notice.objects.filter(order=order).exists()
    # The provider's next two deliveries: applied once, then a duplicate.
    for _again in range(2):
        response = client.post(url, data=body, content_type="application/json", **extra)
        assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert Payment.objects.filter(order=order, status=PaymentStatus.PAID).count() == 1
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.CONFIRMED).count() == 1
    assert _stock(sku, point) == (47, 3, 47)


def test_a_refund_task_whose_connection_dies_after_the_provider_call_retries_once(
    clock, shopper, point, sku, monkeypatch
):
    app.conf.task_always_eager = True
    try:
        order = pay(place(shopper, point, (sku, 2)))
        monkeypatch.setattr(send_refund_task, "delay", lambda *_a: None)  # sent by hand below
        refund = refund_lines(order=order, quantities=None, reason="operator")
    finally:
        app.conf.task_always_eager = False
    sent: list[str] = []
    real_refund = SandboxProvider.refund

    def counting(self, req):
        sent.append(req.out_refund_no)
        return real_refund(self, req)

    monkeypatch.setattr(SandboxProvider, "refund", counting)
    # The provider takes the refund; the connection dies as it is marked succeeded.
    with (
        backend_killed_before(r"UPDATE \"orders_refund\" SET \"status\"") as stopped,
        pytest.raises(Retry),
    ):
        send_refund_task.apply(args=[refund.pk], throw=True)
    assert stopped
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING  # the success was never committed
    assert not Notice.objects.filter(order=order, kind="refunded").exists()
    # The retry a worker runs after the countdown: done, once.
    assert send_refund_task.apply(args=[refund.pk]).get() == RefundStatus.SUCCEEDED
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    # The same out_refund_no both times: the provider refunded once.
    assert sent == [refund.out_refund_no, refund.out_refund_no]
    assert refund.amount == Decimal("7.80")
    assert Refund.objects.filter(order=order).count() == 1
    assert Notice.objects.filter(order=order, kind="refunded").count() == 1
    # A third delivery (a duplicate) sends nothing.
    assert send_refund_task.apply(args=[refund.pk]).get() == RefundStatus.SUCCEEDED
    assert len(sent) == 2


def test_the_settlement_job_whose_connection_dies_retries_and_settles_each_entry_once(
    clock, leader, other_leader, operator
):
    add_adjustment(
        leader=leader, amount="12.30", reason="奖励", entered_by=operator, approved_by=operator
    )
    add_adjustment(
        leader=other_leader, amount="4.56", reason="奖励", entered_by=operator, approved_by=operator
    )
    app.conf.task_always_eager = True
    try:
        # Killed at the first leader's settlement totals: after the entries moved.
        with (
            backend_killed_before(r"UPDATE \"leaders_settlement\" SET") as stopped,
            pytest.raises(Retry),
        ):
            settle_commissions_task.apply(throw=True)
        assert stopped
        connection.close()  # what the worker's Django fixup does between tries
        # Nothing half-written: no entry settled, no settlement row.
        assert not CommissionEntry.objects.filter(settlement__isnull=False).exists()
        assert not Settlement.objects.exists()
        # The retry settles both entries; a second run (another beat) none.
        assert settle_commissions_task.apply().get() == 2
        assert settle_commissions_task.apply().get() == 0
    finally:
        app.conf.task_always_eager = False
    totals = dict(Settlement.objects.values_list("leader_id", "net_total"))
    assert totals == {leader.pk: Decimal("12.30"), other_leader.pk: Decimal("4.56")}
    assert Settlement.objects.get(leader=leader).entry_count == 1
