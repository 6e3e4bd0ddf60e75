"""Checkout with marketing: the suggested coupon, 满减, points, and what an
order's life gives back (paid, cancelled, refunded), through orders' services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketing.models import Coupon, CouponScope, CouponStatus, PointsEntry, PointsKind
from marketing.services.checkout import NONE, checkout_offer
from marketing.services.coupons import MarketingError, issue_coupon
from marketing.services.points import balance_of
from orders.models import Order, OrderLine
from orders.services.checkout import CheckoutError
from orders.services.payments import cancel_unpaid_order
from orders.services.refunds import refund_lines
from tests.catalog.factories import CategoryFactory, SkuFactory, set_stock
from tests.clock import TOMORROW

from .m1_support import give_points, order_with, pay, promotion, template

pytestmark = pytest.mark.django_db


def _fruit(point, *, name="苹果", price="10.00", qty=30, category=None):
    kwargs = {"product__category": category} if category else {}
    sku = SkuFactory(product__name=name, price=Decimal(price), **kwargs)
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=qty)
    return sku


def test_checkout_suggests_the_coupon_that_saves_most(clock, shopper, point, sku, egg_sku):
    small = issue_coupon(
        template=template(name="满20减3", amount="3.00", threshold="20"), user=shopper
    )
    big = issue_coupon(
        template=template(name="满30减6", amount="6.00", threshold="30"), user=shopper
    )
    too_high = issue_coupon(
        template=template(name="满99减20", amount="20.00", threshold="99"), user=shopper
    )
    lines = [(sku, 2), (egg_sku, 2)]  # 7.80 + 25.60 = 33.40
    offer = checkout_offer(user=shopper, lines=lines)
    assert offer.coupon == big
    assert offer.price.payable == Decimal("27.40")
    assert [o.coupon for o in offer.applicable_options] == [big, small]
    assert [o.coupon for o in offer.other_options] == [too_high]
    assert "65.60" in offer.other_options[0].reason  # 还差¥65.60
    # The shopper changes it, or chooses none.
    assert checkout_offer(user=shopper, lines=lines, coupon=small.code).price.payable == Decimal(
        "30.40"
    )
    assert checkout_offer(user=shopper, lines=lines, coupon=NONE).price.payable == Decimal("33.40")


def test_a_scoped_coupon_is_apportioned_over_its_eligible_lines_only(clock, shopper, point):
    fruit = CategoryFactory(name="水果")
    apples = _fruit(point, name="苹果", price="10.00", category=CategoryFactory(parent=fruit))
    pears = _fruit(point, name="梨", price="5.00", category=fruit)
    milk = _fruit(point, name="牛奶", price="20.00")
    coupon = issue_coupon(
        template=template(
            name="水果券",
            amount="3.00",
            threshold="15",
            scope=CouponScope.CATEGORIES,
            categories=[fruit],
        ),
        user=shopper,
    )
    # The threshold counts the eligible lines: fruit alone under ¥15 is not enough.
    offer = checkout_offer(user=shopper, lines=[(pears, 2), (milk, 1)])
    assert offer.coupon is None
    assert offer.other_options[0].coupon == coupon
    order, offer = order_with(shopper, point, [(apples, 1), (pears, 1), (milk, 1)])
    assert offer.coupon == coupon
    lines = {line.sku_id: line for line in OrderLine.objects.filter(order=order)}
    # ¥3 over 10 : 5 (the fruit), nothing on the milk.
    assert lines[apples.pk].discount_total == Decimal("2.00")
    assert lines[pears.pk].discount_total == Decimal("1.00")
    assert lines[milk.pk].discount_total == Decimal("0.00")
    assert order.payable == Decimal("32.00")
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id, coupon.discount) == (
        CouponStatus.LOCKED,
        order.pk,
        Decimal("3.00"),
    )


def test_stacking_special_price_then_promotion_then_coupon_then_points(clock, shopper, point):
    a = _fruit(point, name="大米", price="40.00")
    b = _fruit(point, name="食用油", price="30.00")
    promotion(("50", "5"), ("60", "10"), name="周末满减")  # highest reached tier
    issue_coupon(template=template(name="满50减8", amount="8.00", threshold="50"), user=shopper)
    give_points(shopper, 1000)
    offer = checkout_offer(user=shopper, lines=[(a, 1), (b, 1)], use_points=True)
    # 70 - 10 (满60减10) = 60 ≥ 50 → coupon 8 → 52; points at most half: 26.00 → 2600 > 1000.
    parts = [(p.kind, p.amount) for p in offer.price.discount_breakdown()]
    assert parts == [
        ("promotion", Decimal("10.00")),
        ("coupon", Decimal("8.00")),
        ("points", Decimal("10.00")),
    ]
    assert offer.price.payable == Decimal("42.00")
    assert offer.points_used == 1000


def test_a_coupon_that_does_not_stack_gives_the_better_of_it_and_the_promotion(
    clock, shopper, point
):
    a = _fruit(point, name="大米", price="40.00")
    promotion(("30", "5"), name="满30减5")
    worse = issue_coupon(
        template=template(name="不同享3元", amount="3.00", threshold="0", stackable=False),
        user=shopper,
    )
    offer = checkout_offer(user=shopper, lines=[(a, 1)])
    assert offer.coupon is None  # 满减 saves more: the coupon stays in the wallet
    assert offer.price.payable == Decimal("35.00")
    assert offer.other_options[0].coupon == worse
    with pytest.raises(MarketingError):
        checkout_offer(user=shopper, lines=[(a, 1)], coupon=worse.code)
    better = issue_coupon(
        template=template(name="不同享12元", amount="12.00", threshold="0", stackable=False),
        user=shopper,
    )
    offer = checkout_offer(user=shopper, lines=[(a, 1)])
    assert offer.coupon == better
    assert [p.kind for p in offer.price.discount_breakdown()] == ["coupon"]
    assert offer.price.payable == Decimal("28.00")


def test_points_are_capped_by_the_share_and_the_balance(clock, shopper, point, egg_sku):
    give_points(shopper, 5000)
    offer = checkout_offer(user=shopper, lines=[(egg_sku, 1)], use_points=True)  # 12.80
    assert offer.points_usable == 640 and offer.points_used == 640
    assert offer.price.payable == Decimal("6.40")
    with pytest.raises(MarketingError) as refused:
        checkout_offer(user=shopper, lines=[(egg_sku, 1)], points=641)
    assert "640" in refused.value.message
    with pytest.raises(MarketingError) as refused:
        checkout_offer(user=shopper, lines=[(egg_sku, 1)], points=5001)
    assert "5000" in refused.value.message


def test_bad_coupons_get_a_clear_message_and_nothing_is_written(
    clock, shopper, other_shopper, point, egg_sku
):
    theirs = issue_coupon(template=template(threshold="0"), user=other_shopper)
    mine = issue_coupon(template=template(name="满99减10", threshold="99"), user=shopper)
    expired = issue_coupon(template=template(name="过期", threshold="0"), user=shopper)
    Coupon.objects.filter(pk=expired.pk).update(status=CouponStatus.EXPIRED)
    cases = {
        theirs.code: "不存在",
        "FORGED123": "不存在",
        mine.code: "还差",
        expired.code: "过期",
    }
    for code, words in cases.items():
        with pytest.raises(MarketingError) as refused:
            checkout_offer(user=shopper, lines=[(egg_sku, 1)], coupon=code)
        assert words in refused.value.message, (code, refused.value.message)
    assert Order.objects.count() == 0
    assert set(Coupon.objects.values_list("status", flat=True)) == {"unused", "expired"}


def test_paying_uses_the_coupon_and_cancelling_gives_coupon_and_points_back(
    clock, shopper, point, egg_sku
):
    coupon = issue_coupon(template=template(threshold="20"), user=shopper)
    give_points(shopper, 300)
    order, offer = order_with(shopper, point, [(egg_sku, 2)], use_points=True)
    assert offer.points_used == 300
    assert balance_of(user=shopper) == 0
    assert order.payable == Decimal("17.60")  # 25.60 - 5 - 3
    cancel_unpaid_order(order=order)
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id) == (CouponStatus.UNUSED, None)
    assert balance_of(user=shopper) == 300
    # Again, and paid this time.
    order, _offer = order_with(shopper, point, [(egg_sku, 2)], use_points=True)
    pay(order)
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.USED and coupon.order_id == order.pk
    kinds = list(PointsEntry.objects.order_by("pk").values_list("kind", "delta"))
    assert kinds == [("adjusted", 300), ("spent", -300), ("returned", 300), ("spent", -300)]


def test_a_used_coupon_cannot_be_placed_twice(clock, shopper, point, egg_sku):
    coupon = issue_coupon(template=template(threshold="0"), user=shopper)
    offer = checkout_offer(user=shopper, lines=[(egg_sku, 1)])
    order_with(shopper, point, [(egg_sku, 1)], coupon=coupon.code)
    # A second order with the same (stale) rules: refused, nothing written.
    from orders.services.checkout import Want, place_order

    with pytest.raises(CheckoutError) as refused:
        place_order(
            user=shopper, wants=[Want(egg_sku.pk, 1)], pickup_point=point, rules=list(offer.rules)
        )
    assert "已" in refused.value.message
    assert Order.objects.count() == 1


def test_a_partial_refund_gives_back_the_apportioned_amounts_and_points(
    clock, shopper, point, egg_sku, sku
):
    issue_coupon(template=template(threshold="20", amount="5.00"), user=shopper)
    give_points(shopper, 1000)
    order, _offer = order_with(shopper, point, [(egg_sku, 2), (sku, 3)], use_points=True)
    # 25.60 + 11.70 = 37.30; coupon 5 → 32.30; points half: 16.15 → 1000 points (¥10).
    assert order.payable == Decimal("22.30")
    pay(order)
    eggs = OrderLine.objects.get(order=order, sku=egg_sku)
    parts = {p["kind"]: Decimal(p["amount"]) for p in eggs.discounts}
    refund = refund_lines(order=order, quantities={eggs.pk: 1}, reason="operator")
    from orders.services.refunds import unit_amounts

    assert refund.amount == unit_amounts(eggs)[-1]
    assert sum(unit_amounts(eggs)) == eggs.payable
    # Half the eggs' points come back (per unit, exactly).
    points_back = int(parts["points"] * 100) // 2
    assert PointsEntry.objects.get(kind=PointsKind.RETURNED).delta == points_back
    # A partial refund keeps the coupon used.
    assert Coupon.objects.get().status == CouponStatus.USED
    # The rest: the order is refunded whole before delivery → coupon back, all points back.
    refund_lines(order=order, quantities=None, reason="operator")
    assert Coupon.objects.get().status == CouponStatus.UNUSED
    assert balance_of(user=shopper) == 1000
