"""Uncollected goods: what happens to lines nobody came for by the deadline.

orders flags an order still waiting at the point after its uncollected
deadline (orders.services.pickup.uncollected_deadline: by default two days
after the delivery date, 21:00 Shanghai) and reminds the shopper. From that
same deadline on, `dispose_uncollected` (a Celery beat task, hourly) applies
each line's category policy (catalog Category.uncollected_action) to the
units neither handed out nor refunded:

- refund (perishables): the units are refunded through the orders' refund
  service (`refund_lines`, reason "operator" with the note "uncollected…": no
  new refund reason was needed), which reverses the leader's commission and
  sends the money back by its own task; the goods are written off.
- return (shelf-stable goods): the units go back on the warehouse's shelf,
  InventoryItem.on_hand += units (an F() upsert), and are not refunded: the
  shopper bought them and did not come (the 未取件 reminder told them).

The order afterwards stays inside the orders' state machine:
ready_for_pickup → refunded when everything left was refunded and nothing was
ever handed out (the refund service closes it so); otherwise → completed
(whatever was handed out, refunded or returned: nothing is left at the point).
The leader's commission on returned units stands, as on any completed order.

Exactly once per line: one UncollectedDisposal row per order line (unique),
written in the same transaction as the refund or the return, under the
order's row lock taken with SKIP LOCKED, so two workers never both dispose of
an order and a second run finds nothing left to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import UncollectedAction
from orders.models import Order, OrderLine, OrderStatus, Refund, RefundReason
from orders.services.checkout import CheckoutError
from orders.services.pickup import uncollected_deadline, uncollected_rule
from orders.services.refunds import refund_lines
from orders.services.transitions import transition
from tuangou.timeutils import to_local

from ..models import InventoryItem, UncollectedDisposal

logger = logging.getLogger("tuangou.logistics.uncollected")

REFUND_NOTE = "uncollected by the deadline: perishable, written off"
RETURN_NOTE = "uncollected by the deadline: returned to the warehouse"


@dataclass
class DisposalResult:
    """What one sweep did."""

    orders: list[str] = field(default_factory=list)  # order numbers disposed of
    refunded_units: int = 0
    returned_units: int = 0
    refunds: list[Refund] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # order numbers left for an operator


def last_overdue_day(now: datetime) -> date:
    """The latest delivery date whose uncollected deadline has passed at `now`."""
    days, _at = uncollected_rule()
    day = to_local(now).date() - timedelta(days=days)
    while uncollected_deadline(day) > now:
        day -= timedelta(days=1)
    return day


def dispose_uncollected(*, now: datetime | None = None, limit: int = 500) -> DisposalResult:
    """Apply the category policy to every overdue order still waiting at its point.

    One short transaction per order (a failure leaves the others done and the
    failed one for the next run, logged). Safe to run twice and in parallel.
    """
    now = now or timezone.now()
    last_day = last_overdue_day(now)
    order_ids = list(
        Order.objects.filter(status=OrderStatus.READY_FOR_PICKUP, delivery_date__lte=last_day)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    result = DisposalResult()
    for order_id in order_ids:
        try:
            dispose_order(order_id=order_id, result=result)
        except (CheckoutError, IntegrityError) as exc:
            # A refund the orders' service refuses (nothing paid), or a line
            # another worker disposed of first: nothing of this order was written.
            number = Order.objects.filter(pk=order_id).values_list("number", flat=True).first()
            logger.error("uncollected order %s not disposed of: %s", number, exc)
            result.failed.append(number or str(order_id))
    if result.orders:
        logger.info(
            "disposed of %d uncollected orders: %d units refunded, %d returned",
            len(result.orders),
            result.refunded_units,
            result.returned_units,
        )
    return result


def dispose_order(*, order_id: int, result: DisposalResult | None = None) -> bool:
    """Dispose of one overdue order's outstanding units. False when another
    worker holds the order or it no longer waits at the point."""
    result = result if result is not None else DisposalResult()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(skip_locked=True)
            .filter(pk=order_id, status=OrderStatus.READY_FOR_PICKUP)
            .first()
        )
        if order is None:
            return False
        lines = list(
            OrderLine.objects.filter(order=order, uncollected_disposal__isnull=True)
            .select_related("sku__product__category")
            .order_by("pk")
        )
        disposals: list[UncollectedDisposal] = []
        for line in lines:
            units = line.outstanding_quantity
            if units <= 0:
                continue
            refund = line.sku.product.category.uncollected_action == UncollectedAction.REFUND
            disposals.append(
                UncollectedDisposal(
                    order_line=line,
                    action=(
                        UncollectedDisposal.Action.REFUNDED
                        if refund
                        else UncollectedDisposal.Action.RETURNED
                    ),
                    quantity=units,
                )
            )
        if not disposals:
            return False
        # The unique order_line makes a second writer fail here, before any money moves.
        UncollectedDisposal.objects.bulk_create(disposals)
        to_refund = [d for d in disposals if d.action == UncollectedDisposal.Action.REFUNDED]
        to_return = [d for d in disposals if d.action == UncollectedDisposal.Action.RETURNED]
        if to_refund:
            refund = refund_lines(
                order=order,
                quantities={d.order_line_id: d.quantity for d in to_refund},
                reason=RefundReason.OPERATOR,
                note=REFUND_NOTE,
            )
            UncollectedDisposal.objects.filter(pk__in=[d.pk for d in to_refund]).update(
                refund=refund
            )
            result.refunds.append(refund)
            result.refunded_units += sum(d.quantity for d in to_refund)
        returned: dict[int, int] = {}
        for d in to_return:
            returned[d.order_line.sku_id] = returned.get(d.order_line.sku_id, 0) + d.quantity
        for sku_id in sorted(returned):  # a fixed order: two orders never deadlock here
            return_to_warehouse(
                warehouse_id=order.warehouse_id, sku_id=sku_id, quantity=returned[sku_id]
            )
        result.returned_units += sum(returned.values())
        # The refund may already have closed the order (refunded, or completed
        # when the rest was handed out); otherwise nothing is left at the point.
        order.refresh_from_db(fields=["status"])
        if order.status == OrderStatus.READY_FOR_PICKUP:
            transition(order, OrderStatus.COMPLETED, note=RETURN_NOTE)
        result.orders.append(order.number)
    return True


def return_to_warehouse(*, warehouse_id: int, sku_id: int, quantity: int) -> None:
    """on_hand += quantity for the SKU at the warehouse, creating the row if need be.

    An F() UPDATE first; when there is no row, an INSERT in a savepoint; when
    another transaction inserted it meanwhile (unique warehouse + SKU), the
    UPDATE again. Never a read-modify-write.
    """
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    rows = InventoryItem.objects.filter(warehouse_id=warehouse_id, sku_id=sku_id)
    if rows.update(on_hand=F("on_hand") + quantity, updated_at=timezone.now()):
        return
    try:
        with transaction.atomic():
            InventoryItem.objects.create(warehouse_id=warehouse_id, sku_id=sku_id, on_hand=quantity)
    except IntegrityError:
        rows.update(on_hand=F("on_hand") + quantity, updated_at=timezone.now())
