"""Pricing: each line with its breakdown, order totals as sums, exact apportioning.

Everything here is pure: no database, no request. The checkout service loads
SKUs and prices, calls `price_lines()` with the price rules that apply (each
app contributes its own: flash sales and 拼团 prices, coupons, points), and
freezes the resulting numbers on the order lines. The browser never sends a
price that counts.

The numbers of a line always satisfy

    goods_total = list_price × quantity            (团购价, before specials)
    discount_total = Σ its discount parts          (special price, coupon share, …)
    payable = goods_total − discount_total         (never negative)

and the order's totals are the sums of its lines'. An order-level discount
(a coupon of ¥5 on the order) is split over the lines to the fen at the
moment it is applied, so every line knows exactly what was paid for it and a
partial refund gives back exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from django.utils.translation import gettext_lazy as _

from tuangou.money import ZERO, from_fen, to_fen, to_money

# Stages order the rules contributed by different apps; within a stage the
# caller's order holds. Special prices change the unit price, so they run
# before discounts that are proportional to what is left to pay.
STAGE_SPECIAL_PRICE = 100  # flash sale, 拼团 price
STAGE_ORDER_DISCOUNT = 200  # coupons, 满减
STAGE_PAYMENT = 300  # points used as money


def _money(value: Decimal | int | str, what: str) -> Decimal:
    amount = to_money(value)
    if amount < 0:
        raise ValueError(f"{what} must not be negative")
    return amount


def _exact_money(value: Decimal, what: str) -> Decimal:
    """Refuse values finer than a fen instead of rounding them away silently."""
    amount = Decimal(value)
    if to_money(amount) != amount:
        raise ValueError(f"{what} must be a whole number of fen: {value}")
    if amount < 0:
        raise ValueError(f"{what} must not be negative")
    return to_money(amount)


@dataclass(frozen=True)
class DiscountPart:
    """One named reduction: kind is a stable code, label what the shopper reads."""

    kind: str  # "flash_sale", "group_price", "coupon", "points", …
    label: str
    amount: Decimal
    ref: str = ""  # what it came from: a coupon code, a flash sale id, …

    def __post_init__(self):
        object.__setattr__(self, "amount", _money(self.amount, "a discount"))


@dataclass(frozen=True)
class LinePrice:
    sku_id: Any
    quantity: int
    unit_price: Decimal  # after any special price
    list_price: Decimal  # 团购价 before specials
    discounts: tuple[DiscountPart, ...] = ()

    def __post_init__(self):
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise TypeError("quantity must be an int")
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")
        object.__setattr__(self, "unit_price", _money(self.unit_price, "unit_price"))
        object.__setattr__(self, "list_price", _money(self.list_price, "list_price"))
        object.__setattr__(self, "discounts", tuple(self.discounts))
        if self.unit_price > self.list_price:
            raise ValueError("unit_price must not exceed list_price")
        if self.discount_total > self.goods_total:
            raise ValueError(f"discounts exceed the goods total of SKU {self.sku_id}")

    @property
    def goods_total(self) -> Decimal:
        return to_money(self.list_price * self.quantity)

    @property
    def discount_total(self) -> Decimal:
        return to_money(sum((part.amount for part in self.discounts), ZERO))

    @property
    def payable(self) -> Decimal:
        return self.goods_total - self.discount_total

    def discount(self, kind: str) -> Decimal:
        """The total of this line's parts of one kind."""
        return to_money(sum((p.amount for p in self.discounts if p.kind == kind), ZERO))

    def with_discount(self, part: DiscountPart) -> LinePrice:
        return replace(self, discounts=(*self.discounts, part))

    def with_special_price(
        self, unit_price: Decimal, *, kind: str, label: str, ref: str = ""
    ) -> LinePrice:
        """A special unit price (flash sale, 拼团), recorded as a named discount.

        Applies to the list price: a second special price replaces nothing, it
        is refused, because which one wins is a business rule for the caller.
        """
        if self.unit_price != self.list_price:
            raise ValueError(f"SKU {self.sku_id} already has a special price")
        unit_price = _money(unit_price, "unit_price")
        if unit_price > self.list_price:
            raise ValueError("a special price must not exceed the list price")
        line = replace(self, unit_price=unit_price)
        saving = to_money((self.list_price - unit_price) * self.quantity)
        if saving:
            line = line.with_discount(DiscountPart(kind, label, saving, ref))
        return line

    def unit_payables(self) -> list[Decimal]:
        """What each unit of this line was paid, to the fen, summing to payable.

        A refund of k units gives back the last k of these, so refunding all
        units one by one returns exactly the payable, never a fen more.
        """
        return apportion(self.payable, [self.list_price] * self.quantity)


