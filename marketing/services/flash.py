"""限时秒杀: admission to a flash sale, its price rule, and the purchase record.

For the checkout (M1 wires these into orders' checkout; marketing never
imports orders):

    admit(*, user, item, quantity, at=None) -> Admission
        Admit one shopper to one flash-sale item, or raise FlashSaleRefused
        (.message in Chinese, .code). Redis-gated sessions ask the Lua gate
        (marketing/gate.py): no SQL, units taken at once and held for the
        shopper; a Redis that cannot be reached falls back to database mode.
        Database mode checks the window, an earlier purchase, the limit and
        the counter (2 queries, 1 with item_is_fresh) and takes nothing yet:
        the guarded UPDATE in record_purchase decides. Calling it again for a shopper
        whose hold is still open returns that hold (Admission.reused).
    admit_lines(*, user, wants, at=None) -> list[Admission]
        admit() for every (sku_id, quantity) whose SKU is in a running
        session; all or nothing (a refusal releases what was admitted).
    flash_rules(*, user, sku_ids, at=None, admissions=None) -> list[PriceRule]
        The flash price rule for these SKUs (kind "flash_sale", label the
        session's name, ref the session id). Given `admissions` (placing an
        order), only their items are priced: never a flash price without an
        admission. Without (showing a basket), every running item is.
    record_purchase(*, order, admission) -> FlashPurchase
        Inside the order's transaction, after the order row exists: one
        FlashPurchase per shopper and item (unique), and the item's counter
        `sold = sold + n WHERE sold + n <= quota` (the hot row: call it last,
        beside reserve_stock). Raises FlashSaleRefused, which must roll the
        transaction back. After commit the Redis hold becomes a purchase.
    record_purchases(*, order, admissions) -> list[FlashPurchase]
    release(*, admission) / release_all(*, admissions)
        The order failed (any exception after admit): give the units back.
        Idempotent; a no-op in database mode and after a commit.
    on_order_cancelled(*, order) -> None
        For settings.ORDER_CANCELLED_HOOKS (an unpaid order cancelled): its
        flash purchases are deleted and their units go back to the quota.

Rule of thumb for the checkout:

    admissions = admit_lines(user=user, wants=[(w.sku_id, w.quantity) ...])
    try:
        with transaction.atomic():
            order = place_order(..., rules=[*flash_rules(user=user, sku_ids=ids,
                                                         admissions=admissions), ...])
            record_purchases(order=order, admissions=admissions)
    except BaseException:
        release_all(admissions=admissions)
        raise

Operators: save_flash_sale (arms the gate), reconcile_flash_sales (beat).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.money import to_money
from tuangou.timeutils import to_local

from .. import gate
from ..models import FlashPurchase, FlashSale, FlashSaleItem, GateMode

logger = logging.getLogger("tuangou.marketing.flash")

# orders.pricing.STAGE_SPECIAL_PRICE: marketing sits below orders and does not
# import it; the value is part of the pricing module's documented contract.
STAGE_SPECIAL_PRICE = 100
FLASH_KIND = "flash_sale"


def hold_seconds() -> int:
    """How long an admitted shopper's units wait for the order (then the
    reconciliation gives them back)."""
    return int(getattr(settings, "FLASH_HOLD_SECONDS", 600))


class FlashSaleRefused(Exception):
    """A refusal for the shopper: .message (Chinese), .code (stable, for code and
    tests), .units (the number in the message: the limit, what is left, or the
    start as epoch ms), so the message can be rebuilt from (code, units)."""

    def __init__(self, message: str, *, code: str, units: int = 0):
        super().__init__(message)
        self.message = message
        self.code = code
        self.units = units


_CODES = {
    "not_started": -2,
    "ended": -3,
    "over_limit": -4,
    "already_bought": -5,
    "sold_out": -7,
}


def refusal_for(code: str, units: int = 0) -> FlashSaleRefused:
    """The refusal of a code and number again (the 秒杀 page shows it from its URL)."""
    return _refusal(_CODES.get(code, 0), units)


def _refusal(code: int, units: int) -> FlashSaleRefused:
    refused = _refusal_message(code, units)
    refused.units = units
    return refused


def _refusal_message(code: int, units: int) -> FlashSaleRefused:
    if code == gate.NOT_STARTED:
        if units:
            start = to_local(datetime.fromtimestamp(units / 1000, tz=UTC))
            return FlashSaleRefused(
                _("This flash sale has not started yet. It starts at %(time)s.")
                % {"time": f"{start:%H:%M}"},
                code="not_started",
            )
        return FlashSaleRefused(_("This flash sale has not started yet."), code="not_started")
    if code == gate.ENDED:
        return FlashSaleRefused(_("This flash sale has ended."), code="ended")
    if code == gate.OVER_LIMIT:
        return FlashSaleRefused(
            _("At most %(n)s per shopper in this flash sale.") % {"n": units}, code="over_limit"
        )
    if code == gate.ALREADY_BOUGHT:
        return FlashSaleRefused(
            _("You have already bought this flash sale item; each shopper may buy it once."),
            code="already_bought",
        )
    if code == gate.SOLD_OUT:
        if units > 0:
            return FlashSaleRefused(
                _("Only %(n)s left in this flash sale.") % {"n": units}, code="sold_out"
            )
        return FlashSaleRefused(_("Sold out! This flash sale has none left."), code="sold_out")
    return FlashSaleRefused(_("This flash sale is not available."), code="unavailable")


@dataclass(frozen=True)
class Admission:
    """A shopper admitted to a flash-sale item for `quantity` units."""

    item_id: int
    sale_id: int
    sku_id: int
    user_id: int
    quantity: int
    price: Decimal
    sale_name: str
    mode: str  # GateMode.REDIS (units held in Redis) or GateMode.DATABASE
    reused: bool = False  # the same hold as an earlier admit (抢到了, now ordering)
    left: int | None = None  # units the gate had left after this one (Redis mode)


# --- reads ----------------------------------------------------------------------------


def running_items(*, sku_ids: Iterable[int], at=None) -> dict[int, FlashSaleItem]:
    """sku_id -> its item in a running, active session (one query; the
    earliest-ending session wins when a SKU is in two)."""
    at = at or timezone.now()
    ids = list(sku_ids)
    if not ids:
        return {}
    found: dict[int, FlashSaleItem] = {}
    for item in (
        FlashSaleItem.objects.select_related("sale")
        .filter(sku_id__in=ids, sale__is_active=True, sale__starts_at__lte=at, sale__ends_at__gt=at)
        .order_by("sale__ends_at", "pk")
    ):
        found.setdefault(item.sku_id, item)
    return found


# --- admission ------------------------------------------------------------------------


def _admission(item: FlashSaleItem, *, user_id, quantity, mode, reused=False, left=None):
    return Admission(
        item_id=item.pk,
        sale_id=item.sale_id,
        sku_id=item.sku_id,
        user_id=user_id,
        quantity=quantity,
        price=to_money(item.price),
        sale_name=item.sale.name,
        mode=mode,
        reused=reused,
        left=left,
    )


def _check_quantity(quantity) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 999:
        raise FlashSaleRefused(_("Please choose a quantity from 1 to 999."), code="bad_quantity")
    return quantity


def admit(
    *, user, item: FlashSaleItem, quantity: int, at=None, item_is_fresh: bool = False
) -> Admission:
    """Admit `user` to `item` for `quantity` units (see the module docstring).

    `item_is_fresh`: the item row was read in this request, so database mode
    need not read its counter again."""
    quantity = _check_quantity(quantity)
    at = at or timezone.now()
    sale = item.sale
    if not sale.is_active:
        raise _refusal(0, 0)
    if sale.gate_mode == GateMode.REDIS:
        try:
            return _admit_redis(user_id=user.pk, item=item, quantity=quantity, at=at)
        except gate.GateUnavailable as exc:
            logger.warning("flash gate down, item %s falls back to the database: %s", item.pk, exc)
    return _admit_database(
        user_id=user.pk, item=item, quantity=quantity, at=at, item_is_fresh=item_is_fresh
    )


def _admit_redis(*, user_id: int, item: FlashSaleItem, quantity: int, at) -> Admission:
    answer = gate.admit(item_id=item.pk, user_id=user_id, quantity=quantity, now=at)
    if answer.code == gate.NOT_ARMED:
        arm_item(item=item)
        answer = gate.admit(item_id=item.pk, user_id=user_id, quantity=quantity, now=at)
    if answer.code == gate.HOLDING:
        if answer.units == quantity:
            return _admission(
                item, user_id=user_id, quantity=quantity, mode=GateMode.REDIS, reused=True
            )
        # Admitted for another quantity and not ordered: start again with this one.
        gate.release(item_id=item.pk, user_id=user_id)
        answer = gate.admit(item_id=item.pk, user_id=user_id, quantity=quantity, now=at)
    if not answer.is_admitted:
        raise _refusal(answer.code, answer.units)
    return _admission(
        item, user_id=user_id, quantity=quantity, mode=GateMode.REDIS, left=answer.code
    )


def _admit_database(
    *, user_id: int, item: FlashSaleItem, quantity: int, at, item_is_fresh: bool = False
) -> Admission:
    sale = item.sale
    if at < sale.starts_at:
        raise _refusal(gate.NOT_STARTED, int(sale.starts_at.timestamp() * 1000))
    if at >= sale.ends_at:
        raise _refusal(gate.ENDED, 0)
    if FlashPurchase.objects.filter(item_id=item.pk, user_id=user_id).exists():
        raise _refusal(gate.ALREADY_BOUGHT, 0)
    if quantity > item.per_user_limit:
        raise _refusal(gate.OVER_LIMIT, item.per_user_limit)
    # The guarded UPDATE in record_purchase is what decides; this read only
    # gives the shopper the right words early (skipped when the caller read
    # the item row in this request).
    if item_is_fresh:
        left = item.quota - item.sold
    else:
        rows = FlashSaleItem.objects.filter(pk=item.pk).values_list(F("quota") - F("sold"))
        left = next(iter(rows), (0,))[0]
    if left < quantity:
        raise _refusal(gate.SOLD_OUT, max(left, 0))
    return _admission(item, user_id=user_id, quantity=quantity, mode=GateMode.DATABASE)


@dataclass(frozen=True)
class AttemptAnswer:
    """The 抢购 button's answer: admitted (with the admission) or refused."""

    admission: Admission | None = None
    refusal: FlashSaleRefused | None = None
    queries_saved: bool = False  # answered by Redis alone


