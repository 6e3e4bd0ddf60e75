"""The notify endpoints, posted to for real with signed sandbox notifications."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from orders.models import (
    NotificationOutcome,
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
from orders.payments.sandbox import SandboxProvider, generate_private_key_pem
from orders.services.payments import start_payment
from orders.services.refunds import refund_lines
from tuangou.money import to_fen

from .shopper_helpers import pay, place

pytestmark = pytest.mark.django_db

PAYMENT_URL = "/orders/notify/payment/"
REFUND_URL = "/orders/notify/refund/"


def _post(client, url, headers, body):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return client.generic("POST", url, body, content_type="application/json", **extra)


def _prepaid(shopper, point, sku, quantity=2):
    order = place(shopper, point, (sku, quantity))
    payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
    return order, payment


def test_the_urls_are_the_ones_the_provider_is_given():
    assert reverse("orders:notify_payment") == PAYMENT_URL
    assert reverse("orders:notify_refund") == REFUND_URL


def test_the_same_notification_ten_times_in_a_row_moves_the_order_once(
    clock, client, shopper, point, sku, django_capture_on_commit_callbacks
):
    order, payment = _prepaid(shopper, point, sku)
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))

    with django_capture_on_commit_callbacks(execute=True):
        replies = [_post(client, PAYMENT_URL, headers, body) for _ in range(10)]

    assert [r.status_code for r in replies] == [200] * 10
    assert all(json.loads(r.content) == {"code": "SUCCESS", "message": ""} for r in replies)
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PAID
    outcomes = list(PaymentNotificationLog.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [NotificationOutcome.ACCEPTED] + [NotificationOutcome.DUPLICATE] * 9


@pytest.mark.django_db(transaction=True)
def test_the_same_notification_ten_times_in_parallel_moves_the_order_once(
    clock, shopper, point, sku
):
    order, payment = _prepaid(shopper, point, sku)
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    barrier = threading.Barrier(10)
    codes = []

    def deliver():
        try:
            client = Client()
            barrier.wait()
            codes.append(_post(client, PAYMENT_URL, headers, body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert codes == [200] * 10
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert PaymentNotificationLog.objects.filter(outcome=NotificationOutcome.ACCEPTED).count() == 1


def test_a_forged_notification_is_refused_with_401_and_changes_nothing(
    clock, client, shopper, point, sku
):
    order, payment = _prepaid(shopper, point, sku)
    impostor = SandboxProvider(private_key_pem=generate_private_key_pem())
    headers, body = impostor.build_payment_notification(
        payment.out_trade_no, to_fen(payment.amount)
    )

    response = _post(client, PAYMENT_URL, headers, body)

    assert response.status_code == 401
    assert json.loads(response.content)["code"] == "FAIL"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CREATED
    [log] = PaymentNotificationLog.objects.all()
    assert log.outcome == NotificationOutcome.BAD_SIGNATURE


def test_a_tampered_body_is_refused_with_401(clock, client, shopper, point, sku):
    order, payment = _prepaid(shopper, point, sku)
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))

    response = _post(client, PAYMENT_URL, headers, body.replace(b"SUCCESS", b"SUCCESS "))

    assert response.status_code == 401
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_wrong_amount_is_logged_and_changes_nothing(clock, client, shopper, point, sku):
    order, payment = _prepaid(shopper, point, sku)
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, 1)

    response = _post(client, PAYMENT_URL, headers, body)

    assert response.status_code == 200  # retrying would not make it right
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert PaymentNotificationLog.objects.get().outcome == NotificationOutcome.AMOUNT_MISMATCH


def test_the_endpoint_needs_no_csrf_token_and_only_takes_post(clock, shopper, point, sku):
    client = Client(enforce_csrf_checks=True)
    order, payment = _prepaid(shopper, point, sku)
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))

    assert client.get(PAYMENT_URL).status_code == 405
    assert _post(client, PAYMENT_URL, headers, body).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED


# --- refunds -------------------------------------------------------------------------


def _pending_refund(shopper, point, sku):
    """A paid order with a refund recorded but not sent (its task is not run)."""
    order = pay(place(shopper, point, (sku, 3)))
    line = order.lines.get()
    refund = refund_lines(order=order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR)
    return order, refund


def _refund_note(refund, **kwargs):
    return sandbox.build_refund_notification(
        out_trade_no=refund.payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_fen=to_fen(refund.amount),
        total_fen=to_fen(refund.payment.amount),
        **kwargs,
    )


def test_a_refund_notification_marks_the_refund_done_once(clock, client, shopper, point, sku):
    order, refund = _pending_refund(shopper, point, sku)
    headers, body = _refund_note(refund)

    replies = [_post(client, REFUND_URL, headers, body) for _ in range(10)]

    assert [r.status_code for r in replies] == [200] * 10
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.provider_refund_id.startswith("SANDBOXR")
    logs = list(
        PaymentNotificationLog.objects.filter(kind="refund")
        .order_by("pk")
        .values_list("outcome", flat=True)
    )
    assert logs == [NotificationOutcome.ACCEPTED] + [NotificationOutcome.DUPLICATE] * 9
    assert order.notices.filter(kind="refunded").count() == 1


def test_a_forged_refund_notification_is_refused(clock, client, shopper, point, sku):
    _order, refund = _pending_refund(shopper, point, sku)
    impostor = SandboxProvider(private_key_pem=generate_private_key_pem())
    headers, body = impostor.build_refund_notification(
        out_trade_no=refund.payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_fen=to_fen(refund.amount),
        total_fen=to_fen(refund.payment.amount),
    )

    response = _post(client, REFUND_URL, headers, body)

    assert response.status_code == 401
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert PaymentNotificationLog.objects.get(kind="refund").outcome == (
        NotificationOutcome.BAD_SIGNATURE
    )


def test_an_abnormal_refund_is_marked_failed_for_an_operator(clock, client, shopper, point, sku):
    order, refund = _pending_refund(shopper, point, sku)
    headers, body = _refund_note(refund, refund_status="ABNORMAL")

    response = _post(client, REFUND_URL, headers, body)

    assert response.status_code == 200
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert order.notices.filter(kind="refund_failed").count() == 1


def test_a_refund_notification_for_an_unknown_refund_is_logged(clock, client):
    headers, body = sandbox.build_refund_notification(
        out_trade_no="T-none", out_refund_no="T-none-R1", refund_fen=100, total_fen=100
    )

    response = _post(client, REFUND_URL, headers, body)

    assert response.status_code == 200
    assert PaymentNotificationLog.objects.get().outcome == NotificationOutcome.UNKNOWN_ORDER
    assert not Refund.objects.exists()


def test_a_payment_notification_posted_to_the_refund_url_is_malformed(
    clock, client, shopper, point, sku
):
    order, payment = _prepaid(shopper, point, sku)
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))

    response = _post(client, REFUND_URL, headers, body)

    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
