"""The cart on the tab bar with its count (issue #10, shoppers 3), as in
美团优选 / 多多买菜: reachable from every shopper page, for one query."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders.services.cart import add_to_cart
from tests.catalog.factories import SkuFactory, set_stock

from . import shopper_helpers
from .conftest import TOMORROW

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client

pytestmark = pytest.mark.django_db


def _cart_tab(html: str) -> str:
    match = re.search(r"<a [^>]*data-cart-tab[^>]*>.*?</a>", html, re.S)
    assert match, "no cart tab"
    return match.group(0)


def _fill_cart(shopper, point, lines: int):
    for n in range(lines):
        sku = SkuFactory(product__name=f"菜{n}")
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=10)
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)


def test_every_shopper_page_has_a_cart_tab_with_the_item_count(
    clock, shopper_client, bound_shopper, point, sku, egg_sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    add_to_cart(user=bound_shopper, sku_id=egg_sku.pk, quantity=1, warehouse=point.warehouse)

    for url in (reverse("catalog:home"), reverse("orders:list"), reverse("accounts:me")):
        tab = _cart_tab(shopper_client.get(url).content.decode())
        assert f'href="{reverse("orders:cart")}"' in tab
        assert "购物车" in tab
        assert 'id="cart-tab-count" data-cart-count="3">3</span>' in tab


def _cart_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if '"orders_cartline"' in q["sql"]]


def test_the_count_costs_one_query_on_the_home_page_whatever_the_cart_holds(
    clock, shopper_client, bound_shopper, point, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    shopper_client.get(reverse("catalog:home"))  # the storefront and point caches warm
    _fill_cart(bound_shopper, point, 1)  # the cart changed: its count is read again
    with CaptureQueriesContext(connection) as one_line:
        shopper_client.get(reverse("catalog:home"))
    assert len(_cart_queries(one_line)) == 1
    _fill_cart(bound_shopper, point, 5)

    with django_assert_num_queries(len(one_line.captured_queries)) as six_lines:
        html = shopper_client.get(reverse("catalog:home")).content.decode()

    assert len(_cart_queries(six_lines)) == 1
    assert 'data-cart-count="12">12</span>' in _cart_tab(html)
    # Unchanged since: the count comes from Redis (orders.cart_count_cache).
    with CaptureQueriesContext(connection) as unchanged:
        html = shopper_client.get(reverse("catalog:home")).content.decode()
    assert _cart_queries(unchanged) == []
    assert 'data-cart-count="12">12</span>' in _cart_tab(html)


def test_a_visitor_sees_the_tab_without_a_count_and_no_query_for_it(clock, client, point, sku):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        html = client.get(reverse("catalog:home")).content.decode()

    assert _cart_queries(captured) == []
    tab = _cart_tab(html)
    assert 'data-cart-count="0" hidden>' in tab


def test_the_cart_page_marks_its_tab_and_counts_from_the_basket(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=4, warehouse=point.warehouse)

    html = shopper_client.get(reverse("orders:cart")).content.decode()

    tab = _cart_tab(html)
    assert "is-active" in tab
    assert 'data-cart-count="4">4</span>' in tab
    orders_tab = re.search(r'<a href="/orders/" class="tab[^"]*">', html).group(0)
    assert "is-active" not in orders_tab


def test_a_quantity_change_updates_the_tab_count_out_of_band(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    response = shopper_client.post(
        reverse("orders:cart_line", args=[sku.code]),
        {"quantity": "2", "step": "1"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    badge = 'id="cart-tab-count" data-cart-count="3" hx-swap-oob="true">3</span>'
    assert badge in html


def test_more_than_99_items_show_as_99_plus(clock, shopper_client, bound_shopper, point):
    sku = SkuFactory(product__name="矿泉水", per_order_limit=None)
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=500)
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=120, warehouse=point.warehouse)

    html = shopper_client.get(reverse("orders:list")).content.decode()

    assert 'data-cart-count="120">99+</span>' in _cart_tab(html)