def attempt(*, user_id: int, item_id: int, quantity: int, at=None) -> AttemptAnswer:
    """A purchase attempt by ids, for the 抢购 endpoint: a Redis-gated item is
    asked first with no SQL at all (a refusal answers from Redis alone, zero
    queries); only an admission, an unarmed item, a database-mode item or a
    Redis that is down reads PostgreSQL."""
    at = at or timezone.now()
    try:
        quantity = _check_quantity(quantity)
    except FlashSaleRefused as refused:
        return AttemptAnswer(refusal=refused, queries_saved=True)
    try:
        answer = gate.admit(item_id=item_id, user_id=user_id, quantity=quantity, now=at)
    except gate.GateUnavailable:
        answer = None
    refused_by_gate = answer is not None and answer.code not in (gate.NOT_ARMED, gate.HOLDING)
    if refused_by_gate and not answer.is_admitted:
        return AttemptAnswer(refusal=_refusal(answer.code, answer.units), queries_saved=True)
    item = FlashSaleItem.objects.select_related("sale").filter(pk=item_id).first()
    if item is None:
        return AttemptAnswer(refusal=_refusal(0, 0))
    if answer is not None and answer.is_admitted and not item.sale.is_active:
        # Switched off after the gate was armed: give the units back, refuse.
        gate.release(item_id=item_id, user_id=user_id)
        return AttemptAnswer(refusal=_refusal(0, 0))
    if answer is not None and answer.is_admitted:
        return AttemptAnswer(
            admission=_admission(
                item, user_id=user_id, quantity=quantity, mode=GateMode.REDIS, left=answer.code
            )
        )
    from django.contrib.auth import get_user_model

    user = get_user_model()(pk=user_id)
    try:
        admission = admit(user=user, item=item, quantity=quantity, at=at, item_is_fresh=True)
        return AttemptAnswer(admission=admission)
    except FlashSaleRefused as refused:
        return AttemptAnswer(refusal=refused)


