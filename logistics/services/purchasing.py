"""Purchasing (集中采购): purchase orders from the wave's demand, receiving, shortage cuts.

Drafting (`draft_purchase_orders`, called by the cutoff wave)
    For each SKU of the wave's demand: need = demand − on hand (InventoryItem
    of the warehouse) − inbound (units of lines not yet received on the day's
    SENT / PARTLY_RECEIVED purchase orders of the same warehouse). A positive
    need is ordered from the product's supplier: at least the SKU's minimum
    order quantity, rounded up to whole cases (`order_quantity`).
    One DRAFT purchase order per supplier, warehouse and day (a partial unique
    index). A rerun of the wave refreshes the drafts in place: the same
    numbers, lines updated / added / removed, a draft with nothing left to
    order deleted. A purchase order that was SENT (or received) is never
    changed: if the new demand needs more than it brings, the extra need is
    listed by `purchase_plan(...).problems` ("more needed") and shown on the
    purchasing pages; cancel it and redraft, or order the rest by hand.
    A SKU without a supplier cannot be ordered (a problem). A SKU without a
    cost price is ordered at 0.00 and listed as a problem; sending refuses a
    purchase order while any line still has no cost price (it takes a cost
    price set since drafting).

Sending, cancelling, receiving
    Every move goes through `tuangou.statemachine.guard` with
    PURCHASE_TRANSITIONS and a compare-and-set on the status, under the
    purchase order's row lock. A second send/cancel of the same order returns
    it unchanged. Receiving records, per line, what really arrived (once: a
    line's received quantity is final), adds it to the warehouse's
    InventoryItem.on_hand (an upsert adding in SQL) and moves the order to
    partly received (some lines still expected) or received (all recorded).
    The same receiving saved twice (a double click, two workers) changes
    nothing the second time and returns `already_done=True`.

Shortage cuts
    When a received line brings less than its wave needs net of the stock
    that was on hand or inbound when it was drafted (shortfall =
    min(demand as drafted, what the wave's orders still want now) − on_hand −
    received: units refunded since drafting never cause a cut; demand that
    grew since shows as a "more_needed" problem, not as a cut), the
    shortfall is cut from that SKU's wave
    lines, latest orders first (highest created_at, then pk; one order's
    line takes as much as it can before the next is touched, so as few
    shoppers as possible lose out), refunded through
    `orders.services.refunds.refund_lines` (reason shortage: one refund per
    order, one send task per refund, the leader's commission reversed), each
    shopper told (a "shortage" notice per line), and recorded as one
    ShortageCut per purchase order line (a one-to-one: exactly once). The
    wave's documents are reduced in the same transaction: WaveLine, PackItem,
    PickItem, WaveDemand quantities, WaveLabel counts, the wave's unit
    count, and the loads of the cut points' stops and their runs (orders,
    crates, weight by the wave's own rule), so every document shows what will
    really go out. A purchase order without a wave (made by hand) cuts nothing.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tuangou.money import ZERO, to_money
from tuangou.timeutils import to_local

from ..models import (
    PURCHASE_TRANSITIONS,
    InventoryItem,
    PickItem,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseStatus,
    ShortageCut,
    Wave,
    WaveDemand,
    WaveLine,
    guard,
)

logger = logging.getLogger("tuangou.purchasing")

WHAT = gettext_lazy("Purchase order")

# Purchase orders whose unreceived lines are on their way to the warehouse.
INBOUND = [PurchaseStatus.SENT, PurchaseStatus.PARTLY_RECEIVED]
OPEN_FOR_RECEIVING = INBOUND


class PurchasingError(Exception):
    """A refused purchasing action; `.message` is the translated sentence for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- drafting -------------------------------------------------------------------------


