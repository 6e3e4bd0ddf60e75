"""Issue #13's done-when, in a phone browser (iPhone 13, zh-CN): a new shopper
signs in and finds a 新人券 in 我的优惠券, claims another in 领券中心, buys in a
running 秒杀 with the best coupon suggested and points used, pays in the
sandbox, and the order shows each discount by name; after pickup, points
arrive and a 满额返券 coupon is issued; a partial refund gives back exactly the
apportioned amounts."""

from __future__ import annotations

import logging
import re
from decimal import Decimal

import pytest

from marketing.models import Coupon, CouponChannel, CouponStatus, PointsEntry, PointsKind
from marketing.services.points import adjust_points, balance_of
from orders.models import Order, OrderLine, OrderStatus
from orders.services.pickup import hand_out_everything
from orders.services.refunds import refund_lines, unit_amounts
from orders.services.transitions import transition
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW, browser_clock
from tests.marketing.flash_support import clean_gate, make_sale  # noqa: F401
from tests.orders.shopper_helpers import bind
from tuangou.accounts.models import User

from .m1_support import template


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.browser
@pytest.mark.ticking
@pytest.mark.django_db(transaction=True)
def test_a_new_shopper_uses_coupons_points_and_a_flash_sale_on_a_phone(
    clock, browser, browser_context_args, live_server, settings, caplog, point, leader
):
    settings.SITE_URL = live_server.url
    settings.MARKETING_POINTS_PER_YUAN = 1
    settings.MARKETING_SPEND_REWARD_MIN = "10.00"
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    gift = template(
        name="新人无门槛券",
        kind="no_threshold",
        channel=CouponChannel.NEW_USER,
        amount="3.00",
        threshold="0",
    )
    claimable = template(name="满20减6", amount="6.00", threshold="20", total=50)
    reward = template(name="满额返券满59减8", channel=CouponChannel.SPEND_REWARD, threshold="59")
    tomato = SkuFactory(product__name="西红柿", spec="500g/份", price=Decimal("3.90"))
    eggs = SkuFactory(product__name="土鸡蛋", spec="10枚/盒", price=Decimal("12.80"))
    for sku in (tomato, eggs):
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=20)
    make_sale(sku=tomato, price=Decimal("1.99"), name="午间秒杀", quota=10)

    context = browser.new_context(**browser_context_args)
    browser_clock(context)
    page = context.new_page()
    assert page.viewport_size == {"width": 390, "height": 844}

    # 1. A new phone signs in with an SMS code: the 新人券 is waiting.
    page.goto(f"{live_server.url}/accounts/login/code/?next=/me/")
    page.get_by_label("手机号").fill("136 5555 6666")
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_selector("input[name=code]")
    code = re.findall(r"code=(\d{6})", caplog.text)[-1]
    page.fill("input[name=code]", code)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{live_server.url}/me/")
    assert "新人券已放入" in page.inner_text(".messages")
    shopper = User.objects.get(phone="+8613655556666")
    page.click("[data-me=coupons]")
    page.wait_for_selector("[data-coupon]")
    assert "新人无门槛券" in page.inner_text("main")
    _fits(page)

    # 2. 领券中心: claim 满20减6 (htmx swaps the card to 已领取).
    page.click("[data-claim-centre-link]")
    # htmx (a deferred script) takes over the form once the page has loaded;
    # a click before that posts the plain form (a redirect and a message).
    page.wait_for_load_state("load")
    card = page.locator(f"[data-claim-card='{claimable.pk}']")
    assert "剩余50张" in card.inner_text()
    card.locator("[data-claim]").click()
    page.wait_for_selector(f"[data-claim-card='{claimable.pk}'] [data-claimed]")
    assert "领取成功" in page.inner_text(f"[data-claim-card='{claimable.pk}']")
    assert Coupon.objects.filter(user=shopper).count() == 2

    # An operator's welcome gift of points, and the shopper's pickup point.
    adjust_points(user=shopper, delta=500, note="新人送积分", key="welcome")
    bind(shopper, point)

    # 3. The 秒杀 page, then the cart: the flash tomato and two boxes of eggs.
    page.goto(f"{live_server.url}/promo/flash/")
    assert "午间秒杀" in page.inner_text("main")
    for sku, quantity in ((tomato, 1), (eggs, 2)):
        page.goto(f"{live_server.url}/p/{sku.product.code}/")
        page.fill("input[name=quantity]:not([type=hidden])", str(quantity))
        page.click("button[name=action][value=cart]")
        page.wait_for_selector(".msg-success")

    # 4. Checkout: the best coupon is suggested; points are switched on.
    page.goto(f"{live_server.url}/orders/checkout/")
    selected = page.locator("[data-coupon-select] option:checked")
    assert "满20减6" in selected.inner_text() and "最优" in selected.inner_text()
    page.check("[data-use-points]")  # the page prices it again at once
    page.wait_for_selector("[data-discount-part=points]")
    parts = page.inner_text("[data-breakdown]")
    assert "午间秒杀" in parts and "优惠券 · 满20减6" in parts and "积分抵扣（500积分）" in parts
    # 3.90 + 25.60; 秒杀 −1.91; coupon −6 (the eggs only); 500 points −5.00.
    assert page.locator("[data-payable]").inner_text() == "¥16.59"
    _fits(page)
    # The shopper may change it: the 新人券 takes ¥3 instead, then back to the best.
    gift_code = Coupon.objects.get(user=shopper, template=gift).code
    best_code = Coupon.objects.get(user=shopper, template=claimable).code
    page.select_option("[data-coupon-select]", gift_code)
    page.wait_for_selector("text=优惠券 · 新人无门槛券")
    assert page.locator("[data-payable]").inner_text() == "¥19.59"
    page.select_option("[data-coupon-select]", best_code)
    page.wait_for_selector("text=优惠券 · 满20减6")
    assert page.locator("[data-payable]").inner_text() == "¥16.59"
    page.click("[data-place-order]")

    # 5. Pay in the sandbox; the order shows each discount by name.
    page.wait_for_selector("[data-pay-form]")
    order = Order.objects.get(user=shopper)
    assert order.payable == Decimal("16.59")
    page.click("[data-pay]")
    page.wait_for_selector("[data-confirm-pay]")
    page.click("[data-confirm-pay]")
    page.wait_for_url(f"{live_server.url}/orders/o/{order.code}/")
    shown = page.inner_text(".price-breakdown")
    for words in (
        "午间秒杀",
        "-¥1.91",
        "优惠券 · 满20减6",
        "-¥6.00",
        "积分抵扣（500积分）",
        "-¥5.00",
    ):
        assert words in shown, words
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    claimed = Coupon.objects.get(user=shopper, template=claimable)
    assert (claimed.status, claimed.order_id) == (CouponStatus.USED, order.pk)
    assert Coupon.objects.get(user=shopper, template=gift).status == CouponStatus.UNUSED
    assert balance_of(user=shopper) == 0

    # 6. Delivered and picked up: points arrive, and the 满额返券.
    transition(order, OrderStatus.IN_DELIVERY)
    transition(order, OrderStatus.READY_FOR_PICKUP)
    hand_out_everything(pickup_point=point, orders=[order], actor=leader.user)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    page.goto(f"{live_server.url}/promo/points/")
    assert page.locator("[data-points-balance]").get_attribute("data-points-balance") == "16"
    assert PointsEntry.objects.get(user=shopper, kind=PointsKind.EARNED).delta == 16
    page.goto(f"{live_server.url}/promo/coupons/mine/")
    assert "满额返券满59减8" in page.inner_text("main")
    assert Coupon.objects.get(user=shopper, template=reward).channel == CouponChannel.SPEND_REWARD

    # 7. A partial after-sale refund: one box of eggs gives back exactly what it was paid.
    egg_line = OrderLine.objects.get(order=order, sku=eggs)
    egg_points = sum(
        int(Decimal(p["amount"]) * 100) for p in egg_line.discounts if p["kind"] == "points"
    )
    refund = refund_lines(order=order, quantities={egg_line.pk: 1}, reason="after_sale")
    assert refund.amount == unit_amounts(egg_line)[-1]
    assert sum(unit_amounts(egg_line)) == egg_line.payable
    assert PointsEntry.objects.get(kind=PointsKind.RETURNED).delta == egg_points // 2
    reversed_points = PointsEntry.objects.get(kind=PointsKind.REVERSED).delta
    assert reversed_points == -int(16 * refund.amount / order.payable)
    assert balance_of(user=shopper) == 16 + egg_points // 2 + reversed_points
    # The coupon of a partly refunded order stays used.
    claimed.refresh_from_db()
    assert claimed.status == CouponStatus.USED
    page.goto(f"{live_server.url}/orders/o/{order.code}/")
    assert f"¥{refund.amount}" in page.inner_text("[data-refunded]")
    _fits(page)
    context.close()