def admit_lines(*, user, wants: Sequence[tuple[int, int]], at=None) -> list[Admission]:
    """admit() each (sku_id, quantity) whose SKU is in a running session (1 query
    to find them); all or nothing: a refusal gives back what was admitted."""
    at = at or timezone.now()
    items = running_items(sku_ids=[sku_id for sku_id, _q in wants], at=at)
    admissions: list[Admission] = []
    try:
        for sku_id, quantity in wants:
            item = items.get(sku_id)
            if item is not None:
                admissions.append(
                    admit(user=user, item=item, quantity=quantity, at=at, item_is_fresh=True)
                )
    except BaseException:
        release_all(admissions=admissions)
        raise
    return admissions


def release(*, admission: Admission) -> int:
    """Give back an admission whose order failed; returns the units given back."""
    if admission.mode != GateMode.REDIS:
        return 0
    try:
        return gate.release(item_id=admission.item_id, user_id=admission.user_id)
    except gate.GateUnavailable as exc:
        # The hold expires and the reconciliation gives it back.
        logger.warning(
            "flash gate down, hold of item %s left to expire: %s", admission.item_id, exc
        )
        return 0


def release_all(*, admissions: Iterable[Admission]) -> int:
    return sum(release(admission=a) for a in admissions)


# --- the order's transaction -----------------------------------------------------------


