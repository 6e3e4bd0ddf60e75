"""Every write of the catalog: products, images, shelf state and stock.

The public API other apps use:

    reserve_stock(*, lines, warehouse, delivery_date, reference, actor=None) -> Reservation
    release_stock(*, reference, actor=None, note="") -> dict[int, int]
    delivery_date_for(*, warehouse, at=None, sku=None) -> date
    order_deadline(*, warehouse, at=None, sku=None) -> OrderDeadline
    OutOfStock, InvalidPurchase (both CatalogError, with a Chinese `message`)

A hot SKU's stock row lock is the throughput limit of the whole shop (it is
held until COMMIT's disk flush), so reserve_stock does its reads before the
transaction and writes each line's conditional stock UPDATE together with its
ledger row, in one statement, the last of the line. Callers (orders) should
call it last in their transaction too and publish tasks with
transaction.on_commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.timeutils import local_today

from . import pinyin, storefront_cache
from .cutoff import OrderDeadline, delivery_date_for, order_deadline
from .images import ImageRejected, process_upload
from .models import (
    Product,
    ProductImage,
    Sku,
    StockLedger,
    StockReason,
    StockRecord,
    Warehouse,
)
from .richtext import sanitize_description

__all__ = [
    "CatalogError",
    "ImageRejected",
    "InvalidPurchase",
    "InvalidStockChange",
    "OrderDeadline",
    "OutOfStock",
    "Reservation",
    "add_product_image",
    "close_stock",
    "delete_product_image",
    "delivery_date_for",
    "order_deadline",
    "release_stock",
    "release_stock_lines",
    "reserve_stock",
    "roll_stock_forward",
    "sanitize_description",
    "save_product",
    "set_on_shelf",
    "set_stock_quantity",
    "update_product_image",
]

log = logging.getLogger(__name__)

MAX_LINE_QUANTITY = 999  # more than any household buys for one morning
MAX_STOCK_QUANTITY = 100_000


# --- errors ----------------------------------------------------------------


class CatalogError(Exception):
    """A refusal with a message for the person on the page (Chinese by default)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidPurchase(CatalogError):
    """Bad lines: unknown SKU, off shelf, a quantity that is not 1..limit."""

    def __init__(self, message: str, *, sku_id: int | None = None):
        super().__init__(message)
        self.sku_id = sku_id


class OutOfStock(CatalogError):
    """Not enough left of one SKU for that delivery day; nothing was reserved."""

    def __init__(self, *, sku: Sku | None, sku_id: int, requested: int, available: int | None):
        name = str(sku) if sku else str(sku_id)
        if available is None:
            message = _("Not enough stock for %(name)s") % {"name": name}
        elif available <= 0:
            message = _("%(name)s is sold out") % {"name": name}
        else:
            message = _("Not enough stock for %(name)s: only %(left)d left") % {
                "name": name,
                "left": available,
            }
        super().__init__(message)
        self.sku = sku
        self.sku_id = sku_id
        self.requested = requested
        self.available = available


class InvalidStockChange(CatalogError):
    pass


# --- purchase lines ----------------------------------------------------------


