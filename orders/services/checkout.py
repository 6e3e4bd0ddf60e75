"""Placing an order: price on the server, snapshot, reserve stock last."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.cutoff import delivery_date_for
from catalog.gate import StockGateBusy, stock_gate
from catalog.services import (
    InvalidPurchase,
    OutOfStock,
    available_stock,
    check_purchase,
    reserve_stock,
)
from marketing.services.checkout import consume_for_order, uses_marketing
from marketing.services.coupons import MarketingError
from marketing.services.flash import FlashSaleRefused
from tuangou.timeutils import local_datetime, to_local

from .. import cart_count_cache
from ..models import Cart, CartLine, Order, OrderEvent, OrderLine, OrderStatus
from ..pricing import OrderPrice, PriceRule, price_lines


class CheckoutError(Exception):
    """Bad checkout input: the message is for the shopper."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CheckoutBusy(CheckoutError):
    """The SKU's admission gate stayed full (catalog.gate): nothing was
    written; the shopper may try again in a moment (the page answers 429)."""


@dataclass(frozen=True)
class Want:
    """One line the shopper wants: a SKU and a quantity (no price: we price)."""

    sku_id: int
    quantity: int


def new_order_number(now=None) -> str:
    """19 digits: local time to the millisecond and 4 random digits (readable, sortable)."""
    moment = to_local(now or timezone.now())
    return f"{moment:%y%m%d%H%M%S}{moment.microsecond // 1000:03d}{secrets.randbelow(10000):04d}"


def _check_point(pickup_point) -> None:
    if pickup_point is None:
        raise CheckoutError(_("Please choose a pickup point first."))
    if not pickup_point.is_taking_orders:
        raise CheckoutError(
            _("This pickup point is not taking orders. Please choose another pickup point.")
        )


def price_wants(*, wants: list[Want], skus: dict, rules: list[PriceRule] = ()) -> OrderPrice:
    from ..pricing import Item

    return price_lines(
        [
            Item(sku_id=w.sku_id, quantity=w.quantity, unit_price=skus[w.sku_id].price)
            for w in wants
        ],
        rules=rules,
    )


def place_order(
    *,
    user,
    wants: list[Want],
    pickup_point,
    rules: list[PriceRule] = (),
    kind: str = "normal",
    cart: Cart | None = None,
    note: str = "",
    at=None,
    deliver_after: datetime | None = None,
    from_hold: bool = False,
    skus: dict | None = None,
    flash_admissions: Sequence = (),
) -> Order:
    """Create an order awaiting payment and hold its stock.

    All or nothing: a bad line, a closed pickup point or one SKU short, and no
    row is written. Prices come from the catalog (and the price rules), never
    from the browser. With `cart`, the cart's lines for these SKUs are
    removed in the same transaction. With `deliver_after` (拼团, threshold
    deals: when the group or deal is decided) the order is for the first
    delivery day whose cutoff comes after that moment; the pay deadline and the
    order number still use now. With `from_hold` (group-buy orders) the stock
    comes out of the day's hold (catalog.services.hold_stock).

    `skus` (id -> Sku with its product), when the caller read them already
    (the checkout view reads the cart with them), are checked as they are,
    without reading them again.

    Query budget (pinned by tests): [SKUs], [pause check], order, lines,
    event (from a cart: with the cart's ordered lines deleted in the same
    statement, which returns the count left for the tab bar), the stock
    UPDATE with its ledger row. The SKU read is skipped
    when `skus` are given, the pause check when the point came from
    leaders.selectors.pickup_point_for_shopper (its upcoming paused days are
    on the row). The stock UPDATE comes last: it takes the hot row lock,
    which is held until COMMIT. The transaction runs behind each SKU's
    admission gate (catalog.gate: a Redis round trip to enter, one to
    leave); a gate still full after ORDER_GATE_WAIT_MS raises CheckoutBusy
    and nothing is written.

    Marketing (marketing/services/checkout.py): `rules` come from
    checkout_offer (秒杀 prices, 满减, a coupon, points) and what the price
    consumed is taken in the same transaction, just before the stock UPDATE:
    a coupon locked (+1 UPDATE), points spent (+1 UPDATE, +1 INSERT), 秒杀
    purchases from `flash_admissions` (+1 INSERT, +1 UPDATE per item). An
    order without them costs nothing more. A coupon or points taken by a
    parallel checkout raise CheckoutError and nothing is written.
    """
    _check_point(pickup_point)
    if not wants:
        raise CheckoutError(_("Your cart is empty."))
    lines = [(w.sku_id, w.quantity) for w in wants]
    if len({sku_id for sku_id, _q in lines}) != len(lines):
        raise CheckoutError(_("Each product may appear only once in an order."))
    try:
        skus = check_purchase(lines=lines, skus=skus)  # 0-1 query; raises InvalidPurchase
    except InvalidPurchase as exc:
        raise CheckoutError(exc.message) from exc
    warehouse = pickup_point.warehouse
    now = at or timezone.now()
    # Goods travel together: the order is delivered when its latest line can be.
    deliver_at = max(deliver_after, now) if deliver_after else now
    delivery_date = max(
        delivery_date_for(warehouse=warehouse, at=deliver_at, sku=skus[sku_id])
        for sku_id, _q in lines
    )
    # Closed that weekday (opening hours are on the row already: no query), or
    # paused by the leader for that day (no query either when the point was
    # loaded with its upcoming paused days).
    if pickup_point.hours_on(delivery_date.weekday()) is None or (
        pickup_point.pickup_problem_on(delivery_date) is not None
    ):
        raise CheckoutError(
            _("The pickup point is closed on %(day)s. Please choose another pickup point.")
            % {"day": f"{delivery_date:%m-%d}"}
        )
    price = price_wants(wants=wants, skus=skus, rules=rules)

    try:
        # At most ORDER_GATE_PER_SKU transactions per SKU wait on its stock row;
        # the others wait here, outside the database (catalog.gate).
        with stock_gate(warehouse_id=warehouse.pk, sku_ids=[sku_id for sku_id, _q in lines]):
            order = _write_order_with_a_fresh_number(
                user=user,
                kind=kind,
                pickup_point=pickup_point,
                warehouse=warehouse,
                delivery_date=delivery_date,
                price=price,
                skus=skus,
                lines=lines,
                note=note,
                now=now,
                cart=cart,
                from_hold=from_hold,
                flash_admissions=flash_admissions,
            )
    except StockGateBusy as busy:
        raise CheckoutBusy(str(busy.message)) from None
    except (MarketingError, FlashSaleRefused) as exc:
        # The coupon, the points or the 秒杀 unit went to another checkout.
        raise CheckoutError(exc.message) from exc
    except OutOfStock as short:
        # The transaction is rolled back now: say how many are left.
        raise OutOfStock(
            sku=short.sku,
            sku_id=short.sku_id,
            requested=short.requested,
            available=available_stock(
                sku_id=short.sku_id,
                warehouse=warehouse,
                delivery_date=delivery_date,
                from_hold=from_hold,
            ),
        ) from None
    from ..tasks import schedule_payment_expiry

    schedule_payment_expiry(order)
    return order