def record_purchase(*, order, admission: Admission) -> FlashPurchase:
    """Record the purchase in the order's transaction (see the module docstring).

    Two statements: the purchase row (INSERT … ON CONFLICT DO NOTHING: a
    second purchase by the same shopper is refused, not an IntegrityError
    that poisons the caller's transaction), then the guarded counter, last,
    because its row lock is held until COMMIT.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("record_purchase must run inside the order's transaction")
    if order.user_id != admission.user_id:
        raise ValueError("the admission belongs to another shopper")
    table = FlashPurchase._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (item_id, user_id, order_id, quantity, created_at) "  # noqa: S608 - our table name
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (item_id, user_id) DO NOTHING RETURNING id",
            [admission.item_id, admission.user_id, order.pk, admission.quantity, timezone.now()],
        )
        row = cursor.fetchone()
    if row is None:
        raise _refusal(gate.ALREADY_BOUGHT, 0)
    n = admission.quantity
    taken = FlashSaleItem.objects.filter(pk=admission.item_id, sold__lte=F("quota") - n).update(
        sold=F("sold") + n
    )
    if not taken:
        raise _refusal(gate.SOLD_OUT, 0)
    if admission.mode == GateMode.REDIS:
        item_id, user_id = admission.item_id, admission.user_id
        transaction.on_commit(lambda: _confirm(item_id=item_id, user_id=user_id))
    return FlashPurchase(
        pk=row[0],
        item_id=admission.item_id,
        user_id=admission.user_id,
        order_id=order.pk,
        quantity=n,
    )


def record_purchases(*, order, admissions: Iterable[Admission]) -> list[FlashPurchase]:
    # Item rows in pk order: two orders never wait on each other crosswise.
    return [
        record_purchase(order=order, admission=a)
        for a in sorted(admissions, key=lambda a: a.item_id)
    ]


def _confirm(*, item_id: int, user_id: int) -> None:
    try:
        gate.confirm(item_id=item_id, user_id=user_id)
    except gate.GateUnavailable as exc:
        logger.warning("flash gate down, purchase of item %s confirmed later: %s", item_id, exc)


def on_order_cancelled(*, order) -> None:
    """settings.ORDER_CANCELLED_HOOKS: an unpaid order cancelled gives its flash
    units back (to the quota, and to the Redis gate after the commit), and the
    shopper may try again. One query when the order had no flash line.

    A paid order that is later refunded keeps its purchase: the quota of a
    秒杀 is not reopened by after-sale refunds (the session is usually over).
    """
    purchases = list(
        FlashPurchase.objects.filter(order_id=order.pk)
        .select_related("item__sale")
        .order_by("item_id")
    )
    for purchase in purchases:
        FlashSaleItem.objects.filter(pk=purchase.item_id, sold__gte=purchase.quantity).update(
            sold=F("sold") - purchase.quantity
        )
        purchase.delete()
        if purchase.item.sale.gate_mode == GateMode.REDIS:
            item_id, user_id = purchase.item_id, purchase.user_id
            transaction.on_commit(lambda i=item_id, u=user_id: _give_back(item_id=i, user_id=u))


def _give_back(*, item_id: int, user_id: int) -> None:
    try:
        gate.give_back(item_id=item_id, user_id=user_id)
    except gate.GateUnavailable as exc:
        logger.warning("flash gate down, item %s repaired by the reconciliation: %s", item_id, exc)


# --- the price rule ---------------------------------------------------------------------


@dataclass(frozen=True)
class FlashSalePrices:
    """A PriceRule (orders.pricing protocol): flash prices per SKU, one session each.

    The same shape as orders.pricing.SpecialUnitPrices, with a label and ref per
    SKU (two SKUs may be in two sessions); it uses only OrderPrice's pure methods.
    """

    prices: Mapping[Any, tuple[Decimal, str, str]]  # sku_id -> (price, label, ref)
    kind: str = FLASH_KIND
    stage: int = STAGE_SPECIAL_PRICE

    def apply(self, price):
        for line in price.lines:
            special = self.prices.get(line.sku_id)
            if special is not None and to_money(special[0]) < line.unit_price:
                price = price.with_line(
                    line.with_special_price(
                        special[0], kind=self.kind, label=special[1], ref=special[2]
                    )
                )
        return price


def flash_rules(
    *, user, sku_ids: Iterable[int], at=None, admissions: Iterable[Admission] | None = None
) -> list[FlashSalePrices]:
    """The flash price rule for these SKUs (see the module docstring); [] when none.

    With `admissions`: no query. Without: one (running_items).
    """
    if admissions is not None:
        prices = {
            a.sku_id: (a.price, a.sale_name, str(a.sale_id))
            for a in admissions
            if a.user_id == getattr(user, "pk", a.user_id)
        }
    else:
        items = running_items(sku_ids=sku_ids, at=at)
        prices = {
            sku_id: (to_money(item.price), item.sale.name, str(item.sale_id))
            for sku_id, item in items.items()
        }
    return [FlashSalePrices(prices=prices)] if prices else []


# --- operators: arming and reconciliation ------------------------------------------------


def arm_item(*, item: FlashSaleItem) -> None:
    """Load an item of a Redis-gated session into the gate (idempotent)."""
    sale = item.sale
    gate.arm(
        item_id=item.pk,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        limit=item.per_user_limit,
        left=max(item.quota - item.sold, 0),
    )


def save_flash_sale(*, sale: FlashSale) -> FlashSale:
    """After the admin (or the demo) saved a session and its items: arm the gate
    for a Redis-gated one (window, limits, and a repair of the counters so a
    changed quota takes effect) and refresh the cached board. Redis being down
    is not an error here: the beat's reconciliation arms it later."""
    gated = sale.gate_mode == GateMode.REDIS and sale.is_active
    for item in sale.items.select_related("sale"):
        try:
            if gated:
                arm_item(item=item)
                reconcile_item(item=item)
            else:
                # Database mode (or switched off): the gate must not answer for it.
                gate.disarm(item_id=item.pk)
        except gate.GateUnavailable as exc:
            logger.warning("flash gate down, session %s armed later: %s", sale.pk, exc)
            break
    bump_board()
    return sale


