"""Helpers for the shopper-side tests: a bound shopper, paid and completed orders."""

from __future__ import annotations

import pytest
from django.db.models import F

from leaders.services import choose_pickup_point
from orders.models import OrderLine, OrderStatus
from orders.payments import sandbox
from orders.services.checkout import Want, place_order
from orders.services.payments import handle_payment_notification, start_payment
from orders.services.transitions import transition
from tuangou.money import to_fen


def bind(user, point) -> None:
    choose_pickup_point(user=user, pickup_point=point)


def place(user, point, *lines, **kwargs):
    """place_order with (sku, quantity) pairs."""
    return place_order(
        user=user,
        wants=[Want(sku.pk, quantity) for sku, quantity in lines],
        pickup_point=point,
        **kwargs,
    )


def pay(order):
    payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    reply = handle_payment_notification(headers=headers, body=body)
    assert reply.ok, reply
    order.refresh_from_db()
    return order


def deliver(order):
    """Confirmed → in delivery → ready for pickup (what the pickup side does)."""
    transition(order, OrderStatus.IN_DELIVERY)
    transition(order, OrderStatus.READY_FOR_PICKUP)
    return order


def complete(order):
    """Hand out every line, then complete."""
    deliver(order)
    OrderLine.objects.filter(order=order).update(
        handed_out_quantity=F("quantity") - F("refunded_quantity")
    )
    transition(order, OrderStatus.COMPLETED)
    order.refresh_from_db()
    return order


@pytest.fixture
def bound_shopper(shopper, point):
    bind(shopper, point)
    return shopper


@pytest.fixture
def shopper_client(client, bound_shopper):
    client.force_login(bound_shopper)
    return client
