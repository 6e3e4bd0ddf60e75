"""限时秒杀 on a phone (390×844): the home banner counts down, the 秒杀 page
lists today's sessions, an upcoming one opens by itself when its countdown
ends, 抢购 leads to the checkout at the flash price, and the item shows
sold out afterwards."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketing.flash_selectors import refresh_board
from marketing.models import FlashPurchase, GateMode
from orders.models import Order
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW, browser_clock
from tests.leaders.browsers import new_phone
from tests.marketing.flash_support import clean_gate, make_sale  # noqa: F401
from tests.orders.shopper_helpers import bind


@pytest.mark.browser
@pytest.mark.ticking
@pytest.mark.django_db(transaction=True)
def test_a_shopper_grabs_a_flash_deal_on_a_phone(
    clock, browser, browser_context_args, live_server, settings, shopper, point
):
    settings.SITE_URL = live_server.url
    bind(shopper, point)
    cherry = SkuFactory(product__name="车厘子", spec="500g/盒", price=Decimal("39.90"))
    lychee = SkuFactory(product__name="荔枝", spec="1kg", price=Decimal("29.90"))
    for sku in (cherry, lychee):
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=20)
    now = timezone.now()
    hour = timedelta(hours=1)
    running = make_sale(
        sku=cherry, quota=1, name="午间秒杀", starts_at=now - hour, ends_at=now + hour
    )
    refresh_board()

    context, page = new_phone(browser, browser_context_args, live_server, shopper)
    browser_clock(context)

    # Home: the banner counts down to the end of the running session.
    page.goto(f"{live_server.url}/")
    banner = page.locator("[data-flash-banner]")
    assert "午间秒杀" in banner.inner_text()
    page.wait_for_function(
        "document.querySelector('[data-flash-banner] .countdown').textContent.includes(':')"
        " && !document.querySelector('[data-flash-banner] .countdown').textContent.includes('-')"
    )
    assert re.fullmatch(r"\d\d:\d\d:\d\d", banner.locator(".countdown").inner_text())

    # The 秒杀 page: the running session first, then one starting in 6 seconds.
    make_sale(
        sku=lychee,
        mode=GateMode.DATABASE,
        name="马上开抢",
        quota=5,
        starts_at=timezone.now() + timedelta(seconds=6),
        ends_at=now + hour,
    )
    banner.click()
    page.wait_for_selector("[data-flash-session]")
    states = page.eval_on_selector_all(
        "[data-flash-session]", "els => els.map(e => e.dataset.state)"
    )
    assert states == ["running", "upcoming"]
    # When its countdown ends the page reloads and the coming session is on.
    page.wait_for_function(
        "[...document.querySelectorAll('[data-flash-session]')]"
        ".every(e => e.dataset.state === 'running')",
        timeout=15000,
    )
    assert page.locator("[data-flash-grab]").count() == 2

    # 抢购 the cherries: the checkout shows the flash price; place the order.
    page.click(f"[data-flash-item='{running.pk}'] [data-flash-grab]")
    page.wait_for_selector("[data-checkout-form]")
    assert page.locator("[data-payable]").inner_text() == "¥1.99"
    page.click("[data-place-order]")
    page.wait_for_selector("[data-pay-form]")
    order = Order.objects.get(user=shopper)
    assert order.payable == Decimal("1.99")
    assert FlashPurchase.objects.get().order == order

    # Back on the 秒杀 page the cherries are gone.
    page.goto(f"{live_server.url}/promo/flash/")
    item = page.locator(f"[data-flash-item='{running.pk}']")
    assert "已抢光" in item.inner_text()
    assert item.locator("[data-flash-grab]").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