@dataclass
class ReconcileResult:
    item_id: int
    left_before: int | None
    left_after: int
    buyers_added: int
    entries_dropped: int
    db_sold: int
    db_purchased: int
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(
            self.left_before != self.left_after
            or self.buyers_added
            or self.entries_dropped
            or self.db_sold != self.db_purchased
        )


def reconcile_item(*, item: FlashSaleItem, at=None) -> ReconcileResult:
    """Make the gate agree with PostgreSQL for one item (see gate.REPAIR).

    1. snapshot Redis (buyers, holds); 2. read the database's purchases and
    counter; 3. REPAIR in one Lua step: purchases the gate missed are added,
    holds older than FLASH_HOLD_SECONDS with no purchase and buyers neither
    held nor bought (orphans) are dropped, and `left` is recomputed. A
    mismatch between the database's counter and its purchase rows is
    reported, never "fixed" from Redis: the database is the truth.
    """
    at = at or timezone.now()
    snap = gate.snapshot(item_id=item.pk)
    if not snap.is_armed:
        arm_item(item=item)
    purchases = dict(
        FlashPurchase.objects.filter(item_id=item.pk).values_list("user_id", "quantity")
    )
    sold = FlashSaleItem.objects.filter(pk=item.pk).values_list("sold", flat=True).first() or 0
    known = {str(u) for u in purchases}
    limit_ms = int(at.timestamp() * 1000) - hold_seconds() * 1000
    drop: dict[str, str] = {}
    for user, score in snap.held.items():
        if user not in known and int(float(score)) < limit_ms:
            drop[user] = score
    for user in snap.buyers:
        if user not in known and user not in snap.held:
            drop[user] = "-"
    before, after, added, dropped = gate.repair(
        item_id=item.pk, quota=item.quota, sold=sold, purchases=purchases, drop=drop
    )
    result = ReconcileResult(
        item_id=item.pk,
        left_before=None if before < 0 else before,
        left_after=after,
        buyers_added=added,
        entries_dropped=dropped,
        db_sold=sold,
        db_purchased=sum(purchases.values()),
    )
    if result.db_sold != result.db_purchased:
        result.notes.append(f"database counter {sold} != purchases {result.db_purchased}")
        logger.error("flash item %s: %s", item.pk, result.notes[-1])
    if result.drifted:
        logger.warning("flash item %s reconciled: %s", item.pk, result)
    return result


