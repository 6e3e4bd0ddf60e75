"""Service promises (服务承诺) per category or product, shown only where set."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse

from catalog import demo
from catalog.models import Product, ServicePromise
from tests.catalog.conftest import TOMORROW
from tests.catalog.factories import CategoryFactory, SkuFactory, set_stock

pytestmark = pytest.mark.django_db

# warehouse, product, SKUs, stock, images, promises, the product's 拼团 campaigns
PRODUCT_QUERIES = 7


def promise(name: str, description: str = "", **fields) -> ServicePromise:
    return ServicePromise.objects.create(name=name, description=description, **fields)


def page_promises(client, product) -> list[str]:
    html = client.get(reverse("catalog:product", args=[product.code])).content.decode()
    return re.findall(r'data-promise="([^"]+)"', html)


def on_sale(warehouse, *, category, name="商品") -> Product:
    sku = SkuFactory(product__name=name, product__category=category)
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=10)
    return sku.product


@pytest.fixture
def promises(db):
    return {
        "bad": promise("坏果包赔", "坏果拍照申请售后，按坏的数量退款。", position=0),
        "short": promise("缺货必赔", position=1),
        "next_day": promise("次日达", position=2),
    }


def test_a_category_promise_shows_on_its_products_and_its_childrens(
    clock, client, warehouse, promises
):
    fruit = CategoryFactory(name="水果")
    fruit.promises.set([promises["next_day"], promises["bad"]])
    apples = CategoryFactory(name="苹果", parent=fruit)
    apple = on_sale(warehouse, category=apples, name="红富士")
    html = client.get(reverse("catalog:product", args=[apple.code])).content.decode()
    assert re.findall(r'data-promise="([^"]+)"', html) == ["坏果包赔", "次日达"]
    assert "坏果拍照申请售后，按坏的数量退款。" in html


def test_a_product_of_a_category_without_promises_shows_none(clock, client, warehouse, promises):
    CategoryFactory(name="水果").promises.set([promises["bad"]])
    tissue = on_sale(warehouse, category=CategoryFactory(name="纸品"), name="抽纸")
    html = client.get(reverse("catalog:product", args=[tissue.code])).content.decode()
    assert 'class="promises"' not in html
    assert "坏果包赔" not in html


def test_a_products_own_promises_replace_its_categorys(clock, client, warehouse, promises):
    fruit = CategoryFactory(name="水果")
    fruit.promises.set([promises["bad"], promises["next_day"]])
    child = CategoryFactory(name="进口水果", parent=fruit)
    child.promises.set([promises["short"]])
    cherry = on_sale(warehouse, category=child, name="车厘子")
    other = on_sale(warehouse, category=child, name="榴莲")
    cherry.promises.set([promises["next_day"]])
    assert page_promises(client, cherry) == ["次日达"]
    # The child category's own list, not its parent's.
    assert page_promises(client, other) == ["缺货必赔"]


def test_a_switched_off_promise_is_shown_nowhere(clock, client, warehouse, promises):
    fruit = CategoryFactory(name="水果")
    fruit.promises.set([promises["bad"], promises["short"]])
    apple = on_sale(warehouse, category=fruit)
    ServicePromise.objects.filter(pk=promises["bad"].pk).update(is_active=False)
    assert page_promises(client, apple) == ["缺货必赔"]


def test_the_product_page_runs_a_fixed_number_of_queries(
    clock, client, warehouse, promises, django_assert_num_queries
):
    fruit = CategoryFactory(name="水果")
    fruit.promises.set(promises.values())
    apple = on_sale(warehouse, category=CategoryFactory(name="苹果", parent=fruit))
    apple.promises.set([promises["bad"]])
    with django_assert_num_queries(PRODUCT_QUERIES):
        response = client.get(reverse("catalog:product", args=[apple.code]))
    assert re.findall(r'data-promise="([^"]+)"', response.content.decode()) == ["坏果包赔"]


def test_the_demo_promises_no_refund_of_bad_fruit_on_fish_tissues_or_dish_soap(
    clock, client, warehouse
):
    demo.seed(stdout=io.StringIO())
    assert not Product.objects.filter(description__contains="坏果包赔").exists()
    codes = ["fuji-apple", "tomato", "perch", "tissue", "dish-soap"]
    pages = {code: page_promises(client, Product.objects.get(code=code)) for code in codes}
    assert pages == {
        "fuji-apple": ["坏果包赔", "缺货必赔", "次日达"],
        "tomato": ["坏果包赔", "缺货必赔", "次日达"],
        "perch": ["缺货必赔", "次日达", "冷链配送", "死鱼包退"],
        "tissue": ["缺货必赔", "次日达"],
        "dish-soap": ["缺货必赔", "次日达"],
    }


@pytest.fixture
def staff_client(client, operator):
    client.force_login(operator)
    return client


def test_an_operator_sets_promises_on_a_category_in_the_admin(staff_client, promises):
    fruit = CategoryFactory(name="水果", slug="fruit")
    response = staff_client.post(
        reverse("admin:catalog_category_change", args=[fruit.pk]),
        {
            "name": "水果",
            "slug": "fruit",
            "icon": "果",
            "position": 0,
            "uncollected_action": "return",
            "is_active": "on",
            "promises": [promises["bad"].pk, promises["next_day"].pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    fruit.refresh_from_db()
    assert sorted(fruit.promises.values_list("name", flat=True)) == ["坏果包赔", "次日达"]
    listing = staff_client.get(reverse("admin:catalog_servicepromise_changelist")).content
    assert "水果" in listing.decode()


def test_an_operator_adds_a_promise_in_the_admin(staff_client):
    response = staff_client.post(
        reverse("admin:catalog_servicepromise_add"),
        {
            "name": "坏单包退",
            "description": "鸡蛋破损按个数退款。",
            "position": 3,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = ServicePromise.objects.get()
    assert (made.name, made.description, made.position) == ("坏单包退", "鸡蛋破损按个数退款。", 3)
    page = staff_client.get(reverse("admin:catalog_product_add")).content.decode()
    assert 'name="promises"' in page
    assert "坏单包退" in page
