"""Marketing's price rules (orders.pricing.PriceRule): 满减, coupons and points.

Pure, like orders/pricing.py: each rule holds what it needs (the tiers, the
coupon's numbers, the SKUs it may touch) and does no I/O in apply(). The
services in marketing/services/checkout.py build them from the database.

The stacking rule (marketing/README.md) is expressed by stages and by which
lines a rule may touch:

1. special prices (秒杀, 拼团) at orders.pricing.STAGE_SPECIAL_PRICE;
2. 满减 (PromotionRule) at PROMOTION_STAGE, on the eligible lines' payable;
3. the coupon (CouponRule) at COUPON_STAGE, on what the eligible lines still
   have to pay after 满减;
4. points (PointsRule) at orders.pricing.STAGE_PAYMENT, on the whole order.

A line with a special price (its unit price below its list price) is never
eligible for 满减 or a coupon: the special price is already the deal. Points
may pay for any line. Every order keeps at least ¥0.01 to pay (a payment of
zero cannot be made), so each rule caps itself at the payable minus a fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from orders.pricing import (
    STAGE_ORDER_DISCOUNT,
    STAGE_PAYMENT,
    DiscountPart,
    LinePrice,
    OrderPrice,
    apportion,
)
from tuangou.money import FEN, ZERO, from_fen, to_money

# 满减 first, then the coupon on what is left (both order discounts).
PROMOTION_STAGE = STAGE_ORDER_DISCOUNT
COUPON_STAGE = STAGE_ORDER_DISCOUNT + 10
POINTS_STAGE = STAGE_PAYMENT

# The discount kinds written on order lines (OrderLine.discounts[].kind).
KIND_PROMOTION = "promotion"
KIND_COUPON = "coupon"
KIND_POINTS = "points"

# 100 points are worth ¥1: one point is one fen, so any number of points is an
# exact amount of money and a refund can give back exact points.
POINTS_PER_YUAN_VALUE = 100


def points_value(points: int) -> Decimal:
    return from_fen(points * 100 // POINTS_PER_YUAN_VALUE)


def is_special_priced(line: LinePrice) -> bool:
    """A 秒杀 or 拼团 line: excluded from 满减 and coupons."""
    return line.unit_price < line.list_price


@dataclass(frozen=True)
class Scope:
    """Which SKUs a promotion or coupon may touch. `sku_ids` None means all
    (special-priced lines are excluded either way)."""

    sku_ids: frozenset | None = None

    def covers(self, line: LinePrice) -> bool:
        if is_special_priced(line):
            return False
        return self.sku_ids is None or line.sku_id in self.sku_ids


def eligible_base(price: OrderPrice, scope: Scope) -> Decimal:
    """What the lines in scope still have to pay."""
    return to_money(sum((line.payable for line in price.lines if scope.covers(line)), ZERO))


def with_scoped_discount(price: OrderPrice, part: DiscountPart, scope: Scope) -> OrderPrice:
    """An order discount split over the eligible lines only, exactly to the fen
    (OrderPrice.with_order_discount splits over every line)."""
    weights = [line.payable if scope.covers(line) else ZERO for line in price.lines]
    shares = apportion(part.amount, weights)
    lines = tuple(
        line.with_discount(replace(part, amount=share)) if share else line
        for line, share in zip(price.lines, shares, strict=True)
    )
    return replace(price, lines=lines, order_discounts=(*price.order_discounts, part))


def _cap(amount: Decimal, *, base: Decimal, payable: Decimal) -> Decimal:
    """Never more than the eligible lines' payable, and always ¥0.01 left to pay."""
    return max(ZERO, min(to_money(amount), base, payable - FEN))


@dataclass(frozen=True)
class Tier:
    threshold: Decimal
    amount: Decimal


