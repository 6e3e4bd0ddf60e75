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

Returned goods are still at the point: after each sweep the point's leader is
texted once (SMS template "uncollected_return": point, orders, units, goods)
to set them aside for the driver (tell_leaders_of_returns; the mark is
UncollectedDisposal.leader_told_at, set under the rows' lock). Every run to
the point lists them (run sheet column 带回未取件, the driver's stop card)
until a driver hands over there: that hand-over records them as collected
by that stop (collect_returns, a conditional UPDATE: once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Subquery
from django.utils import timezone

from catalog.models import UncollectedAction
from orders.models import Order, OrderLine, OrderStatus, Refund, RefundReason
from orders.services.checkout import CheckoutError
from orders.services.pickup import uncollected_deadline, uncollected_rule
from orders.services.refunds import refund_lines
from orders.services.transitions import transition
from tuangou.accounts.sms import send_sms
from tuangou.timeutils import local_datetime, to_local

from ..models import InventoryItem, Route, RunStatus, StopStatus, UncollectedDisposal

logger = logging.getLogger("tuangou.logistics.uncollected")

RETURN_SMS_TEMPLATE = "uncollected_return"
GOODS_PARAM_MAX = 30  # an SMS template variable stays short
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
    leaders_told: int = 0  # points whose leader was texted to set returns aside


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
    result.leaders_told = tell_leaders_of_returns(now=now)
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


# --- returned goods: the leader sets them aside, the next run takes them back ---------


@dataclass(frozen=True)
class ReturnLine:
    """Units of one order line to carry from a point back to the warehouse."""

    point_id: int
    order_number: str
    product: str  # name and spec
    quantity: int
    collected: bool  # taken back at a hand-over already


def _goods(lines: list[tuple[str, int]]) -> str:
    """番茄 500g×5、大米 5kg×1 (per product, summed; shortened for the SMS)."""
    units: dict[str, int] = {}
    for name, q in lines:
        units[name] = units.get(name, 0) + q
    text = "、".join(f"{name}×{q}" for name, q in units.items())
    return text if len(text) <= GOODS_PARAM_MAX else text[: GOODS_PARAM_MAX - 1] + "…"


def tell_leaders_of_returns(*, now: datetime | None = None) -> int:
    """Text each point's leader, once, that returned goods wait to go back.

    Per point, one transaction: the point's returned disposals not told yet
    are locked (SKIP LOCKED: a second sweep at the same time tells nobody
    twice), marked leader_told_at, and the SMS goes after commit. Returns the
    number of points told (a leader without a phone is marked and counted
    as told: there is no one to text).
    """
    now = now or timezone.now()
    point_ids = sorted(
        set(
            UncollectedDisposal.objects.filter(
                action=UncollectedDisposal.Action.RETURNED, leader_told_at__isnull=True
            ).values_list("order_line__order__pickup_point_id", flat=True)
        )
    )
    return sum(1 for point_id in point_ids if _tell_leader(point_id, now))


def _tell_leader(point_id: int, now: datetime) -> bool:
    with transaction.atomic():
        rows = list(
            UncollectedDisposal.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                action=UncollectedDisposal.Action.RETURNED,
                leader_told_at__isnull=True,
                order_line__order__pickup_point_id=point_id,
            )
            .select_related("order_line__order__pickup_point__leader")
            .order_by("pk")
        )
        if not rows:
            return False
        UncollectedDisposal.objects.filter(pk__in=[r.pk for r in rows]).update(leader_told_at=now)
        point = rows[0].order_line.order.pickup_point
        params = {
            "point": point.name,
            "orders": str(len({r.order_line.order_id for r in rows})),
            "units": str(sum(r.quantity for r in rows)),
            "goods": _goods(
                [
                    (f"{r.order_line.product_name} {r.order_line.spec}".strip(), r.quantity)
                    for r in rows
                ]
            ),
        }
        phone = point.leader.phone
        if phone:
            transaction.on_commit(
                lambda: send_sms(phone=phone, template=RETURN_SMS_TEMPLATE, params=params)
            )
        logger.info(
            "leader of point %s told: %s units to go back to the warehouse",
            point_id,
            params["units"],
        )
    return True


def collect_returns(*, stop, warehouse_id: int, now: datetime) -> int:
    """A hand-over at `stop`: the point's returned goods not collected yet go
    back with the driver. Each line is collected once: the UPDATE's own
    condition (collected_stop IS NULL, on the row itself, so PostgreSQL
    re-checks it after waiting for a concurrent hand-over's row lock) decides.
    Returns the number of lines."""
    waiting = list(
        UncollectedDisposal.objects.filter(
            action=UncollectedDisposal.Action.RETURNED,
            collected_stop__isnull=True,
            order_line__order__pickup_point_id=stop.pickup_point_id,
            order_line__order__warehouse_id=warehouse_id,
            created_at__lte=now,
        ).values_list("pk", flat=True)
    )
    if not waiting:
        return 0
    return UncollectedDisposal.objects.filter(pk__in=waiting, collected_stop__isnull=True).update(
        collected_stop=stop, collected_at=now
    )


def returns_for_run(*, run) -> dict[int, list[ReturnLine]]:
    """What a run carries back, per pickup point id: lines collected at its
    stops, and (while the run is planned or on the road) the returned goods
    still waiting at its stops not handed over yet, disposed of before the
    end of the run's day. One query."""
    cond = Q(collected_stop__run_id=run.pk)
    if run.status in (RunStatus.PLANNED, RunStatus.DEPARTED):
        # Subqueries, so the whole answer is one statement.
        cond |= Q(
            collected_stop__isnull=True,
            order_line__order__pickup_point_id__in=run.stops.filter(
                status__in=[StopStatus.PENDING, StopStatus.ARRIVED]
            ).values("pickup_point_id"),
            order_line__order__warehouse_id=Subquery(
                Route.objects.filter(pk=run.route_id).values("warehouse_id")[:1]
            ),
            created_at__lt=local_datetime(run.delivery_date + timedelta(days=1), time(0)),
        )
    rows = (
        UncollectedDisposal.objects.filter(cond, action=UncollectedDisposal.Action.RETURNED)
        .order_by("order_line__order__number", "order_line_id")
        .values_list(
            "order_line__order__pickup_point_id",
            "order_line__order__number",
            "order_line__product_name",
            "order_line__spec",
            "quantity",
            "collected_stop_id",
        )
    )
    lines: dict[int, list[ReturnLine]] = {}
    for point_id, number, name, spec, quantity, stop_id in rows:
        lines.setdefault(point_id, []).append(
            ReturnLine(point_id, number, f"{name} {spec}".strip(), quantity, stop_id is not None)
        )
    return lines


def returns_text(lines: list[ReturnLine]) -> str:
    """One cell: 番茄 500g×2；鸡蛋 10枚×1 (per product, summed)."""
    units: dict[str, int] = {}
    for line in lines:
        units[line.product] = units.get(line.product, 0) + line.quantity
    return "；".join(f"{product}×{q}" for product, q in units.items())