def order_quantity(*, need: int, case_pack: int, min_order_quantity: int) -> int:
    """Units to order for a need: 0 for none, else at least the MOQ, in whole cases."""
    if need <= 0:
        return 0
    units = max(need, min_order_quantity)
    pack = max(case_pack, 1)
    return -(-units // pack) * pack


def new_purchase_order_number(now=None) -> str:
    """ "PO" and 19 digits, like an order number: local time to the ms, 4 random digits."""
    moment = to_local(now or timezone.now())
    return f"PO{moment:%y%m%d%H%M%S}{moment.microsecond // 1000:03d}{secrets.randbelow(10000):04d}"


@dataclass(frozen=True)
class PlannedLine:
    """One SKU of a wave's demand and what to order of it."""

    sku_id: int
    sku_name: str
    supplier_id: int | None
    demand: int
    on_hand: int  # on the warehouse floor now
    inbound: int  # on the day's sent purchase orders, not yet received
    case_pack: int
    min_order_quantity: int
    cost_price: Decimal | None

    @property
    def need(self) -> int:
        return self.demand - self.on_hand - self.inbound

    @property
    def quantity(self) -> int:
        return order_quantity(
            need=self.need, case_pack=self.case_pack, min_order_quantity=self.min_order_quantity
        )

    @property
    def unit_cost(self) -> Decimal:
        return to_money(self.cost_price) if self.cost_price is not None else ZERO


@dataclass(frozen=True)
class PurchaseProblem:
    """Something staff must fix by hand; `kind` is a code, `text` the sentence."""

    kind: str  # no_supplier | no_cost_price | more_needed
    sku_id: int
    text: str
    purchase_order_number: str = ""


@dataclass
class PurchasePlan:
    wave: Wave
    lines: list[PlannedLine]
    # Suppliers whose day's purchase order is past draft: {supplier_id: PurchaseOrder}.
    fixed: dict[int, PurchaseOrder] = field(default_factory=dict)

    @property
    def problems(self) -> list[PurchaseProblem]:
        found: list[PurchaseProblem] = []
        for line in self.lines:
            if line.supplier_id is None:
                if line.need > 0:
                    found.append(
                        PurchaseProblem(
                            "no_supplier",
                            line.sku_id,
                            _("%(sku)s has no supplier: %(n)d units cannot be ordered.")
                            % {"sku": line.sku_name, "n": line.need},
                        )
                    )
                continue
            fixed = self.fixed.get(line.supplier_id)
            if fixed is not None:
                if line.need > 0:
                    found.append(
                        PurchaseProblem(
                            "more_needed",
                            line.sku_id,
                            _(
                                "%(sku)s: %(n)d more units are needed, but purchase order "
                                "%(number)s is already %(status)s."
                            )
                            % {
                                "sku": line.sku_name,
                                "n": line.need,
                                "number": fixed.number,
                                "status": fixed.get_status_display(),
                            },
                            fixed.number,
                        )
                    )
                continue
            if line.quantity and line.cost_price is None:
                found.append(
                    PurchaseProblem(
                        "no_cost_price",
                        line.sku_id,
                        _("%(sku)s has no cost price: ordered at ¥0.00 until one is set.")
                        % {"sku": line.sku_name},
                    )
                )
        return found

    def to_order(self) -> dict[int, list[PlannedLine]]:
        """{supplier_id: lines to order} for suppliers whose purchase order is still a draft."""
        wanted: dict[int, list[PlannedLine]] = defaultdict(list)
        for line in self.lines:
            if line.supplier_id is None or line.supplier_id in self.fixed or not line.quantity:
                continue
            wanted[line.supplier_id].append(line)
        return dict(wanted)


def purchase_plan(*, wave: Wave, open_orders: list[PurchaseOrder] | None = None) -> PurchasePlan:
    """What the wave needs bought, per SKU (one query; two without `open_orders`)."""
    on_hand = InventoryItem.objects.filter(
        warehouse_id=wave.warehouse_id, sku_id=OuterRef("sku_id")
    ).values("on_hand")[:1]
    inbound = (
        PurchaseOrderLine.objects.filter(
            purchase_order__warehouse_id=wave.warehouse_id,
            purchase_order__delivery_date=wave.delivery_date,
            purchase_order__status__in=INBOUND,
            received_quantity__isnull=True,
            sku_id=OuterRef("sku_id"),
        )
        .order_by()
        .values("sku_id")
        .annotate(s=Sum("quantity"))
        .values("s")
    )
    rows = (
        WaveDemand.objects.filter(wave_id=wave.pk)
        .annotate(
            on_hand_now=Coalesce(Subquery(on_hand), Value(0), output_field=IntegerField()),
            inbound_now=Coalesce(Subquery(inbound), Value(0), output_field=IntegerField()),
        )
        .values_list(
            "sku_id",
            "sku__product__name",
            "sku__spec",
            "sku__product__supplier_id",
            "quantity",
            "on_hand_now",
            "inbound_now",
            "sku__case_pack",
            "sku__min_order_quantity",
            "sku__cost_price",
        )
        .order_by("sku_id")
    )
    lines = []
    for sku_id, name, spec, supplier_id, demand, stock, inbound_units, pack, moq, cost in rows:
        lines.append(
            PlannedLine(
                sku_id=sku_id,
                sku_name=f"{name} {spec}",
                supplier_id=supplier_id,
                demand=demand,
                on_hand=max(stock, 0),
                inbound=inbound_units,
                case_pack=pack,
                min_order_quantity=moq,
                cost_price=cost,
            )
        )
    if open_orders is None:
        open_orders = list(_open_orders(wave))
    fixed = {po.supplier_id: po for po in open_orders if po.status != PurchaseStatus.DRAFT}
    return PurchasePlan(wave=wave, lines=lines, fixed=fixed)


def _open_orders(wave: Wave):
    return (
        PurchaseOrder.objects.filter(
            warehouse_id=wave.warehouse_id, delivery_date=wave.delivery_date
        )
        .exclude(status=PurchaseStatus.CANCELLED)
        .order_by("pk")
    )


def draft_purchase_orders(*, wave: Wave) -> list[PurchaseOrder]:
    """Write or refresh the draft purchase orders of a wave (one per supplier).

    Idempotent: a rerun updates the same drafts in place (same numbers), adds
    and removes lines, deletes a draft left with nothing to order, and never
    touches a purchase order that was sent. Returns the drafts, by supplier.
    A constant number of statements whatever the number of SKUs or suppliers
    (lock, plan, open orders, insert, delete, upsert, clean-up, read back).
    """
    with transaction.atomic():
        # One drafting per wave at a time: a second one waits, then sees the first's rows.
        wave = Wave.objects.select_for_update().get(pk=wave.pk)
        existing = list(_open_orders(wave).select_for_update())
        plan = purchase_plan(wave=wave, open_orders=existing)
        wanted = plan.to_order()
        drafts = {po.supplier_id: po for po in existing if po.status == PurchaseStatus.DRAFT}
        missing = sorted(set(wanted) - set(drafts))
        for _attempt in range(3):
            if not missing:
                break
            # A number already taken (same millisecond and random digits) skips
            # that insert: it is simply tried again with a new number.
            _create_drafts(wave, missing)
            drafts = {
                po.supplier_id: po
                for po in _open_orders(wave).select_for_update()
                if po.status == PurchaseStatus.DRAFT
            }
            missing = sorted(set(wanted) - set(drafts))
        if missing:  # pragma: no cover - three number clashes in a row
            raise PurchasingError(_("This purchase order was changed by someone else. Reload."))
        keep = [(drafts[s].pk, line.sku_id) for s, lines in wanted.items() for line in lines]
        draft_ids = [po.pk for po in drafts.values()]
        if draft_ids:
            _delete_lines_not_in(draft_ids, keep)
        if keep:
            PurchaseOrderLine.objects.bulk_create(
                [
                    PurchaseOrderLine(
                        purchase_order_id=drafts[supplier_id].pk,
                        sku_id=line.sku_id,
                        demand=line.demand,
                        on_hand=line.on_hand + line.inbound,
                        quantity=line.quantity,
                        unit_cost=line.unit_cost,
                    )
                    for supplier_id, lines in sorted(wanted.items())
                    for line in lines
                ],
                update_conflicts=True,
                unique_fields=["purchase_order", "sku"],
                update_fields=["demand", "on_hand", "quantity", "unit_cost"],
            )
        empty = [po.pk for s, po in drafts.items() if s not in wanted]
        if empty:
            # Drafts are the wave's working copy: one with nothing to order goes.
            PurchaseOrder.objects.filter(pk__in=empty, status=PurchaseStatus.DRAFT).delete()
        kept = [po.pk for s, po in drafts.items() if s in wanted]
        PurchaseOrder.objects.filter(pk__in=kept).exclude(wave_id=wave.pk).update(wave=wave)
        result = list(
            PurchaseOrder.objects.filter(pk__in=kept)
            .select_related("supplier")
            .order_by("supplier__name", "pk")
        )
    logger.info(
        "wave %s: %d draft purchase orders, %d problems",
        wave.pk,
        len(result),
        len(plan.problems),
    )
    return result


def _create_drafts(wave: Wave, supplier_ids: list[int]) -> None:
    """Insert a draft per supplier; a concurrent insert of the same one is skipped
    (ON CONFLICT DO NOTHING on the one-open-per-supplier-day index)."""
    numbers: set[str] = set()
    while len(numbers) < len(supplier_ids):
        numbers.add(new_purchase_order_number())
    PurchaseOrder.objects.bulk_create(
        [
            PurchaseOrder(
                number=number,
                supplier_id=supplier_id,
                warehouse_id=wave.warehouse_id,
                delivery_date=wave.delivery_date,
                wave=wave,
                status=PurchaseStatus.DRAFT,
            )
            for supplier_id, number in zip(supplier_ids, sorted(numbers), strict=True)
        ],
        ignore_conflicts=True,
    )


def _delete_lines_not_in(draft_ids: list[int], keep: list[tuple[int, int]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM logistics_purchaseorderline l
            WHERE l.purchase_order_id = ANY(%s)
              AND NOT EXISTS (
                SELECT 1 FROM unnest(%s::bigint[], %s::bigint[]) AS k(po, sku)
                WHERE k.po = l.purchase_order_id AND k.sku = l.sku_id
              )
            """,
            [draft_ids, [po for po, _s in keep], [sku for _p, sku in keep]],
        )


# --- sending and cancelling -----------------------------------------------------------


def _locked(purchase_order: PurchaseOrder) -> PurchaseOrder:
    return (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("wave", "supplier", "warehouse")
        .get(pk=purchase_order.pk)
    )


def _move(po: PurchaseOrder, new: str, **fields) -> None:
    """Compare-and-set the status (the row is locked: a miss means a bug or a race)."""
    guard(PURCHASE_TRANSITIONS, po.status, new, WHAT)
    moved = PurchaseOrder.objects.filter(pk=po.pk, status=po.status).update(status=new, **fields)
    if not moved:  # pragma: no cover - the row lock makes this unreachable
        raise PurchasingError(_("This purchase order was changed by someone else. Reload."))
    po.status = new
    for name, value in fields.items():
        setattr(po, name, value)


def send_purchase_order(*, purchase_order: PurchaseOrder, actor=None) -> PurchaseOrder:
    """draft → sent: the supplier has it. Lines still at ¥0.00 take a cost price set
    since drafting; a line with none refuses the send. Sending twice is a no-op."""
    with transaction.atomic():
        po = _locked(purchase_order)
        if po.status == PurchaseStatus.SENT:
            return po
        guard(PURCHASE_TRANSITIONS, po.status, PurchaseStatus.SENT, WHAT)
        lines = list(po.lines.select_related("sku__product").order_by("pk"))
        if not lines:
            raise PurchasingError(_("This purchase order has no lines: there is nothing to send."))
        unpriced = [line for line in lines if line.unit_cost == ZERO]
        without = [line for line in unpriced if line.sku.cost_price is None]
        if without:
            raise PurchasingError(
                _("Set a cost price for %(skus)s before sending.")
                % {"skus": "、".join(str(line.sku) for line in without)}
            )
        for line in unpriced:
            if line.sku.cost_price:
                PurchaseOrderLine.objects.filter(pk=line.pk).update(
                    unit_cost=to_money(line.sku.cost_price)
                )
        _move(po, PurchaseStatus.SENT, sent_at=timezone.now())
    logger.info("purchase order %s sent by %s", po.number, getattr(actor, "pk", None))
    return po


def cancel_purchase_order(
    *, purchase_order: PurchaseOrder, actor=None, reason: str = ""
) -> PurchaseOrder:
    """draft/sent → cancelled. Nothing is cut: redraft the wave to order elsewhere, or
    receive 0 to cut the orders. Cancelling twice is a no-op."""
    with transaction.atomic():
        po = _locked(purchase_order)
        if po.status == PurchaseStatus.CANCELLED:
            return po
        note = f"{po.note} {reason}".strip()[:200] if reason else po.note
        _move(po, PurchaseStatus.CANCELLED, note=note)
    logger.info("purchase order %s cancelled by %s", po.number, getattr(actor, "pk", None))
    return po


# --- receiving ------------------------------------------------------------------------


@dataclass
class CutLine:
    order_id: int
    order_number: str
    order_line_id: int
    units: int
    amount: Decimal


@dataclass
class LineCut:
    """The shortage cut of one purchase order line and the refunds it made."""

    line: PurchaseOrderLine
    cut: ShortageCut
    refunds: list = field(default_factory=list)
    lines: list[CutLine] = field(default_factory=list)


@dataclass
class ReceivingResult:
    purchase_order: PurchaseOrder
    received: dict[int, int] = field(default_factory=dict)  # line id → units, recorded now
    cuts: list[LineCut] = field(default_factory=list)
    already_done: bool = False

    @property
    def refunded_total(self) -> Decimal:
        return sum((r.amount for c in self.cuts for r in c.refunds), ZERO)


def _clean_received(received) -> dict[int, int]:
    if not isinstance(received, dict):
        raise PurchasingError(_("Enter what arrived for at least one line."))
    cleaned: dict[int, int] = {}
    for key, value in received.items():
        try:
            line_id = int(key)
        except (TypeError, ValueError):
            raise PurchasingError(_("That line is not on this purchase order.")) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise PurchasingError(_("A received quantity must be a whole number."))
        if value < 0:
            raise PurchasingError(_("A received quantity cannot be negative."))
        cleaned[line_id] = value
    if not cleaned:
        raise PurchasingError(_("Enter what arrived for at least one line."))
    return cleaned


def receive_purchase_order(
    *, purchase_order: PurchaseOrder, received: dict[int, int], actor
) -> ReceivingResult:
    """Record what really arrived ({line id: units}), add it to stock, cut shortages.

    All or nothing: a line of another purchase order, a negative quantity,
    more than was ordered, or a line already received with another number
    raises PurchasingError and writes nothing. Lines not named stay expected
    (partly received). Saved again with the same numbers: nothing changes and
    `already_done` is True. Under the purchase order's row lock, so two
    workers receiving at once run one after the other.
    """
    from orders.services.checkout import CheckoutError

    cleaned = _clean_received(received)
    with transaction.atomic():
        # Locks in the drafting's order, wave then purchase order: a cut shrinks the
        # wave's rows, and a rerun of the wave must not interleave with it.
        wave_id = (
            PurchaseOrder.objects.filter(pk=purchase_order.pk)
            .values_list("wave_id", flat=True)
            .first()
        )
        if wave_id is not None:
            list(Wave.objects.select_for_update().filter(pk=wave_id).values_list("pk"))
        po = _locked(purchase_order)
        lines = {
            line.pk: line
            for line in po.lines.select_for_update().select_related("sku__product").order_by("pk")
        }
        for line_id, units in sorted(cleaned.items()):
            line = lines.get(line_id)
            if line is None:
                raise PurchasingError(_("That line is not on this purchase order."))
            if units > line.quantity:
                raise PurchasingError(
                    _("%(sku)s: %(received)d received is more than the %(ordered)d ordered.")
                    % {"sku": line.sku, "received": units, "ordered": line.quantity}
                )
            if line.received_quantity is not None and line.received_quantity != units:
                raise PurchasingError(
                    _("%(sku)s was already received as %(n)d; it cannot be changed.")
                    % {"sku": line.sku, "n": line.received_quantity}
                )
        new = {pk: units for pk, units in cleaned.items() if lines[pk].received_quantity is None}
        if not new:
            # The same receiving again (double click, second worker): nothing to do.
            return ReceivingResult(purchase_order=po, already_done=True)
        if po.status not in OPEN_FOR_RECEIVING:
            guard(PURCHASE_TRANSITIONS, po.status, PurchaseStatus.RECEIVED, WHAT)
        done = all(line.received_quantity is not None or pk in new for pk, line in lines.items())
        now = timezone.now()
        _record_received(po, new)
        _add_to_stock(po, {lines[pk].sku_id: units for pk, units in new.items() if units})
        if done:
            _move(po, PurchaseStatus.RECEIVED, received_at=now)
        elif po.status != PurchaseStatus.PARTLY_RECEIVED:
            _move(po, PurchaseStatus.PARTLY_RECEIVED)
        result = ReceivingResult(purchase_order=po, received=new)
        # The demand as drafted, or less if the wave's orders want less now
        # (refunds, cuts): never cut for orders that no longer want the goods.
        # Wanted units only ever go down once a wave is frozen, so a line found
        # not short without locks stays not short.
        for pk in new:
            lines[pk].received_quantity = new[pk]
        short = _short_lines([lines[pk] for pk in sorted(new)], po=po)
        if short:
            # Every order that may lose units is locked at once, in pk order,
            # before any is refunded; then the shortfalls are measured again.
            _lock_orders_of(po.wave_id, [line.sku_id for line in short])
            short = _short_lines(short, po=po)
        for line, shortfall in short.items():
            try:
                cut = _cut_shortage(po=po, line=line, units=shortfall, actor=actor)
            except CheckoutError as exc:  # pragma: no cover - orders are locked first
                # A refund the orders service refused: nothing is kept (atomic).
                raise PurchasingError(exc.message) from exc
            if cut is not None:
                result.cuts.append(cut)
    logger.info(
        "purchase order %s: received %s by %s, %d cuts",
        po.number,
        new,
        getattr(actor, "pk", None),
        len(result.cuts),
    )
    return result


def _short_lines(lines, *, po: PurchaseOrder) -> dict:
    """{line: units short} of received lines, in line order (one query)."""
    if po.wave_id is None:
        return {}
    demand_now = _wave_demand(po, [line.sku_id for line in lines])
    short = {}
    for line in lines:
        wanted = min(line.demand, demand_now.get(line.sku_id, 0))
        shortfall = wanted - line.on_hand - line.received_quantity
        if shortfall > 0:
            short[line] = shortfall
    return short


def _lock_orders_of(wave_id: int, sku_ids: list[int]) -> None:
    from orders.models import Order

    list(
        Order.objects.select_for_update()
        .filter(
            pk__in=WaveLine.objects.filter(wave_id=wave_id, sku_id__in=sku_ids).values("order_id"),
            status__in=_CUTTABLE,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _wave_demand(po: PurchaseOrder, sku_ids: list[int]) -> dict[int, int]:
    """{sku_id: units} the PO's wave's orders still want, read from the order lines
    (what was refunded or handed out since the wave froze them no longer counts).
    Empty for a PO without a wave. One query."""
    if po.wave_id is None:
        return {}
    still = Greatest(
        Least(
            F("quantity"),
            F("order_line__quantity")
            - F("order_line__refunded_quantity")
            - F("order_line__handed_out_quantity"),
        ),
        Value(0),
    )
    rows = (
        WaveLine.objects.filter(wave_id=po.wave_id, sku_id__in=sku_ids, order__status__in=_CUTTABLE)
        .order_by()
        .values("sku_id")
        .annotate(units=Sum(still))
        .values_list("sku_id", "units")
    )
    return {sku_id: int(units or 0) for sku_id, units in rows}


def _record_received(po: PurchaseOrder, new: dict[int, int]) -> None:
    """Set each line's received quantity once (compare-and-set on NULL)."""
    ids = sorted(new)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE logistics_purchaseorderline l SET received_quantity = r.units
            FROM unnest(%s::bigint[], %s::int[]) AS r(id, units)
            WHERE l.id = r.id AND l.purchase_order_id = %s AND l.received_quantity IS NULL
            """,
            [ids, [new[pk] for pk in ids], po.pk],
        )
        if cursor.rowcount != len(ids):  # pragma: no cover - lines are locked
            raise PurchasingError(_("This purchase order was changed by someone else. Reload."))


def _add_to_stock(po: PurchaseOrder, by_sku: dict[int, int]) -> None:
    """on_hand += units per SKU of the warehouse (inserting the row when there is none)."""
    if not by_sku:
        return
    skus = sorted(by_sku)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO logistics_inventoryitem AS i (warehouse_id, sku_id, on_hand, updated_at)
            SELECT %s, s.sku, s.units, %s FROM unnest(%s::bigint[], %s::int[]) AS s(sku, units)
            ON CONFLICT (warehouse_id, sku_id)
            DO UPDATE SET on_hand = i.on_hand + EXCLUDED.on_hand, updated_at = EXCLUDED.updated_at
            """,
            # The app's clock, not the database's: tests and the demo move it.
            [po.warehouse_id, timezone.now(), skus, [by_sku[s] for s in skus]],
        )


# --- shortage cuts --------------------------------------------------------------------

# Orders whose goods have not reached the shopper: a shortage can still be cut from them.
_CUTTABLE = ["confirmed", "in_delivery"]  # OrderStatus values (orders is imported lazily)


def _cut_shortage(*, po: PurchaseOrder, line: PurchaseOrderLine, units: int, actor):
    """Cut `units` of the line's SKU from the wave's orders, latest orders first, refund
    them, tell the shoppers, record the cut once and shrink the wave's documents."""
    from orders.models import Order, OrderLine, RefundReason
    from orders.notices import notify
    from orders.services.refunds import refund_lines

    wave_lines = list(
        WaveLine.objects.filter(wave_id=po.wave_id, sku_id=line.sku_id, quantity__gt=0)
        .order_by("order_id")
        .values("pk", "order_line_id", "order_id", "user_id", "pickup_point_id", "quantity")
    )
    order_ids = sorted({w["order_id"] for w in wave_lines})
    # Lock the candidate orders in pk order (refund_lines locks them again, a no-op).
    orders = {
        o.pk: o
        for o in Order.objects.select_for_update()
        .filter(pk__in=order_ids, status__in=_CUTTABLE)
        .order_by("pk")
    }
    order_lines = {
        ol.pk: ol
        for ol in OrderLine.objects.filter(
            pk__in=[w["order_line_id"] for w in wave_lines], order_id__in=list(orders)
        )
    }
    plan = allocate_cut(wave_lines=wave_lines, orders=orders, order_lines=order_lines, units=units)
    if not plan:
        logger.warning("PO line %s: %d short, nothing left to cut", line.pk, units)
        return None
    cut_units = sum(take for _w, take in plan)
    # The one-to-one makes the cut exactly once; the caller holds the PO lock.
    cut = ShortageCut.objects.create(purchase_order_line=line, units=cut_units)
    result = LineCut(line=line, cut=cut)
    by_order: dict[int, dict[int, int]] = defaultdict(dict)
    for wave_line, take in plan:
        by_order[wave_line["order_id"]][wave_line["order_line_id"]] = take
    for order_id in sorted(by_order):
        order = orders[order_id]
        refund = refund_lines(
            order=order,
            quantities=by_order[order_id],
            reason=RefundReason.SHORTAGE,
            actor=actor,
            note=f"short delivery {po.number}",
        )
        result.refunds.append(refund)
        amounts = {rl.order_line_id: rl.amount for rl in refund.lines.all()}
        for order_line_id, take in sorted(by_order[order_id].items()):
            ol = order_lines[order_line_id]
            notify(
                order=order,
                kind="shortage",
                product=f"{ol.product_name} {ol.spec}",
                amount=amounts[order_line_id],
            )
            result.lines.append(
                CutLine(
                    order_id=order_id,
                    order_number=order.number,
                    order_line_id=order_line_id,
                    units=take,
                    amount=amounts[order_line_id],
                )
            )
    cut.refunds.set(result.refunds)
    _shrink_wave(po.wave_id, line.sku_id, plan)
    return result


def allocate_cut(
    *, wave_lines: list[dict], orders: dict, order_lines: dict, units: int
) -> list[tuple[dict, int]]:
    """Which wave lines lose how many units: [(wave line, units)].

    Latest orders first (placed last, then highest pk): the earliest buyers
    claimed the stock first, and a deterministic order means the same
    shortage always cuts the same lines. A line gives up to what is still
    outstanding on it (not refunded, not handed out) and in the wave. Orders
    no longer cuttable (not in `orders`) are skipped. Fewer units than
    `units` are cut when the wave holds fewer.
    """
    candidates = [w for w in wave_lines if w["order_id"] in orders]
    candidates.sort(
        key=lambda w: (orders[w["order_id"]].created_at, w["order_id"], w["order_line_id"]),
        reverse=True,
    )
    plan: list[tuple[dict, int]] = []
    for wave_line in candidates:
        if units <= 0:
            break
        ol = order_lines.get(wave_line["order_line_id"])
        if ol is None:
            continue
        take = min(units, wave_line["quantity"], ol.outstanding_quantity)
        if take > 0:
            plan.append((wave_line, take))
            units -= take
    return plan


def _shrink_wave(wave_id: int, sku_id: int, plan: list[tuple[dict, int]]) -> None:
    """The wave's documents lose the cut units (set-based: one UPDATE per table)."""
    total = sum(take for _w, take in plan)
    per_point: dict[int, int] = defaultdict(int)
    per_label: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for wave_line, take in plan:
        per_point[wave_line["pickup_point_id"]] += take
        label = per_label[(wave_line["pickup_point_id"], wave_line["user_id"])]
        label[0] += take
        label[1] += 1 if take == wave_line["quantity"] else 0
    points = sorted(per_point)
    labels = sorted(per_label)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE logistics_waveline w SET quantity = GREATEST(w.quantity - c.units, 0)
            FROM unnest(%s::bigint[], %s::int[]) AS c(id, units) WHERE w.id = c.id
            """,
            [[w["pk"] for w, _t in plan], [t for _w, t in plan]],
        )
        cursor.execute(
            """
            UPDATE logistics_packitem p SET quantity = GREATEST(p.quantity - c.units, 0)
            FROM unnest(%s::bigint[], %s::int[]) AS c(point, units)
            WHERE p.wave_id = %s AND p.sku_id = %s AND p.pickup_point_id = c.point
            """,
            [points, [per_point[p] for p in points], wave_id, sku_id],
        )
        cursor.execute(
            """
            UPDATE logistics_wavelabel b
            SET unit_count = GREATEST(b.unit_count - c.units, 0),
                line_count = GREATEST(b.line_count - c.gone, 0)
            FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::int[])
                AS c(point, shopper, units, gone)
            WHERE b.wave_id = %s AND b.pickup_point_id = c.point AND b.user_id = c.shopper
            """,
            [
                [p for p, _u in labels],
                [u for _p, u in labels],
                [per_label[k][0] for k in labels],
                [per_label[k][1] for k in labels],
                wave_id,
            ],
        )
    PickItem.objects.filter(wave_id=wave_id, sku_id=sku_id).update(
        quantity=_at_least_zero(F("quantity") - total)
    )
    _shrink_demand(wave_id, sku_id, total)
    _restow_stops(wave_id, points)
    gone = sum(1 for wave_line, take in plan if take == wave_line["quantity"])
    orders = sorted({wave_line["order_id"] for wave_line, _take in plan})
    with connection.cursor() as cursor:
        # Counts as a rerun would give: lines cut to 0 and orders left with
        # nothing no longer count (each order checked through its own lines).
        cursor.execute(
            """
            UPDATE logistics_wave SET
                unit_count = GREATEST(unit_count - %(units)s, 0),
                line_count = GREATEST(line_count - %(gone)s, 0),
                order_count = GREATEST(order_count - (
                    SELECT count(*) FROM unnest(%(orders)s::bigint[]) AS o(id)
                    WHERE NOT EXISTS (
                        SELECT 1 FROM orders_orderline ol
                        JOIN logistics_waveline w
                          ON w.wave_id = %(wave)s AND w.order_line_id = ol.id
                        WHERE ol.order_id = o.id AND w.quantity > 0
                    )
                ), 0)
            WHERE id = %(wave)s
            """,
            {"units": total, "gone": gone, "orders": orders, "wave": wave_id},
        )


# The stops' loads again from the (cut) packing list, the wave's own rule: per
# storage class ceil(weight / crate capacity), at least 1; only lines still
# packed count, so the numbers equal what a rerun of the wave would write.
_RESTOW_SQL = """
WITH per_class AS (
    SELECT pi.route_id, pi.pickup_point_id, p.storage_class,
           sum(pi.quantity::bigint * coalesce(s.weight_grams, 0)) AS weight
    FROM logistics_packitem pi
    JOIN catalog_sku s ON s.id = pi.sku_id
    JOIN catalog_product p ON p.id = s.product_id
    WHERE pi.wave_id = %(wave)s AND pi.route_id IS NOT NULL AND pi.quantity > 0
      AND pi.pickup_point_id = ANY(%(points)s)
    GROUP BY pi.route_id, pi.pickup_point_id, p.storage_class
), per_point AS (
    SELECT route_id, pickup_point_id, sum(weight)::bigint AS weight,
           sum(greatest(1, ceil(weight / %(crate)s::numeric)))::int AS crates
    FROM per_class
    GROUP BY route_id, pickup_point_id
), orders AS (
    SELECT pickup_point_id, count(DISTINCT order_id)::int AS order_count
    FROM logistics_waveline
    WHERE wave_id = %(wave)s AND route_id IS NOT NULL AND quantity > 0
      AND pickup_point_id = ANY(%(points)s)
    GROUP BY pickup_point_id
)
UPDATE logistics_runstop st
SET weight_grams = coalesce((
        SELECT pp.weight FROM per_point pp
        WHERE pp.route_id = r.route_id AND pp.pickup_point_id = st.pickup_point_id), 0),
    crates = coalesce((
        SELECT pp.crates FROM per_point pp
        WHERE pp.route_id = r.route_id AND pp.pickup_point_id = st.pickup_point_id), 0),
    order_count = coalesce((
        SELECT o.order_count FROM orders o WHERE o.pickup_point_id = st.pickup_point_id), 0)
FROM logistics_deliveryrun r
WHERE st.run_id = r.id AND r.wave_id = %(wave)s AND st.pickup_point_id = ANY(%(points)s)
"""

_RUN_TOTALS_SQL = """
UPDATE logistics_deliveryrun r
SET crates = t.crates, weight_grams = t.weight
FROM (
    SELECT st.run_id, sum(st.crates)::int AS crates, sum(st.weight_grams)::bigint AS weight
    FROM logistics_runstop st
    JOIN logistics_deliveryrun d ON d.id = st.run_id
    WHERE d.wave_id = %(wave)s
    GROUP BY st.run_id
) t
WHERE r.id = t.run_id
"""


def _restow_stops(wave_id: int, points: list[int]) -> None:
    """The cut points' stops (and their runs) carry the lighter load."""
    from .wave import crate_capacity_grams

    params = {"wave": wave_id, "points": points, "crate": crate_capacity_grams()}
    with connection.cursor() as cursor:
        cursor.execute(_RESTOW_SQL, params)
        if cursor.rowcount:
            cursor.execute(_RUN_TOTALS_SQL, params)


def _at_least_zero(expression):
    return Greatest(expression, Value(0))


def _shrink_demand(wave_id: int, sku_id: int, units: int) -> None:
    """The SKU's demand loses the units and their weight."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE logistics_wavedemand d
            SET quantity = GREATEST(d.quantity - %s, 0),
                weight_grams = GREATEST(d.weight_grams - %s * COALESCE(s.weight_grams, 0), 0)
            FROM catalog_sku s
            WHERE d.wave_id = %s AND d.sku_id = %s AND s.id = d.sku_id
            """,
            [units, units, wave_id, sku_id],
        )


