"""The order state machine: one guard, one writer of status, an event per move."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou import statemachine

from ..models import ORDER_TRANSITIONS, Order, OrderEvent, OrderStatus

# The timestamp field each target status stamps, when it has one.
_STAMPS = {
    OrderStatus.PAID: "paid_at",
    OrderStatus.CONFIRMED: "confirmed_at",
    OrderStatus.READY_FOR_PICKUP: "ready_at",
    OrderStatus.COMPLETED: "completed_at",
    OrderStatus.CANCELLED: "closed_at",
    OrderStatus.REFUNDED: "closed_at",
}


def can_transition(current: str, new: str) -> bool:
    return statemachine.can_move(ORDER_TRANSITIONS, current, new)


def guard(order: Order, new: str) -> None:
    statemachine.guard(
        ORDER_TRANSITIONS, order.status, new, _("Order %(number)s") % {"number": order.number}
    )


def transition(order: Order, new: str, *, actor=None, note: str = "") -> bool:
    """Move one order to `new` with a compare-and-set on its current status.

    Returns False (and changes nothing) when another request moved the order
    first, so callers that may race (a notification and the expiry timer)
    simply lose; raises IllegalTransition when the move is never allowed.
    """
    guard(order, new)
    old = order.status
    now = timezone.now()
    fields: dict[str, object] = {"status": new}
    stamp = _STAMPS.get(new)
    if stamp:
        fields[stamp] = now
    # No savepoint inside a caller's transaction (two statements saved on the
    # payment path): a failure here fails the caller's whole unit anyway.
    with transaction.atomic(savepoint=False):
        moved = Order.objects.filter(pk=order.pk, status=old).update(**fields)
        if not moved:
            return False
        OrderEvent.objects.create(
            order=order, from_status=old, to_status=new, actor=actor, note=note[:200]
        )
    for name, value in fields.items():
        setattr(order, name, value)
    return True


def transition_through(order: Order, steps: list[tuple[str, str]], *, actor=None) -> bool:
    """Move one order through several statuses at once: one compare-and-set
    UPDATE (every step's timestamp) and one INSERT of an event per step.

    `steps` are (status, note) pairs, each guarded from the one before, as
    `transition` would one by one (a paid normal order goes straight on to
    confirmed: two statements instead of four). Returns False and changes
    nothing when another request moved the order first.
    """
    path = [order.status, *(new for new, _note in steps)]
    for old, new in pairwise(path):
        statemachine.guard(
            ORDER_TRANSITIONS, old, new, _("Order %(number)s") % {"number": order.number}
        )
    now = timezone.now()
    fields: dict[str, object] = {"status": path[-1]}
    for new, _note in steps:
        stamp = _STAMPS.get(new)
        if stamp:
            fields[stamp] = now
    with transaction.atomic(savepoint=False):
        moved = Order.objects.filter(pk=order.pk, status=path[0]).update(**fields)
        if not moved:
            return False
        OrderEvent.objects.bulk_create(
            [
                OrderEvent(
                    order=order, from_status=old, to_status=new, actor=actor, note=note[:200]
                )
                for old, (new, note) in zip(path, steps, strict=False)
            ]
        )
    for name, value in fields.items():
        setattr(order, name, value)
    return True


def transition_many(
    orders: Iterable[Order], new: str, *, actor=None, note: str = ""
) -> list[Order]:
    """Move several orders at once (a group fills, a day's delivery leaves).

    Orders that are not in a state that may move to `new` are skipped, and so
    are orders another request moved first. Returns the orders moved.
    """
    candidates = [o for o in orders if can_transition(o.status, new)]
    if not candidates:
        return []
    now = timezone.now()
    stamp = _STAMPS.get(new)
    moved: list[Order] = []
    with transaction.atomic(savepoint=False):
        by_status: dict[str, list[int]] = {}
        for order in candidates:
            by_status.setdefault(order.status, []).append(order.pk)
        moved_ids: set[int] = set()
        for old, ids in by_status.items():
            fields: dict[str, object] = {"status": new}
            if stamp:
                fields[stamp] = now
            if len(ids) == 1:
                # One row: the compare-and-set UPDATE takes its lock itself.
                if Order.objects.filter(pk=ids[0], status=old).update(**fields):
                    moved_ids.add(ids[0])
                continue
            # Lock in pk order, then update only those still in `old`.
            locked = list(
                Order.objects.select_for_update()
                .filter(pk__in=ids, status=old)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            Order.objects.filter(pk__in=locked).update(**fields)
            moved_ids.update(locked)
        events = []
        for order in candidates:
            if order.pk in moved_ids:
                events.append(
                    OrderEvent(
                        order=order,
                        from_status=order.status,
                        to_status=new,
                        actor=actor,
                        note=note[:200],
                    )
                )
                order.status = new
                if stamp:
                    setattr(order, stamp, now)
                moved.append(order)
        OrderEvent.objects.bulk_create(events)
    return moved