@dataclass(frozen=True)
class PromotionRule:
    """满减: the highest tier the eligible lines reach."""

    promotion_id: Any
    name: str
    tiers: tuple[Tier, ...]
    scope: Scope = Scope()
    stage: int = PROMOTION_STAGE

    def tier_for(self, price: OrderPrice) -> Tier | None:
        base = eligible_base(price, self.scope)
        reached = [t for t in self.tiers if base >= t.threshold]
        return max(reached, key=lambda t: t.threshold) if reached else None

    def discount_for(self, price: OrderPrice) -> Decimal:
        tier = self.tier_for(price)
        if tier is None:
            return ZERO
        return _cap(tier.amount, base=eligible_base(price, self.scope), payable=price.payable)

    def apply(self, price: OrderPrice) -> OrderPrice:
        amount = self.discount_for(price)
        if amount <= 0:
            return price
        tier = self.tier_for(price)
        label = _("Spend ¥%(threshold)s get ¥%(amount)s off") % {
            "threshold": _plain(tier.threshold),
            "amount": _plain(tier.amount),
        }
        part = DiscountPart(
            KIND_PROMOTION, f"{self.name} · {label}", amount, str(self.promotion_id)
        )
        return with_scoped_discount(price, part, self.scope)


def _plain(amount: Decimal) -> str:
    """¥30.00 → 30, ¥2.50 → 2.5 (how 满减 tiers read)."""
    text = f"{to_money(amount):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class CouponRule:
    """One coupon from the shopper's wallet, on the eligible lines after 满减."""

    code: str
    name: str
    kind: str  # marketing.models.CouponKind
    threshold: Decimal = ZERO
    amount: Decimal | None = None  # fixed / no-threshold
    percent_off: int | None = None  # percent
    max_discount: Decimal | None = None  # percent cap
    scope: Scope = Scope()
    stage: int = COUPON_STAGE

    def reaches_threshold(self, price: OrderPrice) -> bool:
        base = eligible_base(price, self.scope)
        return base > 0 and base >= to_money(self.threshold)

    def discount_for(self, price: OrderPrice) -> Decimal:
        if not self.reaches_threshold(price):
            return ZERO
        base = eligible_base(price, self.scope)
        if self.percent_off:
            amount = to_money(base * Decimal(self.percent_off) / 100)
            if self.max_discount is not None:
                amount = min(amount, to_money(self.max_discount))
        else:
            amount = to_money(self.amount or ZERO)
        return _cap(amount, base=base, payable=price.payable)

    def apply(self, price: OrderPrice) -> OrderPrice:
        amount = self.discount_for(price)
        if amount <= 0:
            return price
        part = DiscountPart(KIND_COUPON, f"{_('Coupon')} · {self.name}", amount, self.code)
        return with_scoped_discount(price, part, self.scope)


@dataclass(frozen=True)
class PointsRule:
    """Points as money, last: the ref is the number of points spent."""

    points: int
    stage: int = POINTS_STAGE

    def apply(self, price: OrderPrice) -> OrderPrice:
        if self.points <= 0 or not price.lines:
            return price
        amount = min(points_value(self.points), price.payable - FEN)
        if amount <= 0:
            return price
        used = int(amount * POINTS_PER_YUAN_VALUE)
        label = _("Points (%(points)d)") % {"points": used}
        return price.with_order_discount(DiscountPart(KIND_POINTS, label, amount, str(used)))


def max_points_for(price: OrderPrice, *, balance: int, max_share: Decimal) -> int:
    """The most points this order may take: at most `max_share` of what is left
    to pay, at most the balance, and always ¥0.01 left to pay."""
    if balance <= 0 or price.payable <= FEN:
        return 0
    cap = min(to_money(price.payable * Decimal(max_share)), price.payable - FEN)
    cap_points = int(cap * POINTS_PER_YUAN_VALUE)
    return max(0, min(balance, cap_points))


def parts_of(price: OrderPrice, kind: str) -> Sequence[DiscountPart]:
    return [p for p in price.order_discounts if p.kind == kind]
