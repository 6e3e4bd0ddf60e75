"""Pickup at the leader's point: pickup codes, handing out lines (and undo),
and flagging what nobody came for.

A shopper has one pickup code per pickup point per delivery date, covering
all that day's orders there. The leader hands out lines, whole or in part;
every hand-out (and every undo, as a negative row) is a Handout row, the
audit trail. An order whose lines are all handed out or refunded completes.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.timeutils import local_datetime, to_local

from ..models import Handout, Order, OrderLine, OrderStatus, PickupCode
from ..notices import notify, notify_many
from .lifecycle import complete_if_done

logger = logging.getLogger("tuangou.pickup")

CODE_DIGITS = 6
CODE_ATTEMPTS = 20


def uncollected_rule() -> tuple[int, time]:
    """When an order still waiting at the point counts as uncollected: this many
    days after its delivery date, at this time (Shanghai), from the settings
    ORDER_UNCOLLECTED_AFTER_DAYS (default 2) and ORDER_UNCOLLECTED_AT
    ("21:00"). Flagged orders show on the leader's 未取件 list and in the
    admin; the shopper gets a reminder. A bad value fails loudly (the system
    check in orders.apps reports it at start-up), never a silent default.
    """
    days = getattr(settings, "ORDER_UNCOLLECTED_AFTER_DAYS", 2)
    at = getattr(settings, "ORDER_UNCOLLECTED_AT", "21:00")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ImproperlyConfigured(
            f"ORDER_UNCOLLECTED_AFTER_DAYS must be a whole number of days >= 0, not {days!r}"
        )
    try:
        hour, minute = (int(part) for part in str(at).split(":"))
        return days, time(hour, minute)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"ORDER_UNCOLLECTED_AT must be a time like 21:00, not {at!r}"
        ) from exc


class PickupError(Exception):
    """A refused sign-off, hand-out or undo: the message is for the leader."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- pickup codes -------------------------------------------------------------------


def new_pickup_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def pickup_code_for(*, user_id: int, pickup_point_id: int, delivery_date: date) -> PickupCode:
    """The shopper's code at a point for a day, created on first use.

    get_or_create semantics under races: the (user, point, day) unique index
    makes a second writer find the first one's code; a random code that
    collides with another shopper's at the same point and day (the second
    unique index) is drawn again. Each attempt runs in a savepoint so the
    caller's transaction survives a collision.
    """
    for _attempt in range(CODE_ATTEMPTS):
        existing = PickupCode.objects.filter(
            user_id=user_id, pickup_point_id=pickup_point_id, delivery_date=delivery_date
        ).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return PickupCode.objects.create(
                    user_id=user_id,
                    pickup_point_id=pickup_point_id,
                    delivery_date=delivery_date,
                    code=new_pickup_code(),
                )
        except IntegrityError:
            # Either another request made this shopper's code (found above on
            # the next turn), or the digits are taken at this point today.
            continue
    raise RuntimeError("could not draw a free pickup code")


def issue_pickup_codes(*, orders: list[Order]) -> dict[tuple[int, int, date], PickupCode]:
    """One code per (shopper, point, day) among `orders`, in a fixed order."""
    keys = sorted({(o.user_id, o.pickup_point_id, o.delivery_date) for o in orders})
    return {
        key: pickup_code_for(user_id=key[0], pickup_point_id=key[1], delivery_date=key[2])
        for key in keys
    }


# The random code is drawn by PostgreSQL like new_pickup_code(): 63 bits of
# gen_random_uuid() (a strong random source, pg_strong_random) modulo
# 10**CODE_DIGITS, zero-padded to CODE_DIGITS digits.
_ISSUE_DAY_CODES_SQL = """
WITH wanted AS (
    SELECT DISTINCT o.user_id, o.pickup_point_id
    FROM orders_order o
    WHERE o.warehouse_id = %(warehouse)s
      AND o.delivery_date = %(day)s
      AND o.status = ANY(%(statuses)s)
      AND NOT EXISTS (
          SELECT 1 FROM orders_pickupcode c
          WHERE c.user_id = o.user_id
            AND c.pickup_point_id = o.pickup_point_id
            AND c.delivery_date = %(day)s
      )
), added AS (
    INSERT INTO orders_pickupcode (user_id, pickup_point_id, delivery_date, code, created_at)
    SELECT user_id, pickup_point_id, %(day)s,
           lpad(((('x' || translate(gen_random_uuid()::text, '-', ''))::bit(64)::bigint
                  & 9223372036854775807) %% %(modulus)s)::text, %(digits)s, '0'),
           %(now)s
    FROM wanted
    ORDER BY pickup_point_id, user_id
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM wanted), (SELECT count(*) FROM added)
"""


