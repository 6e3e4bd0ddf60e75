"""Pricing: exact breakdowns, the rule plug-in path, and apportioning to the fen."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.pricing import (
    STAGE_PAYMENT,
    DiscountPart,
    FixedAmountOff,
    Item,
    LinePrice,
    OrderPrice,
    PriceRule,
    SpecialUnitPrices,
    apportion,
    price_lines,
)

D = Decimal
EGGS, MILK, RICE = 101, 102, 103


def cart():
    return [Item(EGGS, 2, D("12.90")), Item(MILK, 3, D("5.50"))]


# --- lines and totals ---------------------------------------------------------


def test_lines_without_rules_are_priced_at_their_unit_price():
    price = price_lines(cart())

    eggs, milk = price.lines
    assert (eggs.sku_id, eggs.quantity, eggs.unit_price, eggs.list_price) == (
        EGGS,
        2,
        D("12.90"),
        D("12.90"),
    )
    assert eggs.goods_total == D("25.80")
    assert eggs.discount_total == D("0.00")
    assert eggs.payable == D("25.80")
    assert milk.goods_total == D("16.50")
    assert price.goods_total == D("42.30")
    assert price.discount_total == D("0.00")
    assert price.payable == D("42.30")
    assert price.order_discounts == ()


def test_an_order_discount_is_split_over_the_lines_to_the_fen():
    price = price_lines(cart(), rules=[FixedAmountOff(D("5.00"), label="满40减5")])

    eggs, milk = price.lines
    # 5.00 × 25.80 / 42.30 = 3.0496…, 5.00 × 16.50 / 42.30 = 1.9503…
    assert eggs.discounts == (DiscountPart("order_discount", "满40减5", D("3.05")),)
    assert milk.discounts == (DiscountPart("order_discount", "满40减5", D("1.95")),)
    assert eggs.payable == D("22.75")
    assert milk.payable == D("14.55")
    assert price.goods_total == D("42.30")
    assert price.discount_total == D("5.00")
    assert price.payable == D("37.30")
    assert price.order_discounts == (DiscountPart("order_discount", "满40减5", D("5.00")),)


def test_a_special_price_is_a_named_discount_on_its_line():
    price = price_lines(
        cart(), rules=[SpecialUnitPrices({EGGS: D("9.90")}, kind="flash_sale", label="限时秒杀")]
    )

    eggs = price.line_for(EGGS)
    assert eggs.unit_price == D("9.90")
    assert eggs.list_price == D("12.90")
    assert eggs.goods_total == D("25.80")
    assert eggs.discounts == (DiscountPart("flash_sale", "限时秒杀", D("6.00")),)
    assert eggs.payable == D("19.80")
    assert price.line_for(MILK).payable == D("16.50")
    assert price.payable == D("36.30")


def test_rules_run_by_stage_so_special_prices_come_before_order_discounts():
    rules = [
        FixedAmountOff(D("5.00"), label="券"),
        SpecialUnitPrices({EGGS: D("9.90")}, kind="flash_sale", label="秒杀"),
    ]

    price = price_lines(cart(), rules=rules)

    # The coupon is split over what is left after the flash sale: 19.80 : 16.50.
    # 5.00 × 19.80 / 36.30 = 2.7272…, 5.00 × 16.50 / 36.30 = 2.2727…
    assert price.line_for(EGGS).discount("order_discount") == D("2.73")
    assert price.line_for(MILK).discount("order_discount") == D("2.27")
    assert price.discount("flash_sale") == D("6.00")
    assert price.discount_total == D("11.00")
    assert price.payable == D("31.30")
    assert price.discount_breakdown() == (
        DiscountPart("flash_sale", "秒杀", D("6.00")),
        DiscountPart("order_discount", "券", D("5.00")),
    )


def test_a_discount_below_its_threshold_does_nothing():
    price = price_lines(cart(), rules=[FixedAmountOff(D("10.00"), min_payable=D("50.00"))])

    assert price.payable == D("42.30")
    assert price.order_discounts == ()


def test_a_discount_larger_than_the_order_is_capped_at_the_payable():
    price = price_lines([Item(RICE, 1, D("8.00"))], rules=[FixedAmountOff(D("10.00"))])

    assert price.discount_total == D("8.00")
    assert price.payable == D("0.00")


def test_an_app_can_plug_in_its_own_rule():
    @dataclass(frozen=True)
    class PointsRule:
        """What marketing's points rule will look like: 100 points = ¥1."""

        points: int
        stage: int = STAGE_PAYMENT

        def apply(self, price: OrderPrice) -> OrderPrice:
            amount = min(Decimal(self.points) / 100, price.payable)
            return price.with_order_discount(DiscountPart("points", "积分抵扣", amount))

    rule = PointsRule(points=250)
    assert isinstance(rule, PriceRule)

    price = price_lines(cart(), rules=[rule, FixedAmountOff(D("5.00"), label="券")])

    assert price.discount("order_discount") == D("5.00")
    assert price.discount("points") == D("2.50")
    assert price.payable == D("34.80")
    assert [p.kind for p in price.order_discounts] == ["order_discount", "points"]
    assert sum(line.payable for line in price.lines) == price.payable


