"""The shopper's pages: home, categories, search, product detail."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import formats

from catalog import services
from tests.catalog.conftest import SHANGHAI, TOMORROW
from tests.catalog.factories import (
    CategoryFactory,
    ProductFactory,
    SkuFactory,
    WarehouseFactory,
    set_stock,
)

pytestmark = pytest.mark.django_db

HOME_QUERIES = 6  # warehouse, categories, products, SKUs, stock, images
CATEGORY_QUERIES = 7  # warehouse, category, children, products, SKUs, stock, images


def offer(warehouse, name, price="3.99", market="5.80", quantity=20, sold=0, **product):
    sku = SkuFactory(
        product__name=name,
        spec="500g/份",
        price=Decimal(price),
        market_price=Decimal(market),
        per_order_limit=None,
        **{f"product__{k}": v for k, v in product.items()},
    )
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=quantity)
    if sold:
        services.reserve_stock(
            lines=[(sku.pk, sold)],
            warehouse=warehouse,
            delivery_date=TOMORROW,
            reference=f"seed-{sku.pk}",
        )
    return sku


def cards(html: str) -> list[str]:
    return re.findall(r'data-product="([^"]+)"', html)


def test_the_home_page_shows_todays_deals_with_prices_sold_and_left(clock, client, warehouse):
    tomato = offer(warehouse, "西红柿", quantity=20, sold=5)
    html = client.get(reverse("catalog:home")).content.decode()
    assert cards(html) == [tomato.product.code]
    assert "西红柿" in html
    assert '<span class="yen">¥</span>3.99' in html
    assert '<span class="price-old">¥5.80</span>' in html
    assert "已团 5 件" in html
    assert "仅剩 15 件" in html
    assert 'style="width: 25%"' in html
    assert "今晚 23:00 前下单，明天 10:00 后到自提点取货" in html
    assert 'data-countdown="2026-11-25T23:00:00+08:00"' in html


def test_a_sold_out_product_says_so(clock, client, warehouse):
    offer(warehouse, "车厘子", quantity=2, sold=2)
    html = client.get(reverse("catalog:home")).content.decode()
    assert "is-sold-out" in html
    assert "已售罄" in html
    assert "已团 2 件" in html


def test_without_a_pickup_point_the_default_warehouse_is_used_and_the_shopper_invited(
    clock, client, warehouse
):
    other = WarehouseFactory(name="株洲仓")
    sku = offer(warehouse, "西红柿", quantity=20)
    set_stock(sku=sku, warehouse=other, delivery_date=TOMORROW, quantity=99)
    html = client.get(reverse("catalog:home")).content.decode()
    assert "仅剩 20 件" in html
    assert 'href="/leader/points/choose/"' in html
    assert "选择自提点" in html


def test_with_a_pickup_point_its_warehouse_and_cutoff_are_used(clock, client, warehouse, shopper):
    from tests.leaders.factories import PickupPointFactory, bind

    zhuzhou = WarehouseFactory(name="株洲仓", cutoff_time=time(14, 0), pickup_time=time(9, 0))
    sku = offer(warehouse, "西红柿", quantity=20)
    # 15:00 is after 株洲's 14:00 cutoff: the day after tomorrow's stock counts.
    set_stock(sku=sku, warehouse=zhuzhou, delivery_date=date(2026, 11, 27), quantity=7)
    point = PickupPointFactory(name="幸福里小区自提点", community__warehouse=zhuzhou)
    bind(user=shopper, point=point)
    client.force_login(shopper)
    response = client.get(reverse("catalog:home"))
    html = response.content.decode()
    assert response.context["storefront"].warehouse == zhuzhou
    assert "幸福里小区自提点" in html
    assert "仅剩 7 件" in html
    assert "仅剩 20 件" not in html  # the default warehouse's stock is not this shopper's
    assert "明天 14:00 前下单，后天 09:00 后到自提点取货" in html
    assert "选择自提点" not in html


def test_off_shelf_products_and_inactive_categories_are_not_shown(clock, client, warehouse):
    shown = offer(warehouse, "西红柿")
    off = offer(warehouse, "黄瓜")
    services.set_on_shelf(product_ids=[off.product_id], is_on_shelf=False)
    hidden = offer(warehouse, "冬瓜", category=CategoryFactory(name="停用分类", is_active=False))
    no_sku = ProductFactory(name="空商品")
    html = client.get(reverse("catalog:home")).content.decode()
    assert cards(html) == [shown.product.code]
    for name in ("黄瓜", "冬瓜", "空商品", "停用分类"):
        assert name not in html
    # Nor anywhere else a shopper could reach them: search, category, product page.
    for name in ("黄瓜", "冬瓜", "空商品"):
        found = client.get(reverse("catalog:search"), {"q": name}).content.decode()
        results, _popular, suggestions = found.partition('id="popular-grid"')
        assert cards(results) == []
        assert cards(suggestions) == [shown.product.code]
    category_page = reverse("catalog:category", args=[hidden.product.category.slug])
    assert client.get(category_page).status_code == 404
    for product in (off.product, hidden.product, no_sku):
        assert client.get(reverse("catalog:product", args=[product.code])).status_code == 404


@pytest.mark.parametrize("products", [3, 25])
def test_the_home_page_runs_a_fixed_number_of_queries(
    clock, client, warehouse, django_assert_num_queries, products
):
    from catalog.services import add_product_image
    from tests.catalog.test_images import picture

    for n in range(products):
        sku = offer(warehouse, f"商品{n}")
        SkuFactory(product=sku.product, spec="1kg/份")
        if n < 2:
            add_product_image(product=sku.product, upload=picture())
    CategoryFactory.create_batch(3)
    with django_assert_num_queries(HOME_QUERIES):
        response = client.get(reverse("catalog:home"))
    assert len(cards(response.content.decode())) == min(products, 10)


@pytest.mark.parametrize("products", [2, 14])
def test_the_category_page_runs_a_fixed_number_of_queries(
    clock, client, warehouse, django_assert_num_queries, products
):
    top = CategoryFactory(name="蔬菜", slug="veg")
    child = CategoryFactory(name="叶菜", slug="leafy", parent=top)
    for n in range(products):
        offer(warehouse, f"青菜{n}", category=child if n % 2 else top)
    with django_assert_num_queries(CATEGORY_QUERIES):
        response = client.get(reverse("catalog:category", args=["veg"]))
    assert len(cards(response.content.decode())) == min(products, 10)


def test_more_products_load_as_the_shopper_scrolls(clock, client, warehouse):
    skus = [offer(warehouse, f"商品{n:02d}") for n in range(23)]
    first = client.get(reverse("catalog:home")).content.decode()
    assert cards(first) == [s.product.code for s in skus[:10]]
    assert 'hx-get="/?page=2"' in first
    assert 'hx-trigger="revealed"' in first
    second = client.get("/?page=2", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in second  # only the cards, swapped in place
    assert cards(second) == [s.product.code for s in skus[10:20]]
    assert 'hx-get="/?page=3"' in second
    third = client.get("/?page=3", HTTP_HX_REQUEST="true").content.decode()
    assert cards(third) == [s.product.code for s in skus[20:]]
    assert "hx-get" not in third


@pytest.mark.parametrize("page", ["abc", "-5", "0", "1.5", ""])
def test_a_strange_page_number_shows_the_first_page(clock, client, warehouse, page):
    skus = [offer(warehouse, f"商品{n:02d}") for n in range(12)]
    response = client.get(f"/?page={page}")
    assert response.status_code == 200
    html = response.content.decode()
    assert cards(html) == [s.product.code for s in skus[:10]]
    assert 'hx-get="/?page=2"' in html


def test_a_page_number_past_the_end_shows_no_cards_and_no_more_link(clock, client, warehouse):
    offer(warehouse, "西红柿")
    for page in ("7", "99999999999999999999"):
        response = client.get(f"/?page={page}", HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert cards(response.content.decode()) == []
        assert "hx-get" not in response.content.decode()


def test_the_category_page_includes_its_subcategories(clock, client, warehouse):
    top = CategoryFactory(name="蔬菜", slug="veg")
    child = CategoryFactory(name="叶菜", slug="leafy", parent=top)
    elsewhere = CategoryFactory(name="水果", slug="fruit")
    spinach = offer(warehouse, "菠菜", category=child)
    potato = offer(warehouse, "土豆", category=top)
    offer(warehouse, "苹果", category=elsewhere)
    html = client.get(reverse("catalog:category", args=["veg"])).content.decode()
    assert cards(html) == [spinach.product.code, potato.product.code]
    assert 'href="/c/leafy/"' in html
    leafy = client.get(reverse("catalog:category", args=["leafy"])).content.decode()
    assert cards(leafy) == [spinach.product.code]


def test_an_unknown_or_inactive_category_is_404(client, warehouse):
    CategoryFactory(slug="gone", is_active=False)
    assert client.get(reverse("catalog:category", args=["gone"])).status_code == 404
    assert client.get(reverse("catalog:category", args=["nope"])).status_code == 404


def test_the_categories_page_lists_both_levels(client, warehouse):
    top = CategoryFactory(name="肉禽蛋", slug="meat", icon="肉")
    CategoryFactory(name="鲜蛋", slug="eggs", parent=top)
    CategoryFactory(name="停用", slug="off", parent=top, is_active=False)
    html = client.get(reverse("catalog:categories")).content.decode()
    assert '<span class="category-icon">肉</span>' in html
    assert 'href="/c/meat/"' in html
    assert 'href="/c/eggs/"' in html
    assert "停用" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("西红柿", ["西红柿"]),
        ("鸡蛋", ["土鸡蛋", "鸡蛋挂面"]),
        ("番茄", ["西红柿"]),  # in the subtitle
        ("有机", ["西红柿"]),  # a tag
        ("土 鸡蛋", ["土鸡蛋"]),  # every word must match
        ("榴莲", []),
    ],
)
def test_search_finds_products_by_chinese_words(clock, client, warehouse, query, expected):
    offer(warehouse, "西红柿", subtitle="自然熟番茄", tags=["有机"])
    offer(warehouse, "土鸡蛋", subtitle="散养")
    offer(warehouse, "鸡蛋挂面", subtitle="筋道")
    offer(warehouse, "黄瓜", subtitle="脆嫩")
    html = client.get(reverse("catalog:search"), {"q": query}).content.decode()
    results, _sep, suggestions = html.partition('id="popular-grid"')
    found = re.findall(r'<h3 class="product-name">([^<]+)</h3>', results)
    assert sorted(found) == sorted(expected)
    if not expected:
        assert f"没有找到与“{query}”相关的商品。" in html
        assert "大家都在买" in html
        assert len(re.findall(r'<h3 class="product-name">', suggestions)) == 4


def test_the_closest_name_comes_first(clock, client, warehouse):
    offer(warehouse, "鸡蛋挂面")
    offer(warehouse, "鸡蛋")
    html = client.get(reverse("catalog:search"), {"q": "鸡蛋"}).content.decode()
    assert re.findall(r'<h3 class="product-name">([^<]+)</h3>', html) == ["鸡蛋", "鸡蛋挂面"]


def test_search_uses_the_trigram_index(warehouse):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM catalog_product WHERE UPPER(name::text) LIKE UPPER(%s)",
            ["%西红柿%"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "catalog_product_name_trgm" in plan


def test_an_empty_or_long_search_is_handled(client, warehouse):
    assert "输入想买的商品名称" in client.get(reverse("catalog:search")).content.decode()
    response = client.get(reverse("catalog:search"), {"q": "西" * 500})
    assert response.status_code == 200
    assert 'value="' + "西" * 40 + '"' in response.content.decode()


def test_the_product_page_shows_gallery_skus_price_delivery_and_buttons(clock, client, warehouse):
    tomato = offer(warehouse, "西红柿", price="3.99", market="5.80", quantity=20, sold=3)
    big = SkuFactory(
        product=tomato.product,
        spec="1kg/份",
        price=Decimal("7.50"),
        market_price=Decimal("11.00"),
        per_order_limit=5,
    )
    set_stock(sku=big, warehouse=warehouse, delivery_date=TOMORROW, quantity=0)
    html = client.get(reverse("catalog:product", args=[tomato.product.code])).content.decode()
    assert '<h1 class="product-title">西红柿</h1>' in html
    assert f'value="{tomato.code}" checked' in html
    assert f'value="{big.code}"  disabled' in html
    assert "data-sku-price>3.99<" in html
    assert "今晚 23:00 前下单，明天 10:00 后到自提点取货" in html
    assert "11月26日 送达，10:00 起可提货" in html
    assert "仅剩 <b data-sku-left>17</b> 件" in html
    assert "加入购物车" in html
    assert "立即购买" in html
    assert 'action="/orders/cart/add/"' in html
    assert "已团 3 件" in html


def test_a_sold_out_product_page_has_no_buy_buttons(clock, client, warehouse):
    sku = offer(warehouse, "车厘子", quantity=1, sold=1)
    html = client.get(reverse("catalog:product", args=[sku.product.code])).content.decode()
    assert "加入购物车" not in html
    assert "立即购买" not in html
    assert "已售罄" in html


def test_an_sku_with_its_own_cutoff_shows_its_own_deadline(clock, client, warehouse):
    clock.move_to("2026-11-25T21:30:00+08:00")
    fish = SkuFactory(product__name="鲈鱼", cutoff_time=time(20, 0), per_order_limit=None)
    set_stock(sku=fish, warehouse=warehouse, delivery_date=date(2026, 11, 27), quantity=9)
    html = client.get(reverse("catalog:product", args=[fish.product.code])).content.decode()
    assert "明晚 20:00 前下单，后天 10:00 后到自提点取货" in html
    assert "仅剩 <b data-sku-left>9</b> 件" in html


def test_an_off_shelf_or_unknown_product_is_404(client, warehouse):
    sku = SkuFactory(product__is_on_shelf=False)
    assert client.get(reverse("catalog:product", args=[sku.product.code])).status_code == 404
    assert client.get(reverse("catalog:product", args=["no-such-thing"])).status_code == 404


def test_the_description_is_sanitized_on_the_way_out_too(client, warehouse):
    sku = SkuFactory(
        product__description=(
            '<p onclick="x()">好吃</p><script>alert(1)</script><a href="javascript:x">链接</a>'
        )
    )
    html = client.get(reverse("catalog:product", args=[sku.product.code])).content.decode()
    assert "<p>好吃</p>" in html
    assert "alert(1)" not in html
    assert "javascript:" not in html


def test_the_pages_work_before_any_warehouse_exists(client):
    assert client.get(reverse("catalog:home")).status_code == 200
    sku = SkuFactory()
    html = client.get(reverse("catalog:product", args=[sku.product.code])).content.decode()
    assert "已售罄" in html


def test_the_pages_are_english_on_request(clock, client, warehouse):
    offer(warehouse, "西红柿", quantity=20, sold=5)
    html = client.get(reverse("catalog:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "5 sold" in html
    assert "Order before tonight 23:00" in html


def _close(point):
    from leaders.services import close_pickup_point

    close_pickup_point(point=point)


def _suspend_leader(point):
    from leaders.services import suspend_leader

    suspend_leader(leader=point.leader, reason="违规")


@pytest.mark.parametrize(
    "stop", [_close, _suspend_leader], ids=["point closed", "leader suspended"]
)
def test_a_shopper_whose_point_stopped_taking_orders_is_asked_to_choose_again(
    clock, client, warehouse, shopper, stop
):
    from tests.leaders.factories import PickupPointFactory, bind

    zhuzhou = WarehouseFactory(name="株洲仓")
    sku = offer(warehouse, "西红柿", quantity=20)
    set_stock(sku=sku, warehouse=zhuzhou, delivery_date=TOMORROW, quantity=7)
    point = PickupPointFactory(name="幸福里小区自提点", community__warehouse=zhuzhou)
    bind(user=shopper, point=point)
    stop(point)
    client.force_login(shopper)
    response = client.get(reverse("catalog:home"))
    html = response.content.decode()
    assert response.context["current_pickup_point"] is None
    assert "您的自提点暂停接单，请重新选择一个自提点。" in html
    assert 'href="/leader/points/choose/"' in html
    assert "幸福里小区自提点" not in html
    assert "仅剩 20 件" in html  # the default warehouse meanwhile, not the point's


def test_a_paused_delivery_day_keeps_the_point_and_warns_on_the_storefront(
    clock, client, warehouse, shopper
):
    from leaders.services import pause_pickup_point_for_day
    from tests.leaders.factories import PickupPointFactory, bind

    offer(warehouse, "西红柿", quantity=20)
    point = PickupPointFactory(name="幸福里小区自提点", community__warehouse=warehouse)
    bind(user=shopper, point=point)
    pause_pickup_point_for_day(point=point, day=TOMORROW, reason="家里有事")
    client.force_login(shopper)
    response = client.get(reverse("catalog:home"))
    html = response.content.decode()
    assert response.context["storefront"].pickup_problem == "paused"
    assert "幸福里小区自提点" in html
    assert 'data-pickup-problem="paused"' in html
    assert "您的自提点暂停接单" not in html  # the point still takes orders for other days
    assert "仅剩 20 件" in html


# Signed in with a pickup point: the user (the session is read from Redis),
# then the point with its warehouse and upcoming pauses (one query, in place
# of the default warehouse), the same reads as for a visitor, and the tab
# bar's cart count.
SIGNED_IN_HOME_QUERIES = HOME_QUERIES + 2


@pytest.mark.parametrize("products", [3, 25])
def test_the_home_page_of_a_shopper_with_a_point_runs_a_fixed_number_of_queries(
    clock, client, warehouse, shopper, django_assert_num_queries, products
):
    from tests.leaders.factories import PickupPointFactory, bind

    point = PickupPointFactory(name="幸福里便利店", community__warehouse=warehouse)
    bind(user=shopper, point=point)
    for n in range(products):
        offer(warehouse, f"商品{n}")
    CategoryFactory.create_batch(3)
    client.force_login(shopper)
    with django_assert_num_queries(SIGNED_IN_HOME_QUERIES):
        response = client.get(reverse("catalog:home"))
    html = response.content.decode()
    assert "幸福里便利店" in html
    assert len(cards(html)) == min(products, 10)


@pytest.mark.parametrize(
    ("language", "shown", "not_shown"),
    [("zh-hans", "1月5日", "01月"), ("en", "January 5", "月")],
)
def test_the_delivery_day_is_written_in_the_pages_language(
    request, client, warehouse, settings, language, shown, not_shown
):
    # The one settings line this needs (tuangou/settings.py is not catalog's).
    # Django caches formats and does not drop them when this setting changes.
    settings.FORMAT_MODULE_PATH = ["tuangou.formats"]
    formats.reset_format_cache()
    request.addfinalizer(formats.reset_format_cache)
    with time_machine.travel(datetime(2027, 1, 4, 15, 0, tzinfo=SHANGHAI), tick=False):
        sku = SkuFactory(product__name="西红柿", spec="500g/份")
        set_stock(sku=sku, warehouse=warehouse, delivery_date=date(2027, 1, 5), quantity=5)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        html = client.get(reverse("catalog:product", args=[sku.product.code])).content.decode()
    delivery = re.search(r'<p class="muted small">\s*(.*?)\s*·', html, re.S).group(1)
    assert shown in delivery
    assert not_shown not in delivery