# --- stock leaving the warehouse ------------------------------------------------------


def issue_run_stock(*, run, now=None) -> int:
    """A run's goods left the warehouse: take its packed units off InventoryItem.on_hand.

    The units are the run's packing list (PackItem of its wave and route, after
    any shortage cut), per SKU, in one UPDATE; stock never goes below 0 (goods
    that were never received into stock are simply not there to take). Not
    idempotent on its own: call it exactly once per run, in the transaction
    whose compare-and-set moved the run to departed (runs.depart_run). Without
    it, the next night's drafting would count goods that already left as on
    hand and order too little. Returns the run's packed units found in stock rows.
    """
    units = issue_packed_stock(
        wave_id=run.wave_id,
        route_id=run.route_id,
        warehouse_id=run.route.warehouse_id,
        now=now,
    )
    logger.info("run %s left: %d units off the warehouse's stock", run.pk, units)
    return units


def issue_packed_stock(*, wave_id: int, route_id: int | None, warehouse_id: int, now=None) -> int:
    """Take a wave's packed units of one route (None: the points on no route)
    off InventoryItem.on_hand, per SKU, in one UPDATE, never below 0.

    Not idempotent: the caller's compare-and-set (a run departing, the wave's
    unrouted_issued_at) makes it happen once. Returns the units found in stock rows.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH leaving AS (
                SELECT p.sku_id, sum(p.quantity)::int AS units
                FROM logistics_packitem p
                WHERE p.wave_id = %(wave)s AND p.quantity > 0
                  AND (p.route_id = %(route)s OR (%(route)s::bigint IS NULL AND p.route_id IS NULL))
                GROUP BY p.sku_id
            ), taken AS (
                UPDATE logistics_inventoryitem i
                SET on_hand = GREATEST(i.on_hand - l.units, 0), updated_at = %(now)s
                FROM leaving l
                WHERE i.warehouse_id = %(warehouse)s AND i.sku_id = l.sku_id
                RETURNING i.on_hand, l.units
            )
            SELECT coalesce(sum(units), 0) FROM taken
            """,
            {
                "wave": wave_id,
                "route": route_id,
                "now": now or timezone.now(),
                "warehouse": warehouse_id,
            },
        )
        (units,) = cursor.fetchone()
    return int(units)