def test_one_line_per_sku():
    with pytest.raises(ValueError):
        price_lines([Item(EGGS, 1, D("1.00")), Item(EGGS, 2, D("1.00"))])


def test_a_line_refuses_bad_values():
    with pytest.raises(ValueError):
        LinePrice(EGGS, 0, D("1.00"), D("1.00"))
    with pytest.raises(TypeError):
        LinePrice(EGGS, 1, 1.5, D("1.50"))
    with pytest.raises(ValueError):
        LinePrice(EGGS, 1, D("-1.00"), D("1.00"))
    with pytest.raises(ValueError):
        LinePrice(EGGS, 1, D("2.00"), D("1.00"))
    with pytest.raises(ValueError):
        LinePrice(EGGS, 1, D("1.00"), D("1.00"), (DiscountPart("coupon", "券", D("1.01")),))
    with pytest.raises(ValueError):
        DiscountPart("coupon", "券", D("-0.01"))


def test_an_order_discount_may_not_exceed_the_payable():
    price = price_lines(cart())

    with pytest.raises(ValueError):
        price.with_order_discount(DiscountPart("coupon", "券", D("42.31")))


def test_a_second_special_price_on_a_line_is_refused():
    line = LinePrice(EGGS, 1, D("12.90"), D("12.90")).with_special_price(
        D("9.90"), kind="flash_sale", label="秒杀"
    )

    with pytest.raises(ValueError):
        line.with_special_price(D("8.90"), kind="group_price", label="拼团")


def test_unit_payables_split_a_line_exactly_for_partial_refunds():
    line = LinePrice(RICE, 3, D("3.33"), D("3.33"), (DiscountPart("coupon", "券", D("0.01")),))

    assert line.payable == D("9.98")
    assert line.unit_payables() == [D("3.33"), D("3.33"), D("3.32")]


# --- apportion ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "weights", "expected"),
    [
        ("0.10", ["1.00", "1.00", "1.00"], ["0.04", "0.03", "0.03"]),
        ("0.01", ["1.00", "1.00"], ["0.01", "0.00"]),
        # 2 fen × 1/5, 3/5, 1/5 = 0.4, 1.2, 0.4: floors 0, 1, 0; the last fen to the
        # first of the two largest remainders.
        ("0.02", ["1.00", "3.00", "1.00"], ["0.01", "0.01", "0.00"]),
        ("0.03", ["1.00", "1.00", "1.00", "1.00"], ["0.01", "0.01", "0.01", "0.00"]),
        ("5.00", ["0.00", "10.00"], ["0.00", "5.00"]),
        ("5.00", ["25.80", "16.50"], ["3.05", "1.95"]),
        ("42.30", ["25.80", "16.50"], ["25.80", "16.50"]),
        ("0.00", ["25.80", "16.50"], ["0.00", "0.00"]),
        ("0.00", [], []),
        ("1.00", ["0.01", "0.99"], ["0.01", "0.99"]),
    ],
)
def test_apportion_exact_values(amount, weights, expected):
    assert apportion(D(amount), [D(w) for w in weights]) == [D(e) for e in expected]


