"""Issue #5's done-when, end to end on two phones (390×844): the shopper chooses a
point → adds to the cart → checks out → pays in the sandbox; next morning the
leader signs for the delivery → the shopper's order shows 待取货 with a pickup
code → the leader types that code at the counter and hands everything out →
the shopper sees 已完成.

The server runs under time-machine (the whole process, live server included):
the order is placed at 15:00, the leader works at 08:00 on the delivery day.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from orders.models import Handout, Order, OrderStatus, PickupCode
from tests.catalog.factories import SkuFactory, set_stock
from tests.leaders.browsers import new_phone

from .conftest import NOON_ISH, TOMORROW
from .pickup_support import delivery_morning


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_bought_signed_for_and_handed_out_by_code(
    browser, browser_context_args, live_server, settings, shopper, leader_user, point
):
    settings.SITE_URL = live_server.url
    with time_machine.travel(NOON_ISH, tick=True) as traveller:
        sku = SkuFactory(product__name="西红柿", spec="500g/份", price=Decimal("3.90"))
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=50)
        shop_context, shop = new_phone(browser, browser_context_args, live_server, shopper)

        # Choose a point.
        shop.goto(f"{live_server.url}/leader/points/choose/")
        shop.click(f"[data-point='{point.pk}'] button[type=submit]")
        shop.wait_for_load_state()

        # Add to the cart, check out, pay in the sandbox.
        shop.goto(f"{live_server.url}/p/{sku.product.code}/")
        shop.fill("input[name=quantity]", "2")
        shop.click("button[name=action][value=cart]")
        shop.wait_for_selector(".msg-success")
        shop.goto(f"{live_server.url}/orders/cart/")
        shop.click("[data-checkout]")
        shop.wait_for_selector("[data-checkout-form]")
        assert "幸福里便利店" in shop.inner_text("[data-pickup-point]")
        shop.click("[data-place-order]")
        shop.wait_for_selector("[data-pay-form]")
        order = Order.objects.get(user=shopper)
        shop.click("[data-pay]")
        shop.click("[data-confirm-pay]")
        shop.wait_for_url(f"{live_server.url}/orders/o/{order.code}/")
        assert shop.locator(".order-head [data-status]").inner_text() == "已确认"

        # Next morning the leader signs for the delivery on their phone.
        traveller.move_to(delivery_morning())
        lead_context, lead = new_phone(browser, browser_context_args, live_server, leader_user)
        lead.goto(f"{live_server.url}/orders/leader/")
        assert lead.locator("[data-order-count]").inner_text() == "1"
        assert "张阿姨" in lead.inner_text("[data-shopper]")
        lead.click("[data-sign-link]")
        lead.wait_for_selector("[data-signoff-form]")
        assert lead.input_value(f"input[name=short_{sku.pk}]") == "0"
        lead.click("[data-sign]")
        lead.wait_for_selector("[data-signed]")
        assert "1 个订单可以取货了" in lead.inner_text(".messages")

        # The shopper's order is waiting, with its pickup code (digits and QR).
        shop.reload()
        assert shop.locator(".order-head [data-status]").inner_text() == "待取货"
        code = shop.get_attribute("[data-pickup-code]", "data-pickup-code")
        assert code == PickupCode.objects.get(user=shopper).code
        assert shop.locator(".pickup-code svg").count() == 1

        # The leader types the code at the counter and hands everything out.
        lead.goto(f"{live_server.url}/orders/leader/pickup/")
        lead.fill("input[name=code]", code)
        lead.click("[data-code-form] button[type=submit]")
        lead.wait_for_selector(f"[data-match='{code}']")
        assert "西红柿" in lead.inner_text(f"[data-match='{code}']")
        lead.click("[data-hand-all]")
        lead.wait_for_selector("[data-all-done]")
        assert "已核销 2 件" in lead.inner_text(".messages")
        assert lead.locator("[data-order-status]").inner_text() == "已完成"
        width = lead.evaluate("document.documentElement.scrollWidth")
        assert width <= 390

        # The shopper sees 已完成.
        shop.reload()
        assert shop.locator(".order-head [data-status]").inner_text() == "已完成"
        order.refresh_from_db()
        assert order.status == OrderStatus.COMPLETED
        assert list(Handout.objects.values_list("quantity", "actor_id")) == [(2, leader_user.pk)]
        shop_context.close()
        lead_context.close()
