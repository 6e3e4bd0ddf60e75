"""Moving a confirmed order to a later delivery day.

The nightly cutoff wave (logistics) freezes the confirmed orders of a
warehouse's day; an order of that day confirmed after it (a payment or a
拼团 that completed late) is not in the wave and would never be picked.
postpone_late_order moves it to the next day its pickup point is open: the
delivery date and pickup time change, its stock moves from that day's
StockRecord to the new day's through catalog's ledgered functions, an
OrderEvent records the move and the shopper is told the new day.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from catalog.services import CatalogError, release_stock_lines, reserve_stock
from tuangou.timeutils import local_datetime

from ..models import Order, OrderEvent, OrderLine, OrderStatus
from ..notices import notify

# How far ahead a late order may go looking for a day its point is open.
MAX_DAYS_AHEAD = 7


class RescheduleError(Exception):
    """The order cannot move (no stock on the new day, point closed…): nothing changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _next_open_day(order: Order, after: date) -> date:
    point = order.pickup_point
    for offset in range(1, MAX_DAYS_AHEAD + 1):
        day = after + timedelta(days=offset)
        if point.pickup_problem_on(day) is None:
            return day
    raise RescheduleError(
        _("the pickup point is closed for the next %(days)d days") % {"days": MAX_DAYS_AHEAD}
    )


def postpone_late_order(
    *, order: Order, from_date: date, actor=None, note: str = ""
) -> Order | None:
    """Move a confirmed order of `from_date` to the next day its point is open.

    In one transaction, under the order's row lock: the order's delivery date
    and pickup time, an OrderEvent (confirmed → confirmed, `note`), the
    shopper's notice ("will be delivered on …"), then the stock: the units
    still wanted (ordered minus refunded) are released from the old day
    (release_stock_lines, key "moved-<new day>") and reserved on the new day
    under the order's number (reserve_stock, last: it takes the hot row lock).
    Raises RescheduleError (nothing changed) when the new day has no stock for
    it or the product is off the shelf. Idempotent: an order that is no
    longer confirmed on `from_date` is left alone (returns None).
    """
    with transaction.atomic():
        locked = (
            Order.objects.select_for_update(of=("self",))
            .select_related("pickup_point", "warehouse")
            .filter(pk=order.pk)
            .first()
        )
        if (
            locked is None
            or locked.status != OrderStatus.CONFIRMED
            or locked.delivery_date != from_date
        ):
            return None
        new_day = _next_open_day(locked, from_date)
        wanted: dict[int, int] = {}
        for sku_id, quantity, refunded in OrderLine.objects.filter(order=locked).values_list(
            "sku_id", "quantity", "refunded_quantity"
        ):
            if quantity > refunded:
                wanted[sku_id] = wanted.get(sku_id, 0) + quantity - refunded
        locked.delivery_date = new_day
        locked.pickup_from = local_datetime(new_day, locked.warehouse.pickup_time)
        Order.objects.filter(pk=locked.pk).update(
            delivery_date=locked.delivery_date, pickup_from=locked.pickup_from
        )
        OrderEvent.objects.create(
            order=locked,
            from_status=OrderStatus.CONFIRMED,
            to_status=OrderStatus.CONFIRMED,
            actor=actor,
            note=(note or f"moved from {from_date:%Y-%m-%d} to {new_day:%Y-%m-%d}")[:200],
        )
        notify(order=locked, kind="confirmed", day=f"{new_day:%m-%d}")
        if wanted:
            try:
                release_stock_lines(
                    reference=locked.number,
                    lines=wanted,
                    key=f"moved-{new_day:%Y%m%d}",
                    actor=actor,
                    note=f"moved to {new_day:%Y-%m-%d}",
                )
                reserve_stock(
                    lines=sorted(wanted.items()),
                    warehouse=locked.warehouse,
                    delivery_date=new_day,
                    reference=locked.number,
                    actor=actor,
                )
            except CatalogError as exc:
                # Raised inside the block: the move above is rolled back with it.
                raise RescheduleError(exc.message) from exc
    return locked