def test_apportion_refuses_what_it_cannot_split():
    with pytest.raises(ValueError):
        apportion(D("1.01"), [D("0.50"), D("0.50")])
    with pytest.raises(ValueError):
        apportion(D("0.01"), [])
    with pytest.raises(ValueError):
        apportion(D("-0.01"), [D("1.00")])
    with pytest.raises(ValueError):
        apportion(D("0.005"), [D("1.00")])
    with pytest.raises(ValueError):
        apportion(D("0.01"), [D("-1.00"), D("2.00")])


fen_weights = st.lists(st.integers(min_value=0, max_value=10_000_000), min_size=1, max_size=30)


@st.composite
def amount_and_weights(draw):
    weights = draw(fen_weights)
    amount = draw(st.integers(min_value=0, max_value=sum(weights)))
    return amount, weights


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


@given(amount_and_weights())
def test_apportioned_parts_sum_to_the_amount_exactly(case):
    amount, weights = case

    parts = apportion(_yuan(amount), [_yuan(w) for w in weights])

    assert sum(parts, Decimal("0.00")) == _yuan(amount)
    assert len(parts) == len(weights)
    assert all(p == p.quantize(Decimal("0.01")) for p in parts)


@given(amount_and_weights())
def test_each_part_is_between_zero_and_its_lines_total(case):
    amount, weights = case

    parts = apportion(_yuan(amount), [_yuan(w) for w in weights])

    for part, weight in zip(parts, weights, strict=True):
        assert Decimal("0.00") <= part <= _yuan(weight)


@given(amount_and_weights())
def test_each_part_is_within_one_fen_of_its_exact_share(case):
    amount, weights = case

    parts = apportion(_yuan(amount), [_yuan(w) for w in weights])

    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact_fen = Fraction(amount * weight, total) if total else Fraction(0)
        assert abs(Fraction(int(part * 100)) - exact_fen) < 1


@given(amount_and_weights())
def test_apportion_is_deterministic(case):
    amount, weights = case
    yuan = [_yuan(w) for w in weights]

    assert apportion(_yuan(amount), yuan) == apportion(_yuan(amount), list(yuan))


items = st.lists(
    st.tuples(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=99_999)),
    min_size=1,
    max_size=12,
)


@given(items, st.integers(min_value=0, max_value=2_000_000), st.integers(0, 99_999))
def test_priced_orders_keep_their_invariants(rows, discount_fen, special_fen):
    cart_items = [Item(i, qty, _yuan(fen)) for i, (qty, fen) in enumerate(rows)]
    rules = [
        SpecialUnitPrices({0: _yuan(special_fen)}, kind="flash_sale", label="秒杀"),
        FixedAmountOff(_yuan(discount_fen), label="券"),
    ]

    price = price_lines(cart_items, rules=rules)

    for line in price.lines:
        assert line.payable == line.goods_total - line.discount_total
        assert line.payable >= 0
        assert sum(line.unit_payables(), Decimal("0.00")) == line.payable
    assert price.goods_total == sum(_yuan(qty * fen) for qty, fen in rows)
    assert price.payable == price.goods_total - price.discount_total
    assert price.payable == sum((line.payable for line in price.lines), Decimal("0.00"))
    assert sum((p.amount for p in price.order_discounts), Decimal("0.00")) == price.discount(
        "order_discount"
    )
    assert price.discount_total == sum(
        (p.amount for p in price.discount_breakdown()), Decimal("0.00")
    )