_PLACED_SQL = f"""WITH gone AS (
    DELETE FROM {CartLine._meta.db_table}
    WHERE cart_id = %(cart)s AND sku_id = ANY(%(skus)s)
    RETURNING quantity
), event AS (
    INSERT INTO {OrderEvent._meta.db_table}
        (order_id, from_status, to_status, actor_id, note, created_at)
    VALUES (%(order)s, %(status)s, %(status)s, %(actor)s, 'placed', %(now)s)
)
SELECT COALESCE((SELECT SUM(quantity) FROM {CartLine._meta.db_table} WHERE cart_id = %(cart)s), 0)
     - COALESCE((SELECT SUM(quantity) FROM gone), 0)
"""  # noqa: S608 - our table names


def _log_placed_and_empty_cart(*, order, user, cart, sku_ids) -> int:
    """The order's "placed" event and the cart's ordered lines deleted, in
    one statement; returns the items left in the cart (the statement's
    snapshot, before its own DELETE, minus what it deleted)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PLACED_SQL,
            {
                "cart": cart.pk,
                "skus": list(sku_ids),
                "order": order.pk,
                "status": OrderStatus.PENDING_PAYMENT.value,
                "actor": user.pk,
                "now": timezone.now(),
            },
        )
        return int(cursor.fetchone()[0])


def _write_order_with_a_fresh_number(*, now, **fields) -> Order:
    for attempt in range(3):
        number = new_order_number(now)
        try:
            return _write_order(number=number, now=now, **fields)
        except IntegrityError:
            # Two orders in the same millisecond drew the same 4 digits:
            # nothing was written, draw again.
            if attempt == 2 or not Order.objects.filter(number=number).exists():
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _write_order(
    *,
    user,
    kind,
    pickup_point,
    warehouse,
    delivery_date,
    price,
    skus,
    lines,
    number,
    note,
    now,
    cart,
    from_hold=False,
    flash_admissions=(),
) -> Order:
    order = Order.objects.create(
        number=number,
        user=user,
        kind=kind,
        pickup_point=pickup_point,
        leader_id=pickup_point.leader_id,
        warehouse=warehouse,
        pickup_point_name=pickup_point.name,
        pickup_address=pickup_point.address,
        delivery_date=delivery_date,
        pickup_from=local_datetime(delivery_date, warehouse.pickup_time),
        goods_total=price.goods_total,
        discount_total=price.discount_total,
        payable=price.payable,
        note=note[:100],
        pay_deadline=now + timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES),
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                sku_id=line.sku_id,
                product_name=skus[line.sku_id].product.name,
                spec=skus[line.sku_id].spec,
                quantity=line.quantity,
                list_price=line.list_price,
                unit_price=line.unit_price,
                goods_total=line.goods_total,
                discount_total=line.discount_total,
                discounts=[
                    {
                        "kind": p.kind,
                        "label": str(p.label),
                        "amount": str(p.amount),
                        "ref": p.ref,
                    }
                    for p in line.discounts
                ],
                payable=line.payable,
            )
            for line in price.lines
        ]
    )
    if cart is None:
        OrderEvent.objects.create(
            order=order,
            from_status=OrderStatus.PENDING_PAYMENT,
            to_status=OrderStatus.PENDING_PAYMENT,
            actor=user,
            note="placed",
        )
    else:
        # The event and the ordered cart lines gone in one statement, which
        # also says what is left in the cart (the tab bar's count, stored
        # after commit: the pay page does not count again).
        token = cart_count_cache.changing(user_id=user.pk)
        left = _log_placed_and_empty_cart(
            order=order, user=user, cart=cart, sku_ids=[sku_id for sku_id, _q in lines]
        )
        cart_count_cache.changed_to(user_id=user.pk, token=token, count=left)
    if flash_admissions or uses_marketing(price):
        # The coupon (compare-and-set), points (guarded balance), 秒杀 counter.
        consume_for_order(order=order, price=price, admissions=flash_admissions)
    # Last: the hot row locks (raises OutOfStock and rolls everything back).
    reserve_stock(
        lines=lines,
        warehouse=warehouse,
        delivery_date=delivery_date,
        reference=number,
        actor=user,
        skus=skus,
        savepoint=False,
        from_hold=from_hold,
    )
    return order