def issue_day_pickup_codes(*, warehouse_id: int, delivery_date: date, statuses: list[str]) -> int:
    """Set-based: give every shopper with orders of a warehouse's day (in
    `statuses`) a code at each of their pickup points, unless they have one.

    The cutoff wave calls it for its bag labels, long before the leader's
    sign-off; pickup_code_for (the sign-off) then finds the same code. One
    INSERT … SELECT … ON CONFLICT DO NOTHING per round: the (user, point, day)
    index keeps a code issued meanwhile, and a drawn code that is taken at
    the point that day (the second unique index) is skipped and drawn again
    in the next round, for the few rows that lost. With 10**6 codes and a few
    hundred shoppers a point, the first round nearly always does it all.
    Returns the number of codes issued.
    """
    from django.db import connection

    params = {
        "warehouse": warehouse_id,
        "day": delivery_date,
        "statuses": list(statuses),
        "now": timezone.now(),
        "modulus": 10**CODE_DIGITS,
        "digits": CODE_DIGITS,
    }
    issued = 0
    with connection.cursor() as cursor:
        for _attempt in range(CODE_ATTEMPTS):
            cursor.execute(_ISSUE_DAY_CODES_SQL, params)
            wanted, added = cursor.fetchone()
            issued += added
            if added == wanted:
                return issued
    raise RuntimeError("could not draw free pickup codes")


# --- hand-out -----------------------------------------------------------------------


@dataclass
class HandoutResult:
    handouts: list[Handout] = field(default_factory=list)
    completed: list[Order] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(h.quantity for h in self.handouts)


def _locked_orders_for_lines(*, pickup_point, line_ids: list[int]) -> dict[int, OrderLine]:
    """The lines, at this point, with their orders locked in pk order."""
    lines = {
        line.pk: line
        for line in OrderLine.objects.select_related("order").filter(
            pk__in=line_ids, order__pickup_point=pickup_point
        )
    }
    if len(lines) != len(set(line_ids)):
        raise PickupError(_("That item is not waiting at this pickup point."))
    order_ids = sorted({line.order_id for line in lines.values()})
    locked = {
        o.pk: o for o in Order.objects.select_for_update().filter(pk__in=order_ids).order_by("pk")
    }
    for line in lines.values():
        line.order = locked[line.order_id]
    return lines


def hand_out(*, pickup_point, quantities: dict[int, int], actor) -> HandoutResult:
    """Hand out `quantities` ({order_line_id: units}) at the leader's point.

    All or nothing. Each line moves with a conditional UPDATE (handed out +
    units <= quantity - refunded): a double tap, or two phones at the same
    counter, can never hand out more than is outstanding; the loser gets a
    clear message and nothing of its request is written. Orders whose lines
    are all handed out (or refunded) complete, and their shoppers are told.
    """
    wanted = {int(k): v for k, v in quantities.items() if v}
    if not wanted:
        raise PickupError(_("Choose at least one item to hand out."))
    for units in wanted.values():
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise PickupError(_("The quantity must be at least 1."))
    result = HandoutResult()
    with transaction.atomic():
        lines = _locked_orders_for_lines(pickup_point=pickup_point, line_ids=list(wanted))
        for line_id in sorted(wanted):
            line, units = lines[line_id], wanted[line_id]
            if line.order.status != OrderStatus.READY_FOR_PICKUP:
                raise PickupError(
                    _("Order %(number)s is not waiting for pickup (%(status)s).")
                    % {"number": line.order.number, "status": line.order.get_status_display()}
                )
            moved = OrderLine.objects.filter(
                pk=line_id,
                handed_out_quantity__lte=F("quantity") - F("refunded_quantity") - units,
            ).update(handed_out_quantity=F("handed_out_quantity") + units)
            if not moved:
                # Another tap got there first: say what is really left.
                line.refresh_from_db(fields=["handed_out_quantity", "refunded_quantity"])
                raise PickupError(
                    _("Only %(n)d of %(name)s is still to hand out.")
                    % {"n": line.outstanding_quantity, "name": line.product_name}
                )
            result.handouts.append(Handout(order_line=line, quantity=units, actor=actor))
        Handout.objects.bulk_create(result.handouts)
        for order in sorted({line.order for line in lines.values()}, key=lambda o: o.pk):
            if complete_if_done(order=order, actor=actor) and (
                order.status == OrderStatus.COMPLETED
            ):
                notify(order=order, kind="completed")
                result.completed.append(order)
    return result


