"""Pinyin search, the suggestions of an empty search and the product's promises
on a phone-sized Chromium (390×844)."""

from __future__ import annotations

import os

import pytest

from catalog import services
from catalog.models import Product, ServicePromise
from tests.catalog.factories import CategoryFactory, SkuFactory, WarehouseFactory, set_stock
from tests.clock import TOMORROW

pytestmark = [pytest.mark.browser, pytest.mark.ticking, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("SCREENSHOT_DIR")  # set to keep screenshots for a look


@pytest.fixture
def shop(clock):
    warehouse = WarehouseFactory(is_default=True)
    # The live server answers on the suite's clock, running from NOON_ISH.
    days = [TOMORROW]
    fruit = CategoryFactory(name="时令水果")
    fruit.promises.set(
        [
            ServicePromise.objects.create(
                name="坏果包赔", description="坏果拍照申请售后，按坏的数量退款。"
            ),
            ServicePromise.objects.create(
                name="次日达", description="今晚截单前下单，明天送到自提点。"
            ),
        ]
    )

    def offer(name, category):
        product = services.save_product(product=Product(name=name, category=category))
        sku = SkuFactory(product=product, spec="2.5kg/箱", per_order_limit=None)
        for day in days:
            set_stock(sku=sku, warehouse=warehouse, delivery_date=day, quantity=30)
        services.set_on_shelf(product_ids=[product.pk], is_on_shelf=True)
        return product

    apple = offer("红富士苹果", fruit)
    offer("抽纸", CategoryFactory(name="纸品"))
    return apple


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_a_shopper_types_initials_and_finds_the_product_with_its_promises(page, live_server, shop):
    page.goto(live_server.url + "/")
    search = page.get_by_role("searchbox", name="搜索商品")
    search.fill("pg")
    search.press("Enter")
    page.wait_for_url("**/search/?q=pg")
    results = page.locator("#product-grid .product-card")
    assert results.count() == 1
    assert "红富士苹果" in results.first.inner_text()
    results.first.click()
    page.wait_for_url(f"**/p/{shop.code}/")
    promises = page.locator(".promise")
    assert promises.all_inner_texts() == [
        "坏果包赔\n坏果拍照申请售后，按坏的数量退款。",
        "次日达\n今晚截单前下单，明天送到自提点。",
    ]
    assert promises.first.is_visible()
    _shot(page, "product-promises")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_an_empty_search_offers_what_the_neighbours_buy(page, live_server, shop):
    page.goto(live_server.url + "/search/?q=%E6%A6%B4%E8%8E%B2")  # 榴莲
    assert "没有找到与“榴莲”相关的商品。" in page.locator("main").inner_text()
    assert page.get_by_role("heading", name="大家都在买").is_visible()
    suggestions = page.locator("#popular-grid .product-card")
    assert suggestions.count() == 2
    _shot(page, "search-empty")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
