"""The storefront cache (catalog/storefront_cache.py): what is the same for
everyone comes from Redis, stock and the shopper's own parts stay fresh, and
every catalog write — through the services or the plain admin — shows at once.

The edits run inside the test's transaction, so their after-commit bump runs
when `django_capture_on_commit_callbacks(execute=True)` leaves, as it would
when the operator's request commits.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog import services, storefront_cache
from catalog.models import Category, Warehouse
from catalog.sku_services import save_sku
from tests.catalog.conftest import TOMORROW
from tests.catalog.factories import CategoryFactory, SkuFactory
from tests.catalog.test_admin import change_form
from tests.catalog.test_storefront import HOME_QUERIES, cards, offer

pytestmark = pytest.mark.django_db

# Warm, a visitor's home page reads only the stock of the page's SKUs: the
# default warehouse, the categories, the products, their SKUs and pictures
# come from the cache.
WARM_HOME_QUERIES = 1
# Signed in: the stock alone as well; the user (tuangou.accounts.user_cache),
# the shopper's pickup point (leaders.point_cache) and the tab bar's cart
# count (orders.cart_count_cache) come from Redis too.
WARM_SIGNED_IN_HOME_QUERIES = 1


@pytest.fixture
def staff_client(client, operator):
    client.force_login(operator)
    return client


def _without_token(html: str) -> str:
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", html)


def home(client) -> str:
    response = client.get(reverse("catalog:home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("products", [3, 25])
def test_a_warm_home_page_reads_only_the_stock(
    clock, client, warehouse, django_assert_num_queries, products
):
    for n in range(products):
        sku = offer(warehouse, f"商品{n}")
        SkuFactory(product=sku.product, spec="1kg/份")
    CategoryFactory.create_batch(3)
    with django_assert_num_queries(HOME_QUERIES):
        cold = home(client)
    with django_assert_num_queries(WARM_HOME_QUERIES):
        warm = home(client)
    # The same page (the CSRF token in the markup differs per request).
    assert _without_token(warm) == _without_token(cold)
    assert len(cards(warm)) == min(products, 10)


@pytest.mark.parametrize("products", [3, 25])
def test_a_warm_home_page_of_a_signed_in_shopper(
    clock, client, warehouse, shopper, django_assert_num_queries, products
):
    from tests.leaders.factories import PickupPointFactory, bind

    point = PickupPointFactory(name="幸福里便利店", community__warehouse=warehouse)
    bind(user=shopper, point=point)
    for n in range(products):
        offer(warehouse, f"商品{n}")
    client.force_login(shopper)
    home(client)
    with django_assert_num_queries(WARM_SIGNED_IN_HOME_QUERIES):
        html = home(client)
    assert "幸福里便利店" in html
    assert len(cards(html)) == min(products, 10)


def test_stock_is_always_read_fresh(clock, client, warehouse):
    tomato = offer(warehouse, "西红柿", quantity=20)
    assert "仅剩 20 件" in home(client)
    services.reserve_stock(
        lines=[(tomato.pk, 19)], warehouse=warehouse, delivery_date=TOMORROW, reference="A1"
    )
    html = home(client)
    assert "仅剩 1 件" in html
    assert "已团 19 件" in html
    services.reserve_stock(
        lines=[(tomato.pk, 1)], warehouse=warehouse, delivery_date=TOMORROW, reference="A2"
    )
    html = home(client)
    assert "is-sold-out" in html
    assert "仅剩" not in html


def test_a_product_edited_in_the_admin_shows_at_once(
    clock, client, staff_client, warehouse, django_capture_on_commit_callbacks
):
    sku = offer(warehouse, "西红柿")
    assert "西红柿" in home(client)
    url = reverse("admin:catalog_product_change", args=[sku.product_id])
    with django_capture_on_commit_callbacks(execute=True):
        form = change_form(sku.product, name="沙瓤西红柿", **{"skus-0-price": "2.50"})
        # The SKU row's purchasing fields, as the form shows them.
        form.setdefault("skus-0-case_pack", sku.case_pack)
        form.setdefault("skus-0-min_order_quantity", sku.min_order_quantity)
        response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    html = home(client)
    assert "沙瓤西红柿" in html
    assert '<span class="yen">¥</span>2.50' in html


def test_the_shelf_actions_and_sku_saves_show_at_once(
    clock, client, warehouse, django_capture_on_commit_callbacks
):
    tomato, egg = offer(warehouse, "西红柿"), offer(warehouse, "土鸡蛋")
    assert cards(home(client)) == [tomato.product.code, egg.product.code]
    with django_capture_on_commit_callbacks(execute=True):
        services.set_on_shelf(product_ids=[tomato.product_id], is_on_shelf=False)
    assert cards(home(client)) == [egg.product.code]
    with django_capture_on_commit_callbacks(execute=True):
        egg.price = Decimal("9.90")
        save_sku(sku=egg)
    assert '<span class="yen">¥</span>9.90' in home(client)


def test_a_category_renamed_in_the_plain_admin_shows_at_once(
    client, staff_client, warehouse, django_capture_on_commit_callbacks
):
    fruit = CategoryFactory(name="水果", slug="fruit")
    assert ">水果</a>" in home(client)
    url = reverse("admin:catalog_category_change", args=[fruit.pk])
    form = {
        "name": "时令水果",
        "slug": "fruit",
        "icon": "果",
        "position": 0,
        "is_active": "on",
        "uncollected_action": Category._meta.get_field("uncollected_action").default,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    html = home(client)
    assert ">时令水果</a>" in html
    assert ">水果</a>" not in html


def test_a_category_deleted_in_the_admin_disappears(
    client, staff_client, warehouse, django_capture_on_commit_callbacks
):
    fruit = CategoryFactory(name="水果", slug="fruit")
    assert ">水果</a>" in home(client)
    url = reverse("admin:catalog_category_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url, {"action": "delete_selected", "_selected_action": [fruit.pk], "post": "yes"}
        )
    assert response.status_code == 302
    assert not Category.objects.filter(pk=fruit.pk).exists()
    assert ">水果</a>" not in home(client)


def test_a_warehouse_edited_in_the_admin_changes_the_deadline_at_once(
    clock, client, staff_client, warehouse, django_capture_on_commit_callbacks
):
    offer(warehouse, "西红柿")
    assert "23:00" in home(client)
    url = reverse("admin:catalog_warehouse_change", args=[warehouse.pk])
    page = staff_client.get(url)
    form = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None
    }
    form.update({"cutoff_time": "22:00", "pickup_time": "10:00", "is_default": "on"})
    form.update({"is_active": "on"})
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Warehouse.objects.get(pk=warehouse.pk).cutoff_time == time(22, 0)
    html = home(client)
    assert "22:00" in html
    assert "23:00" not in html


def test_a_rolled_back_edit_leaves_the_page_as_it_was(
    client, warehouse, django_capture_on_commit_callbacks
):
    from django.db import transaction

    sku = offer(warehouse, "西红柿")
    home(client)
    product = sku.product
    with (
        pytest.raises(RuntimeError),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        product.name = "坏名字"
        services.save_product(product=product)
        raise RuntimeError("the edit failed")
    html = home(client)
    assert "西红柿" in html
    assert "坏名字" not in html


def test_without_redis_the_home_page_is_built_from_postgresql(
    clock, client, warehouse, monkeypatch
):
    tomato = offer(warehouse, "西红柿", quantity=20)

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    class Down:
        get = set = add = get_many = down

    # The caches of this issue, each falling back to PostgreSQL.
    monkeypatch.setattr(storefront_cache, "cache", Down())
    html = home(client)
    assert cards(html) == [tomato.product.code]
    assert "仅剩 20 件" in html
