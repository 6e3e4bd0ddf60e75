"""Delivery (until the logistics issue adds routes): the day's orders leave the
warehouse, and the leader signs for them at the pickup point (签收), reporting
what was missing.

dispatch_orders: confirmed → in_delivery on the delivery date (a daily task,
an admin action). sign_for_delivery: one DeliverySignoff per point and day;
shortages are refunded line by line, the rest becomes ready_for_pickup, and
each shopper gets one pickup code for the day and a message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from tuangou.money import ZERO

from ..models import (
    DeliverySignoff,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundReason,
    ShortageLine,
)
from ..notices import notify, notify_many
from ..pickup_selectors import delivery_has_arrived
from .pickup import PickupError, issue_pickup_codes
from .refunds import refund_lines
from .transitions import transition_many

logger = logging.getLogger("tuangou.delivery")

# Orders a sign-off takes: on the way, or confirmed when the dispatch was never
# recorded (the goods are at the door all the same).
_ARRIVING = [OrderStatus.CONFIRMED, OrderStatus.IN_DELIVERY]


# --- dispatch -------------------------------------------------------------------------


def _dispatch(orders: list[Order], *, actor=None) -> list[Order]:
    with transaction.atomic():
        moved = transition_many(orders, OrderStatus.IN_DELIVERY, actor=actor, note="dispatched")
        if moved:
            notify_many(orders=moved, kind="in_delivery")
    return moved


def dispatch_orders(*, delivery_date: date, warehouse=None, actor=None) -> list[Order]:
    """The day's confirmed orders (of one warehouse, or all) leave: in_delivery.

    Idempotent: only confirmed orders move, each with a compare-and-set, so a
    second run (or the admin action after the task) moves nothing.
    """
    qs = Order.objects.filter(delivery_date=delivery_date, status=OrderStatus.CONFIRMED)
    if warehouse is not None:
        qs = qs.filter(warehouse=warehouse)
    moved = _dispatch(list(qs.order_by("pk")), actor=actor)
    logger.info("dispatched %d orders for %s", len(moved), delivery_date)
    return moved


def dispatch_selected_orders(*, orders: Iterable[Order], actor=None) -> list[Order]:
    """An operator dispatches chosen orders; those not confirmed are skipped."""
    return _dispatch([o for o in orders if o.status == OrderStatus.CONFIRMED], actor=actor)


# --- sign-off -------------------------------------------------------------------------


@dataclass
class ShortageRefund:
    order: Order
    refund: Refund
    lines: list[tuple[OrderLine, int]]  # the lines short and by how much


@dataclass
class SignoffResult:
    signoff: DeliverySignoff
    ready: list[Order] = field(default_factory=list)
    codes: dict = field(default_factory=dict)  # (user_id, point_id, day) -> PickupCode
    shortage_refunds: list[ShortageRefund] = field(default_factory=list)

    @property
    def refunded_total(self) -> Decimal:
        return sum((s.refund.amount for s in self.shortage_refunds), ZERO)


def _clean_shortages(shortages: dict | None) -> dict[int, int]:
    cleaned: dict[int, int] = {}
    for sku_id, missing in (shortages or {}).items():
        if isinstance(missing, bool) or not isinstance(missing, int) or missing < 0:
            raise PickupError(_("A missing quantity must be a whole number, 0 or more."))
        if missing:
            cleaned[int(sku_id)] = missing
    return cleaned


def _allocate_shortages(
    orders: list[Order], lines: list[OrderLine], shortages: dict[int, int]
) -> dict[int, dict[int, int]]:
    """Spread each SKU's missing units over the day's orders: {order_id: {line_id: units}}.

    Latest orders first (placed last, then highest pk): the earliest buyers
    claimed the stock first, and a deterministic order means the same report
    always refunds the same lines. One order's line takes as much as it can
    before the next order is touched, so as few shoppers as possible lose out.
    """
    placed = {o.pk: (o.created_at, o.pk) for o in orders}
    by_sku: dict[int, list[OrderLine]] = {}
    for line in lines:
        by_sku.setdefault(line.sku_id, []).append(line)
    plan: dict[int, dict[int, int]] = {}
    for sku_id, missing in sorted(shortages.items()):
        candidates = sorted(
            by_sku.get(sku_id, []), key=lambda li: placed[li.order_id], reverse=True
        )
        available = sum(li.outstanding_quantity for li in candidates)
        if not candidates:
            raise PickupError(_("That product is not in this delivery."))
        if missing > available:
            raise PickupError(
                _("Only %(n)d of %(name)s were ordered for this delivery.")
                % {"n": available, "name": f"{candidates[0].product_name} {candidates[0].spec}"}
            )
        for line in candidates:
            if missing == 0:
                break
            take = min(missing, line.outstanding_quantity)
            if take:
                plan.setdefault(line.order_id, {})[line.pk] = take
                missing -= take
    return plan


def sign_for_delivery(
    *,
    pickup_point,
    delivery_date: date,
    actor,
    shortages: dict[int, int] | None = None,
) -> SignoffResult:
    """The leader signs for the day's delivery at their point (签收).

    `shortages` is {sku_id: units missing}. In one transaction: the sign-off
    row (its unique index refuses a second sign-off, even a concurrent one),
    the orders locked in pk order, the shortages refunded through
    refund_lines (reason: shortage), the remaining orders made ready for
    pickup with compare-and-set moves, one pickup code per shopper, and the
    messages. A refused sign-off writes nothing.
    """
    shortages = _clean_shortages(shortages)
    if not delivery_has_arrived(delivery_date):
        raise PickupError(_("This delivery has not arrived yet: sign for it on its day."))
    try:
        with transaction.atomic():
            return _sign(
                pickup_point=pickup_point,
                delivery_date=delivery_date,
                actor=actor,
                shortages=shortages,
            )
    except IntegrityError as exc:
        if "orders_one_signoff_per_day" not in str(exc):
            raise
        raise PickupError(_already_signed(pickup_point, delivery_date)) from None


def _already_signed(pickup_point, delivery_date: date) -> str:
    signed = (
        DeliverySignoff.objects.select_related("signed_by")
        .filter(pickup_point=pickup_point, delivery_date=delivery_date)
        .first()
    )
    if signed is None:  # pragma: no cover - the row that refused us exists
        return _("This delivery has already been signed for.")
    from tuangou.timeutils import to_local

    return _("This delivery was already signed for by %(name)s at %(time)s.") % {
        "name": signed.signed_by.display_name,
        "time": f"{to_local(signed.signed_at):%m-%d %H:%M}",
    }


def _sign(*, pickup_point, delivery_date, actor, shortages) -> SignoffResult:
    if DeliverySignoff.objects.filter(
        pickup_point=pickup_point, delivery_date=delivery_date
    ).exists():
        raise PickupError(_already_signed(pickup_point, delivery_date))
    # The insert comes first: a concurrent sign-off waits on the unique index
    # and then fails, before either has touched an order.
    signoff = DeliverySignoff.objects.create(
        pickup_point=pickup_point, delivery_date=delivery_date, signed_by=actor
    )
    orders = list(
        Order.objects.select_for_update()
        .filter(pickup_point=pickup_point, delivery_date=delivery_date, status__in=_ARRIVING)
        .order_by("pk")
    )
    if not orders:
        raise PickupError(_("There is nothing to sign for: no orders for this day."))
    # Confirmed orders whose dispatch was never recorded go through in_delivery
    # (the state machine has no shortcut), with their event rows.
    confirmed = [o for o in orders if o.status == OrderStatus.CONFIRMED]
    if confirmed:
        transition_many(confirmed, OrderStatus.IN_DELIVERY, actor=actor, note="arrived")
    result = SignoffResult(signoff=signoff)
    if shortages:
        lines = list(
            OrderLine.objects.select_for_update()
            .filter(order__in=orders, sku_id__in=list(shortages))
            .filter(handed_out_quantity__lt=F("quantity") - F("refunded_quantity"))
            .order_by("pk")
        )
        ShortageLine.objects.bulk_create(
            [
                ShortageLine(signoff=signoff, sku_id=sku_id, quantity=missing)
                for sku_id, missing in sorted(shortages.items())
            ]
        )
        plan = _allocate_shortages(orders, lines, shortages)
        by_id = {o.pk: o for o in orders}
        line_by_id = {li.pk: li for li in lines}
        for order_id in sorted(plan):
            order = by_id[order_id]
            refund = refund_lines(
                order=order,
                quantities=plan[order_id],
                reason=RefundReason.SHORTAGE,
                actor=actor,
                note=f"short delivery {delivery_date:%Y-%m-%d}",
            )
            amounts = {rl.order_line_id: rl.amount for rl in refund.lines.all()}
            short = [(line_by_id[pk], units) for pk, units in sorted(plan[order_id].items())]
            for line, _units in short:
                notify(
                    order=order,
                    kind="shortage",
                    product=f"{line.product_name} {line.spec}",
                    amount=amounts[line.pk],
                )
            result.shortage_refunds.append(ShortageRefund(order=order, refund=refund, lines=short))
    # Orders fully refunded by the shortage are closed now; the rest are ready.
    still = list(
        Order.objects.filter(
            pk__in=[o.pk for o in orders], status=OrderStatus.IN_DELIVERY
        ).order_by("pk")
    )
    result.ready = transition_many(still, OrderStatus.READY_FOR_PICKUP, actor=actor, note="signed")
    result.codes = issue_pickup_codes(orders=result.ready)
    _tell_ready(result.ready, result.codes, point_name=pickup_point.name)
    return result


def _tell_ready(orders: list[Order], codes: dict, *, point_name: str) -> None:
    """One message per order; the SMS only once per shopper (their first order)."""
    texted: set[int] = set()
    in_app: dict[str, list[Order]] = {}
    for order in orders:
        code = codes[(order.user_id, order.pickup_point_id, order.delivery_date)].code
        if order.user_id in texted:
            in_app.setdefault(code, []).append(order)
            continue
        texted.add(order.user_id)
        notify(order=order, kind="ready", point=point_name, code=code)
    for code, rest in sorted(in_app.items()):
        notify_many(orders=rest, kind="ready", point=point_name, code=code, channels=False)
