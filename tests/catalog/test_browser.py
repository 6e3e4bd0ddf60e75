"""The storefront on a phone-sized Chromium: search in Chinese, open the product."""

from __future__ import annotations

import pytest

from catalog import services
from tests.catalog.factories import SkuFactory, WarehouseFactory, set_stock
from tests.catalog.test_images import picture
from tests.clock import TOMORROW

pytestmark = [pytest.mark.browser, pytest.mark.ticking, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(clock):
    """A shop with stock for TOMORROW; the live server answers in this process,
    on the suite's clock, running from NOON_ISH."""
    warehouse = WarehouseFactory(is_default=True)

    def offer(name, **kwargs):
        sku = SkuFactory(product__name=name, per_order_limit=None, **kwargs)
        set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=30)
        return sku

    tomato = offer("西红柿", product__subtitle="自然熟沙瓤番茄", spec="500g/份")
    services.add_product_image(product=tomato.product, upload=picture(size=(600, 600)))
    offer("土鸡蛋", spec="30枚/盒")
    for n in range(14):
        offer(f"时令蔬菜{n:02d}")
    return tomato


def test_a_shopper_searches_in_chinese_and_opens_the_product(page, live_server, shop):
    page.goto(live_server.url + "/")
    assert page.viewport_size == {"width": 390, "height": 844}
    search = page.get_by_role("searchbox", name="搜索商品")
    search.fill("西红柿")
    search.press("Enter")
    page.wait_for_url("**/search/?q=*")
    results = page.locator(".product-card")
    assert results.count() == 1
    assert "西红柿" in results.first.inner_text()
    results.first.click()
    page.wait_for_url(f"**/p/{shop.product.code}/")
    assert page.get_by_role("heading", level=1).inner_text() == "西红柿"
    assert page.get_by_role("button", name="加入购物车").is_visible()
    assert page.get_by_role("button", name="立即购买").is_visible()
    assert page.get_by_role("radio", name="500g/份").is_checked()
    gallery_image = page.locator(".gallery img").first
    assert gallery_image.evaluate("img => img.complete && img.naturalWidth") > 0
    assert "自提点取货" in page.locator(".delivery").inner_text()
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_more_products_appear_when_the_shopper_scrolls_down(page, live_server, shop):
    page.goto(live_server.url + "/")
    cards = page.locator(".product-card")
    assert cards.count() == 10
    page.locator(".load-more").scroll_into_view_if_needed()
    page.wait_for_function("document.querySelectorAll('.product-card').length === 16")
    assert page.locator(".load-more").count() == 0
