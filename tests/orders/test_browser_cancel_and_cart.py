"""Issue #10 (shoppers 2 and 3) on a phone (390×844): the cart tab counts what is
added and follows a quantity change; a paid order is cancelled with 取消并退款
before the cutoff (after a confirm), refunded in full, and its stock is back.

The server runs under time-machine at 15:00 on the order day (before the 23:00
cutoff), the live server included.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from catalog.models import StockRecord
from orders.models import Order, OrderStatus, Refund, RefundStatus
from tests.catalog.factories import SkuFactory, set_stock
from tests.leaders.browsers import new_phone

from .conftest import NOON_ISH, TOMORROW
from .shopper_helpers import bind


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_cart_tab_counts_and_a_paid_order_is_cancelled_and_refunded_on_a_phone(
    browser, browser_context_args, live_server, settings, shopper, point
):
    settings.SITE_URL = live_server.url
    with time_machine.travel(NOON_ISH, tick=True):
        bind(shopper, point)
        sku = SkuFactory(product__name="西红柿", spec="500g/份", price=Decimal("3.90"))
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=50)
        context, page = new_phone(browser, browser_context_args, live_server, shopper)
        assert page.viewport_size == {"width": 390, "height": 844}

        # The tab bar has the cart, empty at first.
        page.goto(f"{live_server.url}/")
        tab = page.locator("[data-cart-tab]")
        assert tab.is_visible()
        assert tab.inner_text().strip().endswith("购物车")
        assert not page.locator("#cart-tab-count").is_visible()
        box = tab.bounding_box()
        assert box["y"] + box["height"] <= 844 and box["x"] + box["width"] <= 390

        # Two to the cart: the tab counts 2 on the next page.
        page.goto(f"{live_server.url}/p/{sku.product.code}/")
        page.fill("input[name=quantity]", "2")
        page.click("button[name=action][value=cart]")
        page.wait_for_selector(".msg-success")
        assert page.locator("#cart-tab-count").inner_text() == "2"

        # The tab opens the cart; + makes it three and the tab follows (htmx).
        page.click("[data-cart-tab]")
        page.wait_for_url(f"{live_server.url}/orders/cart/")
        assert "is-active" in page.get_attribute("[data-cart-tab]", "class")
        page.click(f"[data-sku='{sku.code}'] button[name=step][value='1']")
        page.wait_for_selector("#cart[data-cart-count='3']")
        page.wait_for_selector("#cart-tab-count[data-cart-count='3']")
        assert page.locator("#cart-tab-count").inner_text() == "3"

        # Check out and pay in the sandbox; the cart tab is empty again.
        page.click("[data-checkout]")
        page.click("[data-place-order]")
        page.wait_for_selector("[data-pay-form]")
        order = Order.objects.get(user=shopper)
        page.click("[data-pay]")
        page.click("[data-confirm-pay]")
        page.wait_for_url(f"{live_server.url}/orders/o/{order.code}/")
        assert page.locator(".order-head [data-status]").inner_text() == "已确认"
        assert not page.locator("#cart-tab-count").is_visible()
        assert StockRecord.objects.get(sku=sku, delivery_date=TOMORROW).quantity == 47

        # 取消并退款: a "no" to the confirm sends nothing ...
        assert "截单前（11月25日 23:00）可取消" in page.inner_text("[data-cancel-until]")
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("[data-cancel-refund]")
        page.wait_for_timeout(300)
        order.refresh_from_db()
        assert order.status == OrderStatus.CONFIRMED
        # ... a "yes" cancels and refunds.
        messages: list[str] = []

        def accept(dialog):
            messages.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        page.click("[data-cancel-refund]")
        page.wait_for_selector(".order-head [data-status='refunded']")
        assert messages == ["确定取消订单吗？¥11.70 将原路退回。"]
        assert "订单已取消，¥11.70 将原路退回。" in page.inner_text(".messages")
        assert page.locator("[data-cancel-refund]").count() == 0
        steps = page.locator(".progress-steps li")
        assert steps.last.inner_text().startswith("已退款")

        order.refresh_from_db()
        assert order.status == OrderStatus.REFUNDED
        refund = Refund.objects.get(order=order)
        assert (refund.amount, refund.status) == (Decimal("11.70"), RefundStatus.SUCCEEDED)
        assert StockRecord.objects.get(sku=sku, delivery_date=TOMORROW).quantity == 50
        # Nothing is wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        context.close()