def _merge_lines(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    """One quantity per SKU: two lines of one order on the same SKU count together."""
    wanted: dict[int, int] = {}
    for sku_id, quantity in lines:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidPurchase(_("Please enter a whole number of items."), sku_id=sku_id)
        if quantity < 1:
            raise InvalidPurchase(_("The quantity must be at least 1."), sku_id=sku_id)
        if quantity > MAX_LINE_QUANTITY:
            raise InvalidPurchase(
                _("At most %(max)d of one item per order.") % {"max": MAX_LINE_QUANTITY},
                sku_id=sku_id,
            )
        wanted[int(sku_id)] = wanted.get(int(sku_id), 0) + quantity
    if not wanted:
        raise InvalidPurchase(_("Nothing to buy."))
    return wanted


def _sellable_skus(wanted: dict[int, int], skus: dict[int, Sku] | None = None) -> dict[int, Sku]:
    if skus is None:
        skus = Sku.objects.select_related("product").in_bulk(list(wanted))
    for sku_id, quantity in wanted.items():
        sku = skus.get(sku_id)
        if sku is None:
            raise InvalidPurchase(_("This item does not exist."), sku_id=sku_id)
        if not sku.is_active or not sku.product.is_on_shelf:
            raise InvalidPurchase(
                _("%(name)s is no longer on sale.") % {"name": sku}, sku_id=sku_id
            )
        if sku.per_order_limit and quantity > sku.per_order_limit:
            raise InvalidPurchase(
                _("%(name)s is limited to %(limit)d per order.")
                % {"name": sku, "limit": sku.per_order_limit},
                sku_id=sku_id,
            )
    return skus


def check_purchase(
    *, lines: Iterable[tuple[int, int]], skus: dict[int, Sku] | None = None
) -> dict[int, Sku]:
    """Validate lines without touching stock (for a cart); raises InvalidPurchase.

    `skus` (id -> Sku with its product joined), when the caller read them
    already, are checked as they are: no query.
    """
    wanted = _merge_lines(lines)
    if skus is not None and set(wanted) <= set(skus):
        return _sellable_skus(wanted, skus=skus)
    return _sellable_skus(wanted)


# --- reserve / release -------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    reference: str
    warehouse_id: int
    delivery_date: date
    lines: dict[int, int] = field(default_factory=dict)  # sku_id -> quantity
    already_done: bool = False  # True when the reference had reserved before


class _Short(Exception):
    def __init__(self, sku_id: int):
        self.sku_id = sku_id


# reserve_stock's statement per SKU: the stock UPDATE (its condition inside)
# and the ledger row it explains, in one round trip. Ordinary orders take
# from general sale (quantity - held); from_hold orders take from the hold.
_RESERVE_SQL = """WITH moved AS (
    UPDATE catalog_stockrecord
    SET quantity = quantity - %(quantity)s, sold = sold + %(quantity)s, updated_at = %(stamp)s
    WHERE sku_id = %(sku)s AND warehouse_id = %(warehouse)s AND delivery_date = %(day)s
      AND quantity >= held + %(quantity)s
    RETURNING sku_id, warehouse_id, delivery_date
)
INSERT INTO catalog_stockledger
    (sku_id, warehouse_id, delivery_date, delta, held_delta, reason, note, reference,
     actor_id, created_at)
SELECT sku_id, warehouse_id, delivery_date, -%(quantity)s, NULL, %(reason)s, '',
       %(reference)s, %(actor)s, %(stamp)s
FROM moved
"""
_RESERVE_FROM_HOLD_SQL = """WITH moved AS (
    UPDATE catalog_stockrecord
    SET quantity = quantity - %(quantity)s, held = held - %(quantity)s,
        sold = sold + %(quantity)s, updated_at = %(stamp)s
    WHERE sku_id = %(sku)s AND warehouse_id = %(warehouse)s AND delivery_date = %(day)s
      AND held >= %(quantity)s
    RETURNING sku_id, warehouse_id, delivery_date
)
INSERT INTO catalog_stockledger
    (sku_id, warehouse_id, delivery_date, delta, held_delta, reason, note, reference,
     actor_id, created_at)
SELECT sku_id, warehouse_id, delivery_date, -%(quantity)s, -%(quantity)s, %(reason)s, '',
       %(reference)s, %(actor)s, %(stamp)s
FROM moved
"""


def reserve_stock(
    *,
    lines: list[tuple[int, int]],
    warehouse: Warehouse,
    delivery_date: date,
    reference: str,
    actor=None,
    skus: dict[int, Sku] | None = None,
    savepoint: bool = True,
    from_hold: bool = False,
) -> Reservation:
    """Take the lines of one order out of a delivery day's stock, all or nothing.

    Raises InvalidPurchase (bad lines, nothing happened) or OutOfStock (one SKU
    short, nothing reserved). Calling it again with the same reference returns
    the first reservation and changes nothing.

    A caller whose own transaction is the unit (place_order) passes
    savepoint=False to save two statements on the hottest path, and `skus`
    with the SKUs it already checked with check_purchase. Without a savepoint
    an OutOfStock carries available=None (no query is possible in a
    transaction that must roll back; the caller looks it up afterwards with
    `available_stock`), and a repeated reference raises IntegrityError.

    Ordinary orders take only what general sale has (quantity - held). With
    from_hold (group-buy orders) the units come out of the day's hold
    (hold_stock) instead; the ledger rows say so (held_delta), and a release
    before the day's cutoff puts them back into the hold.
    """
    if not reference:
        raise ValueError("reserve_stock needs a reference (the order number)")
    wanted = _merge_lines(lines)
    if skus is None or not set(wanted) <= set(skus):
        skus = _sellable_skus(wanted)
    # Only a caller's open transaction makes skipping the savepoint meaningful;
    # on its own the call is its own transaction either way.
    nested = not savepoint and transaction.get_connection().in_atomic_block
    # Deterministic order (by SKU pk): two orders sharing SKUs queue up behind
    # each other instead of deadlocking.
    order = sorted(wanted)
    try:
        with transaction.atomic(savepoint=not nested):
            stamp = timezone.now()
            actor_id = getattr(actor, "pk", None)
            with connection.cursor() as cursor:
                for sku_id in order:
                    quantity = wanted[sku_id]
                    # One statement per SKU: the conditional stock UPDATE and its
                    # ledger row together (a CTE), so the row lock it takes is the
                    # last thing each line does. The condition lives inside the
                    # UPDATE: PostgreSQL re-checks it after waiting for the row, so
                    # two buyers can never both take the last one; 0 rows = not
                    # enough (or no stock that day), and then no ledger row either.
                    cursor.execute(
                        _RESERVE_FROM_HOLD_SQL if from_hold else _RESERVE_SQL,
                        {
                            "quantity": quantity,
                            "sku": sku_id,
                            "warehouse": warehouse.pk,
                            "day": delivery_date,
                            "stamp": stamp,
                            "reason": StockReason.RESERVE,
                            "reference": reference,
                            "actor": actor_id,
                        },
                    )
                    if cursor.rowcount != 1:
                        raise _Short(sku_id)
    except _Short as short:
        # Rolled back and no lock held any more: now it is fine to read
        # (unless the caller's transaction is still open and doomed).
        available = (
            None
            if nested
            else available_stock(
                sku_id=short.sku_id, warehouse=warehouse, delivery_date=delivery_date
            )
        )
        raise OutOfStock(
            sku=skus.get(short.sku_id),
            sku_id=short.sku_id,
            requested=wanted[short.sku_id],
            available=available,
        ) from None
    except IntegrityError:
        if nested:
            raise
        # The unique (reference, sku, ..., reserve) entry exists: this order
        # reserved before (a retry or a double click). Return that.
        done = _entries(reference, StockReason.RESERVE)
        if not done:
            raise
        first = done[0]
        return Reservation(
            reference=reference,
            warehouse_id=first.warehouse_id,
            delivery_date=first.delivery_date,
            lines={e.sku_id: -e.delta for e in done},
            already_done=True,
        )
    return Reservation(
        reference=reference,
        warehouse_id=warehouse.pk,
        delivery_date=delivery_date,
        lines={sku_id: wanted[sku_id] for sku_id in order},
    )


def available_stock(
    *, sku_id: int, warehouse: Warehouse, delivery_date: date, from_hold: bool = False
) -> int:
    """What is left to sell of an SKU on a delivery day (0 when it has no stock row):
    general sale (quantity - held), or with from_hold what the hold has."""
    row = (
        StockRecord.objects.filter(sku_id=sku_id, warehouse=warehouse, delivery_date=delivery_date)
        .values_list("quantity", "held")
        .first()
    )
    if row is None:
        return 0
    return row[1] if from_hold else row[0] - row[1]


def _back_to_hold(entries: Iterable[StockLedger]) -> set[int]:
    """Ledger rows (of from_hold reservations) whose units go back to the hold:
    their delivery day's cutoff has not passed yet. Returns their pks."""
    drawn = [e for e in entries if e.held_delta]
    if not drawn:
        return set()
    warehouses = Warehouse.objects.in_bulk({e.warehouse_id for e in drawn})
    skus = Sku.objects.in_bulk({e.sku_id for e in drawn})
    moment = timezone.now()
    return {
        e.pk
        for e in drawn
        if delivery_date_for(warehouse=warehouses[e.warehouse_id], at=moment, sku=skus[e.sku_id])
        <= e.delivery_date
    }


def _entries(reference: str, reason: str) -> list[StockLedger]:
    return list(StockLedger.objects.filter(reference=reference, reason=reason).order_by("sku_id"))


def release_stock(*, reference: str, actor=None, note: str = "") -> dict[int, int]:
    """Give back everything `reference` reserved (order cancelled, unpaid, group failed).

    Idempotent: the second call finds nothing left to release and returns {}.
    Returns {sku_id: quantity} released by this call.
    """
    if not reference:
        raise ValueError("release_stock needs a reference")
    reserved = _entries(reference, StockReason.RESERVE)
    released = {
        (e.sku_id, e.warehouse_id, e.delivery_date)
        for e in _entries(reference, StockReason.RELEASE)
    }
    todo = [e for e in reserved if (e.sku_id, e.warehouse_id, e.delivery_date) not in released]
    if not todo:
        return {}
    to_hold = _back_to_hold(todo)
    try:
        with transaction.atomic():
            StockLedger.objects.bulk_create(
                [
                    StockLedger(
                        sku_id=e.sku_id,
                        warehouse_id=e.warehouse_id,
                        delivery_date=e.delivery_date,
                        delta=-e.delta,
                        held_delta=-e.delta if e.pk in to_hold else None,
                        reason=StockReason.RELEASE,
                        reference=reference,
                        note=note[:200],
                        actor=actor,
                    )
                    for e in todo
                ]
            )
            stamp = timezone.now()
            for e in todo:  # already in SKU pk order
                StockRecord.objects.filter(
                    sku_id=e.sku_id, warehouse_id=e.warehouse_id, delivery_date=e.delivery_date
                ).update(
                    quantity=F("quantity") - e.delta,
                    sold=F("sold") + e.delta,
                    updated_at=stamp,
                    **({"held": F("held") - e.delta} if e.pk in to_hold else {}),
                )
    except IntegrityError:
        # Another worker released the same reference at the same moment.
        return {}
    return {e.sku_id: -e.delta for e in todo}


def release_stock_lines(
    *, reference: str, lines: dict[int, int], key: str, actor=None, note: str = ""
) -> dict[int, int]:
    """Give back part of what `reference` reserved: {sku_id: quantity} (a partial
    refund before the goods leave). `key` names this release (a refund), so a
    retry with the same key changes nothing: its ledger rows carry the
    reference "<reference>/<key>" and the once-per-reference unique index.

    Never more than is still held: per SKU and delivery day, at most what the
    reference reserved on that day minus everything released from that day so
    far (whole or in parts); asking for more releases what is left. The units
    go back to the day they are held on now: an order moved to a later day
    (orders' postpone_late_order: released from the old day under
    "<reference>/moved-…", reserved again on the new one) gives back to the
    new day, the latest day first. Returns {sku_id: quantity} released by
    this call ({} for a repeat or nothing left).
    """
    if not reference or not key:
        raise ValueError("release_stock_lines needs a reference and a key")
    wanted = {sku_id: q for sku_id, q in lines.items() if q}
    if any(isinstance(q, bool) or not isinstance(q, int) or q < 0 for q in wanted.values()):
        raise ValueError("quantities must be whole numbers >= 0")
    part = f"{reference}/{key}"
    if not wanted or StockLedger.objects.filter(reference=part).exists():
        return {}
    # One reserve entry per SKU and day the reference reserved on (several
    # after a move to another day), in the stock rows' lock order.
    reserved = sorted(
        (e for e in _entries(reference, StockReason.RESERVE) if e.sku_id in wanted),
        key=lambda e: (e.sku_id, e.warehouse_id, e.delivery_date),
    )
    if not reserved:
        return {}
    to_hold = _back_to_hold(reserved)
    try:
        with transaction.atomic():
            # Lock the stock rows (SKU pk order, like reserve_stock) before
            # reading what was released, so two partial releases cannot both
            # see the same remainder.
            for e in reserved:
                list(
                    StockRecord.objects.select_for_update().filter(
                        sku_id=e.sku_id, warehouse_id=e.warehouse_id, delivery_date=e.delivery_date
                    )
                )
            released = {
                (sku_id, warehouse_id, day): total
                for sku_id, warehouse_id, day, total in StockLedger.objects.filter(
                    Q(reference=reference) | Q(reference__startswith=f"{reference}/"),
                    reason=StockReason.RELEASE,
                    sku_id__in={e.sku_id for e in reserved},
                )
                .order_by()
                .values("sku_id", "warehouse_id", "delivery_date")
                .annotate(total=Sum("delta"))
                .values_list("sku_id", "warehouse_id", "delivery_date", "total")
            }
            plan: list[tuple[StockLedger, int]] = []
            need = dict(wanted)
            # The latest day first: where an order moved to is where it holds now.
            for e in sorted(reserved, key=lambda e: (e.sku_id, e.delivery_date), reverse=True):
                day_key = (e.sku_id, e.warehouse_id, e.delivery_date)
                left = -e.delta - (released.get(day_key) or 0)
                take = min(need[e.sku_id], left)
                if take > 0:
                    plan.append((e, take))
                    need[e.sku_id] -= take
            if not plan:
                return {}
            plan.sort(key=lambda p: (p[0].sku_id, p[0].warehouse_id, p[0].delivery_date))
            StockLedger.objects.bulk_create(
                [
                    StockLedger(
                        sku_id=e.sku_id,
                        warehouse_id=e.warehouse_id,
                        delivery_date=e.delivery_date,
                        delta=quantity,
                        held_delta=quantity if e.pk in to_hold else None,
                        reason=StockReason.RELEASE,
                        reference=part,
                        note=note[:200],
                        actor=actor,
                    )
                    for e, quantity in plan
                ]
            )
            stamp = timezone.now()
            for e, quantity in plan:
                moved = StockRecord.objects.filter(
                    sku_id=e.sku_id,
                    warehouse_id=e.warehouse_id,
                    delivery_date=e.delivery_date,
                    sold__gte=quantity,
                ).update(
                    quantity=F("quantity") + quantity,
                    sold=F("sold") - quantity,
                    updated_at=stamp,
                    **({"held": F("held") + quantity} if e.pk in to_hold else {}),
                )
                if not moved:
                    raise InvalidStockChange(
                        f"stock row of SKU {e.sku_id} on {e.delivery_date} "
                        f"cannot take back {quantity}"
                    )
    except IntegrityError:
        # The same key released at the same moment by another worker.
        return {}
    todo: dict[int, int] = {}
    for e, quantity in plan:
        todo[e.sku_id] = todo.get(e.sku_id, 0) + quantity
    return todo


# --- holds (units set aside for group buys) -----------------------------------


def _check_hold_quantity(quantity) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValueError("a hold moves a whole number of units > 0")
    return quantity


def hold_stock(
    *,
    sku: Sku,
    warehouse: Warehouse,
    delivery_date: date,
    quantity: int,
    reference: str,
    actor=None,
) -> None:
    """Set `quantity` units of a day's stock aside (general sale → hold), all or nothing.

    Only what general sale still has can be held (quantity - held >= n, checked
    inside the UPDATE); otherwise OutOfStock and nothing changes. The stock
    quantity does not change: the ledger row has delta 0 and held_delta +n.
    """
    quantity = _check_hold_quantity(quantity)
    if not reference:
        raise ValueError("hold_stock needs a reference (who holds)")
    try:
        with transaction.atomic():
            StockLedger.objects.create(
                sku=sku,
                warehouse=warehouse,
                delivery_date=delivery_date,
                delta=0,
                held_delta=quantity,
                reason=StockReason.HOLD,
                reference=reference,
                actor=actor,
            )
            moved = StockRecord.objects.filter(
                sku=sku,
                warehouse=warehouse,
                delivery_date=delivery_date,
                quantity__gte=F("held") + quantity,
            ).update(held=F("held") + quantity, updated_at=timezone.now())
            if moved != 1:
                raise _Short(sku.pk)
    except _Short:
        raise OutOfStock(
            sku=sku,
            sku_id=sku.pk,
            requested=quantity,
            available=available_stock(
                sku_id=sku.pk, warehouse=warehouse, delivery_date=delivery_date
            ),
        ) from None


def unhold_stock(
    *,
    sku: Sku,
    warehouse: Warehouse,
    delivery_date: date,
    quantity: int,
    reference: str,
    actor=None,
) -> None:
    """Give `quantity` held units back to general sale (hold → general sale).

    Raises InvalidStockChange when the hold has fewer units; nothing changes then.
    """
    quantity = _check_hold_quantity(quantity)
    if not reference:
        raise ValueError("unhold_stock needs a reference (who held)")
    with transaction.atomic():
        StockLedger.objects.create(
            sku=sku,
            warehouse=warehouse,
            delivery_date=delivery_date,
            delta=0,
            held_delta=-quantity,
            reason=StockReason.UNHOLD,
            reference=reference,
            actor=actor,
        )
        moved = StockRecord.objects.filter(
            sku=sku, warehouse=warehouse, delivery_date=delivery_date, held__gte=quantity
        ).update(held=F("held") - quantity, updated_at=timezone.now())
        if moved != 1:
            raise InvalidStockChange(f"the hold of SKU {sku.pk} has fewer than {quantity} units")


# --- operator stock changes --------------------------------------------------


def _check_quantity(quantity) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidStockChange(_("Please enter a whole number."))
    if quantity < 0:
        raise InvalidStockChange(_("The quantity cannot be negative."))
    if quantity > MAX_STOCK_QUANTITY:
        raise InvalidStockChange(
            _("The quantity cannot be more than %(max)d.") % {"max": MAX_STOCK_QUANTITY}
        )
    return quantity


def set_stock_quantity(
    *,
    sku: Sku,
    warehouse: Warehouse,
    delivery_date: date,
    quantity: int,
    note: str,
    actor=None,
) -> StockRecord:
    """Set what is left to sell of an SKU for a day (raise, lower or close it).

    Orders already reserved stay reserved: `sold` is untouched, and a reserver
    racing with this waits for the row lock and then re-checks its condition
    against the new quantity, so the row never goes negative.
    """
    quantity = _check_quantity(quantity)
    note = (note or "").strip()
    if not note:
        raise InvalidStockChange(_("Please give a reason for the change."))
    if delivery_date < local_today():
        raise InvalidStockChange(_("Past delivery days cannot be changed."))
    with transaction.atomic():
        StockRecord.objects.get_or_create(sku=sku, warehouse=warehouse, delivery_date=delivery_date)
        record = StockRecord.objects.select_for_update().get(
            sku=sku, warehouse=warehouse, delivery_date=delivery_date
        )
        delta = quantity - record.quantity
        if delta == 0:
            return record
        if quantity < record.held:
            raise InvalidStockChange(
                _("%(n)d units are held for group buys; the quantity cannot be lower.")
                % {"n": record.held}
            )
        StockLedger.objects.create(
            sku=sku,
            warehouse=warehouse,
            delivery_date=delivery_date,
            delta=delta,
            reason=StockReason.ADJUST,
            note=note[:200],
            actor=actor,
        )
        StockRecord.objects.filter(pk=record.pk).update(
            quantity=F("quantity") + delta, updated_at=timezone.now()
        )
        record.refresh_from_db()
    return record


def close_stock(
    *, sku: Sku, warehouse: Warehouse, delivery_date: date, note: str, actor=None
) -> StockRecord:
    """Stop selling an SKU for a day (the supplier let us down)."""
    return set_stock_quantity(
        sku=sku,
        warehouse=warehouse,
        delivery_date=delivery_date,
        quantity=0,
        note=note,
        actor=actor,
    )


def roll_stock_forward(
    *, days: Iterable[date] | None = None, skus: Iterable[Sku] | None = None
) -> int:
    """Open the coming delivery days: each active SKU on shelf gets its daily quota.

    Only rows that do not exist yet are created, so running it twice (or
    after an operator already changed a day) changes nothing. Returns the
    number of rows created.
    """
    if days is None:
        today = local_today()
        # An order placed today is delivered tomorrow, or after the cutoff the
        # day after: both days must be open.
        days = [today + timedelta(days=1), today + timedelta(days=2)]
    days = sorted(set(days))
    candidates = Sku.objects.filter(is_active=True, product__is_on_shelf=True, daily_quota__gt=0)
    if skus is not None:
        candidates = candidates.filter(pk__in=[s.pk for s in skus])
    quotas = dict(candidates.values_list("pk", "daily_quota"))
    warehouses = list(Warehouse.objects.filter(is_active=True).values_list("pk", flat=True))
    if not quotas or not warehouses:
        return 0
    for _attempt in range(3):
        existing = set(
            StockRecord.objects.filter(
                sku_id__in=quotas, warehouse_id__in=warehouses, delivery_date__in=days
            ).values_list("sku_id", "warehouse_id", "delivery_date")
        )
        missing = [
            (sku_id, wh, day)
            for day in days
            for wh in warehouses
            for sku_id in sorted(quotas)
            if (sku_id, wh, day) not in existing
        ]
        if not missing:
            return 0
        try:
            with transaction.atomic():
                StockLedger.objects.bulk_create(
                    [
                        StockLedger(
                            sku_id=sku_id,
                            warehouse_id=wh,
                            delivery_date=day,
                            delta=quotas[sku_id],
                            reason=StockReason.ROLL_FORWARD,
                        )
                        for sku_id, wh, day in missing
                    ]
                )
                StockRecord.objects.bulk_create(
                    [
                        StockRecord(
                            sku_id=sku_id,
                            warehouse_id=wh,
                            delivery_date=day,
                            quantity=quotas[sku_id],
                        )
                        for sku_id, wh, day in missing
                    ]
                )
        except IntegrityError:
            # An operator or a second run created some of these meanwhile: look again.
            continue
        return len(missing)
    raise RuntimeError("roll_stock_forward kept colliding with concurrent writers")


# --- products ---------------------------------------------------------------


def save_product(*, product: Product, actor=None) -> Product:
    """Create or update a product as edited by an operator.

    The description is sanitized and the name's pinyin search keys written
    (catalog/pinyin.py): every writer of products goes through here, so search
    by pinyin and initials finds a product as soon as it is saved.
    """
    product.description = sanitize_description(product.description)
    product.name_pinyin = pinyin.full_pinyin(product.name)
    product.name_initials = pinyin.initials(product.name)
    product.full_clean()
    product.save()
    storefront_cache.bump()  # after commit: the home page's cards show it
    return product


def set_on_shelf(*, product_ids: Iterable[int], is_on_shelf: bool, actor=None) -> int:
    """Put products on or off the shelf; returns how many changed.

    A product goes on shelf only with at least one active SKU; its coming
    delivery days are opened at once instead of waiting for the night.
    """
    ids = list(product_ids)
    with transaction.atomic():
        qs = Product.objects.filter(pk__in=ids).exclude(is_on_shelf=is_on_shelf)
        if is_on_shelf:
            qs = qs.filter(skus__is_active=True).distinct()
        changed_ids = list(qs.values_list("pk", flat=True))
        Product.objects.filter(pk__in=changed_ids).update(
            is_on_shelf=is_on_shelf, updated_at=timezone.now()
        )
        if is_on_shelf and changed_ids:
            roll_stock_forward(skus=Sku.objects.filter(product_id__in=changed_ids))
        if changed_ids:
            storefront_cache.bump()
    log.info("catalog: %d products %s shelf by %s", len(changed_ids), is_on_shelf, actor)
    return len(changed_ids)


def add_product_image(
    *, product: Product, upload, alt: str = "", position: int | None = None
) -> ProductImage:
    """Check and process an upload, then store its files and its row together.

    Raises ImageRejected with a message for the operator; then no file and no
    row is left behind.
    """
    processed = process_upload(upload)  # raises before anything is written
    if position is None:
        last = product.images.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    image = ProductImage(
        product=product,
        width=processed.width,
        height=processed.height,
        alt=alt[:80],
        position=position,
    )
    written: list[str] = []
    try:
        for name, data in processed.files.items():
            variant, ext = name.rsplit(".", 1)
            path = ProductImage.path_for(image.key, variant, ext)
            written.append(default_storage.save(path, ContentFile(data)))
        with transaction.atomic():
            image.save()
            storefront_cache.bump()
    except Exception:
        for path in written:
            default_storage.delete(path)
        raise
    return image


def delete_product_image(*, image: ProductImage) -> None:
    paths = image.paths()
    with transaction.atomic():
        image.delete()
        storefront_cache.bump()
        transaction.on_commit(lambda: [default_storage.delete(p) for p in paths])


def update_product_image(*, image: ProductImage, alt: str, position: int) -> ProductImage:
    image.alt = (alt or "")[:80]
    image.position = position
    image.save(update_fields=["alt", "position"])
    storefront_cache.bump()
    return image