def reconcile_flash_sales(*, at=None) -> list[ReconcileResult]:
    """The beat's reconciliation: every item of a Redis-gated session that starts
    within a day, runs, or ended within the hold time is armed and repaired.
    Safe to run twice (the second run finds nothing to change)."""
    at = at or timezone.now()
    items = FlashSaleItem.objects.select_related("sale").filter(
        sale__gate_mode=GateMode.REDIS,
        sale__is_active=True,
        sale__starts_at__lte=at + timedelta(days=1),
        sale__ends_at__gte=at - timedelta(seconds=hold_seconds()),
    )
    results = []
    for item in items.order_by("pk"):
        try:
            results.append(reconcile_item(item=item, at=at))
        except gate.GateUnavailable as exc:
            logger.warning("flash gate down, reconciliation skipped: %s", exc)
            break
    return results


def flash_sold_counts(*, item_ids: Iterable[int]) -> dict[int, int]:
    """Units in FlashPurchase rows per item (what the database says was bought)."""
    return dict(
        FlashPurchase.objects.filter(item_id__in=list(item_ids))
        .values("item_id")
        .annotate(n=Sum("quantity"))
        .values_list("item_id", "n")
    )


def bump_board() -> None:
    """Rewrite the cached 秒杀 board (home and product pages) after the commit."""
    from ..flash_selectors import refresh_board

    transaction.on_commit(refresh_board)
