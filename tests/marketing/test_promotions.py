"""满减: the highest tier reached, scope, the best of several promotions, the
cache dropped on a change, and the pure rules' exactness."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketing.models import CouponScope
from marketing.rules import CouponRule, PointsRule, PromotionRule, Scope, Tier
from marketing.services.checkout import checkout_offer
from marketing.services.promotions import running_promotions, set_promotion_active
from orders.pricing import Item, SpecialUnitPrices, price_lines
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW

from .m1_support import promotion

pytestmark = pytest.mark.django_db


def _sku(point, price, name="大米"):
    sku = SkuFactory(product__name=name, price=Decimal(price))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=30)
    return sku


def test_the_highest_reached_tier_applies(clock, shopper, point):
    rice = _sku(point, "50.00")
    promotion(("49", "5"), ("99", "12"), ("199", "30"))
    assert checkout_offer(user=shopper, lines=[(rice, 1)]).price.payable == Decimal("45.00")
    assert checkout_offer(user=shopper, lines=[(rice, 2)]).price.payable == Decimal("88.00")
    assert checkout_offer(user=shopper, lines=[(rice, 4)]).price.payable == Decimal("170.00")
    offer = checkout_offer(user=shopper, lines=[(rice, 2)])
    assert [str(p.label) for p in offer.price.discount_breakdown()] == ["满减 · 满99减12"]


def test_a_product_scoped_promotion_counts_only_its_products(clock, shopper, point):
    rice = _sku(point, "30.00")
    oil = _sku(point, "30.00", name="食用油")
    promotion(("50", "10"), name="粮油节", scope=CouponScope.PRODUCTS, products=[rice.product])
    offer = checkout_offer(user=shopper, lines=[(rice, 1), (oil, 1)])
    assert offer.promotion is None  # ¥30 of rice is under ¥50
    offer = checkout_offer(user=shopper, lines=[(rice, 2), (oil, 1)])
    lines = {line.sku_id: line for line in offer.price.lines}
    assert lines[rice.pk].discount_total == Decimal("10.00")
    assert lines[oil.pk].discount_total == Decimal("0.00")


def test_of_two_promotions_the_shopper_gets_the_one_that_saves_more(clock, shopper, point):
    rice = _sku(point, "60.00")
    promotion(("50", "5"), name="小满减")
    promotion(("60", "9"), name="大满减")
    offer = checkout_offer(user=shopper, lines=[(rice, 1)])
    assert offer.price.payable == Decimal("51.00")
    assert "大满减" in str(offer.price.discount_breakdown()[0].label)


def test_stopping_a_promotion_is_seen_at_once(clock, shopper, point):
    rice = _sku(point, "60.00")
    promo = promotion(("50", "5"))
    assert [p.pk for p in running_promotions()] == [promo.pk]
    set_promotion_active(promotion=promo, is_active=False)
    assert running_promotions() == []
    assert checkout_offer(user=shopper, lines=[(rice, 1)]).price.payable == Decimal("60.00")


def test_special_priced_lines_get_no_promotion_or_coupon_but_points():
    items = [Item("flash", 1, Decimal("20.00")), Item("normal", 1, Decimal("40.00"))]
    rules = [
        SpecialUnitPrices({"flash": Decimal("9.90")}, kind="flash_sale"),
        PromotionRule(1, "满减", (Tier(Decimal("40"), Decimal("5")),)),
        CouponRule("C1", "券", "fixed", threshold=Decimal("30"), amount=Decimal("3.00")),
        PointsRule(1000),
    ]
    price = price_lines(items, rules=rules)
    flash, normal = price.lines
    assert [p.kind for p in flash.discounts] == ["flash_sale", "points"]
    assert [p.kind for p in normal.discounts] == ["promotion", "coupon", "points"]
    assert price.payable == Decimal("49.90") - Decimal("8.00") - Decimal("10.00")


@given(
    prices=st.lists(st.integers(min_value=1, max_value=50_000), min_size=1, max_size=6),
    amount=st.integers(min_value=1, max_value=100_000),
    eligible=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_a_scoped_discount_splits_exactly_over_eligible_lines(prices, amount, eligible):
    items = [Item(i, 1, Decimal(p) / 100) for i, p in enumerate(prices)]
    scope = Scope(frozenset(i for i in range(len(prices)) if eligible[i]))
    rule = CouponRule("C", "券", "fixed", amount=Decimal(amount) / 100, scope=scope)
    price = price_lines(items, rules=[rule])
    given_total = sum((p.amount for line in price.lines for p in line.discounts), Decimal("0.00"))
    base = sum((Decimal(p) / 100 for i, p in enumerate(prices) if eligible[i]), Decimal("0"))
    total = sum(Decimal(p) / 100 for p in prices)
    expected = max(Decimal("0.00"), min(Decimal(amount) / 100, base, total - Decimal("0.01")))
    assert given_total == expected
    for i, line in enumerate(price.lines):
        if not eligible[i]:
            assert line.discounts == ()
    assert price.payable >= Decimal("0.01")
