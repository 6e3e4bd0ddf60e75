"""The shopper's half of issue #5's done-when, in a phone browser (390×844):
product → add to cart → change the quantity → check out → pay in the sandbox →
the order shows 已确认. (Sign-off and hand-out by code are the pickup side's test.)
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order, OrderStatus, PaymentNotificationLog
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW, browser_clock
from tests.leaders.browsers import new_phone

from .shopper_helpers import bind


@pytest.mark.browser
@pytest.mark.ticking
@pytest.mark.django_db(transaction=True)
def test_a_shopper_buys_and_pays_in_the_sandbox_on_a_phone(
    clock, browser, browser_context_args, live_server, settings, shopper, point
):
    settings.SITE_URL = live_server.url
    bind(shopper, point)
    sku = SkuFactory(product__name="西红柿", spec="500g/份", price=Decimal("3.90"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=50)

    context, page = new_phone(browser, browser_context_args, live_server, shopper)
    browser_clock(context)
    assert page.viewport_size == {"width": 390, "height": 844}

    # The product page: two to the cart.
    page.goto(f"{live_server.url}/p/{sku.product.code}/")
    page.fill("input[name=quantity]", "2")
    page.click("button[name=action][value=cart]")
    page.wait_for_selector(".msg-success")
    assert "已加入购物车" in page.inner_text(".messages")

    # The cart: + makes it three, through htmx, and the total follows.
    page.goto(f"{live_server.url}/orders/cart/")
    assert page.locator("[data-sku] .cart-name").inner_text() == "西红柿"
    page.click(f"[data-sku='{sku.code}'] button[name=step][value='1']")
    page.wait_for_selector("#cart[data-cart-count='3']")
    assert page.locator("[data-cart-total]").inner_text() == "¥11.70"

    # Checkout: the point, the pickup time, the breakdown.
    page.click("[data-checkout]")
    page.wait_for_selector("[data-checkout-form]")
    assert "幸福里便利店" in page.inner_text("[data-pickup-point]")
    assert "后到自提点取货" in page.inner_text("[data-pickup-time]")
    assert page.locator("[data-payable]").inner_text() == "¥11.70"
    page.click("[data-place-order]")

    # Pay: the sandbox's 模拟支付 page, then the order.
    page.wait_for_selector("[data-pay-form]")
    order = Order.objects.get(user=shopper)
    assert order.payable == Decimal("11.70")
    assert order.status == OrderStatus.PENDING_PAYMENT
    page.click("[data-pay]")
    page.wait_for_selector("[data-confirm-pay]")
    assert "模拟支付" in page.inner_text("main")
    page.click("[data-confirm-pay]")
    page.wait_for_url(f"{live_server.url}/orders/o/{order.code}/")
    assert page.locator(".order-head [data-status]").inner_text() == "已确认"
    assert "支付成功" in page.inner_text(".messages")
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert PaymentNotificationLog.objects.get().outcome == "accepted"

    # The 订单 tab lists it under 待取货.
    page.goto(f"{live_server.url}/orders/?tab=pickup")
    card = page.locator(f"[data-order='{order.code}']")
    assert card.locator("[data-status]").inner_text() == "已确认"
    # Nothing is wider than the phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    context.close()
