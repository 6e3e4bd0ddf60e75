"""Helpers for the delivery and pickup tests: paid orders made through the real services."""

from __future__ import annotations

from datetime import datetime, time

from orders.models import Order
from orders.payments import sandbox
from orders.services.checkout import Want, place_order
from orders.services.payments import handle_payment_notification, start_payment
from tuangou.money import to_fen
from tuangou.timeutils import local_datetime

from .conftest import TOMORROW


def paid_order(user, point, *lines) -> Order:
    """Place and pay an order of (sku, quantity) lines in the sandbox: it ends up confirmed."""
    order = place_order(
        user=user, wants=[Want(sku.pk, quantity) for sku, quantity in lines], pickup_point=point
    )
    payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
    # The sandbox's signed notification, through the real notify path (the
    # sandbox then knows the order is paid, and refunds of it succeed).
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    reply = handle_payment_notification(headers=headers, body=body)
    assert reply.outcome == "accepted", reply
    order.refresh_from_db()
    return order


def delivery_morning(hour: int = 8) -> datetime:
    """The delivery day at `hour` in Shanghai."""
    return local_datetime(TOMORROW, time(hour, 0))