@dataclass(frozen=True)
class OrderPrice:
    lines: tuple[LinePrice, ...]
    # Order-level discounts as the shopper reads them ("优惠券 -¥5.00"); their
    # amounts are already split over the lines' discounts.
    order_discounts: tuple[DiscountPart, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "order_discounts", tuple(self.order_discounts))
        sku_ids = [line.sku_id for line in self.lines]
        if len(set(sku_ids)) != len(sku_ids):
            raise ValueError("one line per SKU")

    @property
    def goods_total(self) -> Decimal:
        return to_money(sum((line.goods_total for line in self.lines), ZERO))

    @property
    def discount_total(self) -> Decimal:
        return to_money(sum((line.discount_total for line in self.lines), ZERO))

    @property
    def payable(self) -> Decimal:
        return to_money(sum((line.payable for line in self.lines), ZERO))

    def discount(self, kind: str) -> Decimal:
        return to_money(sum((line.discount(kind) for line in self.lines), ZERO))

    def discount_breakdown(self) -> tuple[DiscountPart, ...]:
        """All discounts summed by (kind, label, ref), in the order they appeared."""
        totals: dict[tuple[str, str, str], DiscountPart] = {}
        for line in self.lines:
            for part in line.discounts:
                key = (part.kind, str(part.label), part.ref)
                seen = totals.get(key)
                totals[key] = (
                    part if seen is None else replace(seen, amount=seen.amount + part.amount)
                )
        return tuple(totals.values())

    def line_for(self, sku_id: Any) -> LinePrice:
        for line in self.lines:
            if line.sku_id == sku_id:
                return line
        raise KeyError(sku_id)

    def with_line(self, line: LinePrice) -> OrderPrice:
        """The same order with the line of line.sku_id replaced."""
        self.line_for(line.sku_id)
        return replace(
            self, lines=tuple(line if old.sku_id == line.sku_id else old for old in self.lines)
        )

    def with_order_discount(self, part: DiscountPart) -> OrderPrice:
        """An order-level discount, split over the lines by what each has left to pay.

        Raises ValueError when it exceeds the payable: a rule caps its own
        amount (a ¥10 coupon on a ¥8 order gives ¥8) because how to cap is
        its business rule.
        """
        if part.amount > self.payable:
            raise ValueError("an order discount must not exceed the payable")
        shares = apportion(part.amount, [line.payable for line in self.lines])
        lines = tuple(
            line.with_discount(replace(part, amount=share)) if share else line
            for line, share in zip(self.lines, shares, strict=True)
        )
        return replace(self, lines=lines, order_discounts=(*self.order_discounts, part))


@runtime_checkable
class PricedItem(Protocol):
    """What price_lines needs of a cart line (a cart row, a dataclass, …)."""

    sku_id: Any
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Item:
    """A plain PricedItem, for callers and tests without a cart row at hand."""

    sku_id: Any
    quantity: int
    unit_price: Decimal


@runtime_checkable
class PriceRule(Protocol):
    """A pluggable price rule: takes an order price and returns a new one.

    Rules live in the app that owns them (marketing: coupons, points, flash
    sales; groupbuy: 拼团 prices) and use only the pure methods above, so
    every rule keeps the invariants. Rules hold what they need (the coupon,
    the campaign's prices); they do no I/O in apply().
    """

    stage: int

    def apply(self, price: OrderPrice) -> OrderPrice: ...


def price_lines(items: Iterable[PricedItem], *, rules: Sequence[PriceRule] = ()) -> OrderPrice:
    """Price cart items, then apply the rules by stage (stable within a stage)."""
    price = OrderPrice(
        lines=tuple(
            LinePrice(
                sku_id=item.sku_id,
                quantity=item.quantity,
                unit_price=item.unit_price,
                list_price=item.unit_price,
            )
            for item in items
        )
    )
    for rule in sorted(rules, key=lambda r: getattr(r, "stage", STAGE_ORDER_DISCOUNT)):
        price = rule.apply(price)
    return price


# --- built-in rules -----------------------------------------------------------


@dataclass(frozen=True)
class SpecialUnitPrices:
    """Special unit prices per SKU (the shape of a flash sale or 拼团 price)."""

    prices: Mapping[Any, Decimal]
    kind: str = "special_price"
    label: str = _("Special price")
    ref: str = ""
    stage: int = STAGE_SPECIAL_PRICE

    def apply(self, price: OrderPrice) -> OrderPrice:
        for line in price.lines:
            special = self.prices.get(line.sku_id)
            if special is not None and to_money(special) < line.unit_price:
                price = price.with_line(
                    line.with_special_price(special, kind=self.kind, label=self.label, ref=self.ref)
                )
        return price


@dataclass(frozen=True)
class FixedAmountOff:
    """A fixed amount off the order once it reaches a threshold (满减, or a coupon).

    Capped at the payable, so the order never goes below zero.
    """

    amount: Decimal
    min_payable: Decimal = ZERO
    kind: str = "order_discount"
    label: str = _("Discount")
    ref: str = ""
    stage: int = STAGE_ORDER_DISCOUNT

    def apply(self, price: OrderPrice) -> OrderPrice:
        if price.payable < to_money(self.min_payable) or not price.lines:
            return price
        amount = min(to_money(self.amount), price.payable)
        if amount <= 0:
            return price
        return price.with_order_discount(DiscountPart(self.kind, self.label, amount, self.ref))


# --- apportioning -------------------------------------------------------------


def apportion(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `amount` over `weights` (line totals) to the fen, exactly.

    Largest-remainder method: each part is the floor of its exact share in
    fen, and the fen left over go one each to the largest remainders, ties to
    the lower index. So the parts sum to `amount` exactly, each is within one
    fen of its exact share, never negative, and never more than its weight
    (an exact share ≤ weight, and a part is at most its share rounded up to
    the fen). Weights of zero get nothing.
    """
    total_fen = to_fen(_exact_money(amount, "amount"))
    weights_fen = [to_fen(_exact_money(w, "a weight")) for w in weights]
    weight_sum = sum(weights_fen)
    if total_fen == 0:
        return [ZERO for _ in weights_fen]
    if total_fen > weight_sum:
        raise ValueError(f"cannot split {amount} over weights totalling {from_fen(weight_sum)}")
    # Integer arithmetic throughout: share_i = total * w_i / sum, exactly.
    floors = [total_fen * w // weight_sum for w in weights_fen]
    remainders = [total_fen * w % weight_sum for w in weights_fen]
    left_over = total_fen - sum(floors)
    by_remainder = sorted(range(len(weights_fen)), key=lambda i: (-remainders[i], i))
    for index in by_remainder[:left_over]:
        floors[index] += 1
    return [from_fen(fen) for fen in floors]
