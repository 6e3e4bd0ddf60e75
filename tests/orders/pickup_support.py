"""Helpers for the delivery and pickup tests: paid orders made through the real services."""

from __future__ import annotations

import itertools
from datetime import datetime, time

from orders.models import Order
from orders.services.checkout import Want, place_order
from orders.services.payments import apply_payment, start_payment
from tuangou.money import to_fen
from tuangou.timeutils import local_datetime

from .conftest import TOMORROW

_transactions = itertools.count(1)


def paid_order(user, point, *lines) -> Order:
    """Place and pay an order of (sku, quantity) lines: it ends up confirmed."""
    order = place_order(
        user=user, wants=[Want(sku.pk, quantity) for sku, quantity in lines], pickup_point=point
    )
    payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
    apply_payment(
        out_trade_no=payment.out_trade_no,
        amount_fen=to_fen(payment.amount),
        transaction_id=f"T{next(_transactions):08d}",
    )
    order.refresh_from_db()
    return order


def delivery_morning(hour: int = 8) -> datetime:
    """The delivery day at `hour` in Shanghai."""
    return local_datetime(TOMORROW, time(hour, 0))
