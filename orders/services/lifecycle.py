"""Order life after payment: confirmation and completion.

Reactions to these moves in lower apps (the leader's commission, points) are
called from here explicitly, inside the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from leaders.commission.services import earn_commission
from marketing.services.checkout import order_completed

from ..models import Order, OrderLine, OrderStatus
from .transitions import transition, transition_many, transition_through


def confirm_orders(*, orders: list[Order], actor=None, note: str = "") -> list[Order]:
    """Paid (or group-filled) orders become confirmed: they will be delivered.

    Used for a normal order right after payment and for every order of a
    拼团 that just filled. Orders already confirmed (or moved on) are skipped.
    """
    with transaction.atomic(savepoint=False):
        moved = transition_many(
            orders, OrderStatus.CONFIRMED, actor=actor, note=note or "confirmed"
        )
        # The leader earns commission on the confirmed lines (once per line).
        earn_commission(orders=moved)
    return moved


def confirm_paid_order(*, order: Order, paid_note: str) -> bool:
    """A normal order's payment arrived: pending → paid → confirmed in one
    UPDATE with both events in one INSERT (what transition to PAID and then
    confirm_orders did in four statements), and the leader's commission.

    Inside the caller's transaction, with the order locked (apply_payment).
    """
    with transaction.atomic(savepoint=False):
        moved = transition_through(
            order, [(OrderStatus.PAID, paid_note), (OrderStatus.CONFIRMED, "confirmed")]
        )
        if moved:
            earn_commission(orders=[order])
    return moved


def complete_if_done(*, order: Order, actor=None) -> bool:
    """An order whose every line is handed out or refunded is completed."""
    if order.status != OrderStatus.READY_FOR_PICKUP:
        return False
    outstanding = OrderLine.objects.filter(
        order=order,
        handed_out_quantity__lt=F("quantity") - F("refunded_quantity"),
    ).exists()
    if outstanding:
        return False
    handed_any = OrderLine.objects.filter(order=order, handed_out_quantity__gt=0).exists()
    if not handed_any:
        # Everything was refunded (e.g. a full shortage): refunded, not completed.
        return transition(order, OrderStatus.REFUNDED, actor=actor, note="fully refunded")
    completed = transition(order, OrderStatus.COMPLETED, actor=actor, note="all lines handed out")
    if completed:
        # Points and the 满额返券 coupon, by a task after commit.
        order_completed(
            user_id=order.user_id,
            order_id=order.pk,
            kept_amount=order.payable - order.refunded_amount,
        )
    return completed