def hand_out_everything(*, pickup_point, orders: list[Order], actor) -> HandoutResult:
    """Hand out every outstanding unit of `orders` (the 全部取货 button)."""
    lines = OrderLine.objects.filter(
        order__in=[o.pk for o in orders],
        order__pickup_point=pickup_point,
        order__status=OrderStatus.READY_FOR_PICKUP,
        handed_out_quantity__lt=F("quantity") - F("refunded_quantity"),
    )
    quantities = {line.pk: line.outstanding_quantity for line in lines}
    if not quantities:
        raise PickupError(_("Everything has been handed out already."))
    return hand_out(pickup_point=pickup_point, quantities=quantities, actor=actor)


def undo_handout(*, pickup_point, order_line_id: int, quantity: int, actor) -> Handout:
    """Take back units handed out by mistake: a negative Handout row.

    Only while the order still waits for pickup: a completed order has left
    the state machine (completed is final), so an operator handles those.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise PickupError(_("The quantity must be at least 1."))
    with transaction.atomic():
        line = _locked_orders_for_lines(pickup_point=pickup_point, line_ids=[order_line_id])[
            order_line_id
        ]
        if line.order.status != OrderStatus.READY_FOR_PICKUP:
            raise PickupError(
                _("Order %(number)s is already complete; ask an operator to correct it.")
                % {"number": line.order.number}
            )
        moved = OrderLine.objects.filter(pk=line.pk, handed_out_quantity__gte=quantity).update(
            handed_out_quantity=F("handed_out_quantity") - quantity
        )
        if not moved:
            raise PickupError(
                _("Only %(n)d of %(name)s has been handed out.")
                % {"n": line.handed_out_quantity, "name": line.product_name}
            )
        return Handout.objects.create(order_line=line, quantity=-quantity, actor=actor)


# --- uncollected ----------------------------------------------------------------------


def uncollected_deadline(delivery_date: date) -> datetime:
    """When an order of `delivery_date` still at the point counts as uncollected."""
    days, at = uncollected_rule()
    return local_datetime(delivery_date + timedelta(days=days), at)


def _latest_overdue_day(now: datetime) -> date:
    days, at = uncollected_rule()
    local = to_local(now)
    day = local.date() - timedelta(days=days)
    return day if local.time() >= at else day - timedelta(days=1)


def flag_uncollected_orders(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Flag ready orders past their pickup deadline and remind their shoppers.

    Idempotent: only unflagged orders are taken, under row locks (skip those
    another run holds), so a shopper is reminded once per order.
    """
    last_day = _latest_overdue_day(now or timezone.now())
    with transaction.atomic():
        due = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(
                status=OrderStatus.READY_FOR_PICKUP,
                is_uncollected=False,
                delivery_date__lte=last_day,
            )
            .order_by("pk")[:limit]
        )
        if not due:
            return 0
        Order.objects.filter(pk__in=[o.pk for o in due]).update(is_uncollected=True)
        by_point: dict[str, list[Order]] = {}
        for order in due:
            by_point.setdefault(order.pickup_point_name, []).append(order)
        for point_name, orders in sorted(by_point.items()):
            notify_many(orders=orders, kind="uncollected", point=point_name)
    logger.info("flagged %d uncollected orders", len(due))
    return len(due)
