"""Search by pinyin, initials and near misses, and what an empty search offers."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from catalog import pinyin, services
from catalog.models import Product
from tests.catalog.conftest import TOMORROW
from tests.catalog.factories import CategoryFactory, SkuFactory, set_stock

pytestmark = pytest.mark.django_db

# warehouse, products (matching and ordered), their SKUs, stock, images
SEARCH_QUERIES = 5
# warehouse, the search that finds nothing (no SKUs etc. to fetch), then the best
# sellers, their SKUs, stock and images
EMPTY_SEARCH_QUERIES = 6


def product(warehouse, name, *, quantity=20, sold=0, on_shelf=True, **fields) -> Product:
    """A product saved as operators save one (save_product: indexed for pinyin)."""
    category = fields.pop("category", None) or CategoryFactory()
    item = services.save_product(product=Product(name=name, category=category, **fields))
    sku = SkuFactory(product=item, spec="500g/份", price=Decimal("9.90"), per_order_limit=None)
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=quantity)
    services.set_on_shelf(product_ids=[item.pk], is_on_shelf=True)
    if sold:
        services.reserve_stock(
            lines=[(sku.pk, sold)], warehouse=warehouse, delivery_date=TOMORROW, reference=name
        )
    if not on_shelf:
        services.set_on_shelf(product_ids=[item.pk], is_on_shelf=False)
    return item


def names(html: str) -> list[str]:
    results = html.partition('id="popular-grid"')[0]
    return re.findall(r'<h3 class="product-name">([^<]+)</h3>', results)


def suggested(html: str) -> list[str]:
    _results, found, rest = html.partition('id="popular-grid"')
    return re.findall(r'<h3 class="product-name">([^<]+)</h3>', rest) if found else []


def search(client, query: str) -> str:
    return client.get(reverse("catalog:search"), {"q": query}).content.decode()


# --- the keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "full", "initials"),
    [
        ("红富士苹果", "hongfushipingguo", "hfspg"),
        ("西红柿", "xihongshi", "xhs"),
        ("重庆小面", "chongqingxiaomian", "cqxm"),  # a polyphone read as a word
        ("A4纸 500张", "a4zhi500zhang", "a4z500z"),
        ("", "", ""),
    ],
)
def test_a_name_becomes_its_pinyin_and_initials(name, full, initials):
    assert pinyin.full_pinyin(name) == full
    assert pinyin.initials(name) == initials


@pytest.mark.parametrize(
    ("word", "sound", "initials"),
    [
        ("苹裹", "pingguo", ""),  # a Chinese word is compared by sound
        ("瓜", "", ""),  # one character would find every homophone
        ("PingGuo", "pingguo", "pingguo"),
        ("pg", "pg", "pg"),
        ("p", "", ""),  # one letter matches nearly everything
        ("500", "", ""),
        ("a4", "a4", ""),
    ],
)
def test_a_query_word_is_compared_by_sound_or_initials(word, sound, initials):
    assert pinyin.query_keys(word) == pinyin.QueryKeys(pinyin=sound, initials=initials)


def test_saving_a_product_writes_its_keys_and_a_rename_rewrites_them(warehouse):
    apple = product(warehouse, "红富士苹果")
    apple.refresh_from_db()
    assert (apple.name_pinyin, apple.name_initials) == ("hongfushipingguo", "hfspg")
    apple.name = "砂糖橘"
    services.save_product(product=apple)
    apple.refresh_from_db()
    assert (apple.name_pinyin, apple.name_initials) == ("shatangju", "stj")


def test_the_migration_fills_the_keys_of_products_saved_before_them(warehouse):
    apple = product(warehouse, "红富士苹果")
    untouched = product(warehouse, "西红柿")
    Product.objects.filter(pk=apple.pk).update(name_pinyin="", name_initials="")
    migration = importlib.import_module("catalog.migrations.0006_backfill_name_pinyin")
    migration.backfill(apps, schema_editor=None)
    assert dict(Product.objects.values_list("name", "name_pinyin")) == {
        "红富士苹果": "hongfushipingguo",
        "西红柿": "xihongshi",
    }
    assert Product.objects.get(pk=apple.pk).name_initials == "hfspg"
    assert Product.objects.get(pk=untouched.pk).name_initials == "xhs"


# --- the search page ---------------------------------------------------------------------


@pytest.fixture
def shelf(clock, warehouse):
    fruit = CategoryFactory(name="水果", slug="fruit")
    return {
        "apple": product(warehouse, "红富士苹果", category=fruit, subtitle="脆甜多汁"),
        "tomato": product(warehouse, "西红柿", subtitle="自然熟"),
        "eggs": product(warehouse, "土鸡蛋", subtitle="散养"),
        "noodles": product(warehouse, "鸡蛋挂面"),
        "cucumber": product(warehouse, "黄瓜"),
        "tissue": product(warehouse, "抽纸"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("苹裹", ["红富士苹果"]),  # the typo: same sound
        ("pingguo", ["红富士苹果"]),
        ("PingGuo", ["红富士苹果"]),
        ("ping guo", ["红富士苹果"]),  # every word must match
        ("pg", ["红富士苹果"]),  # initials
        ("hfspg", ["红富士苹果"]),
        ("xhs", ["西红柿"]),
        ("西红杮", ["西红柿"]),  # one wrong character: trigram similarity of the name
        ("xihongsi", ["西红柿"]),  # a pinyin typo: trigram word similarity
        ("jidan", ["土鸡蛋", "鸡蛋挂面"]),
        ("cz", ["抽纸"]),
        ("苹果", ["红富士苹果"]),  # the characters still work
        ("脆甜", ["红富士苹果"]),  # and the subtitle
    ],
)
def test_search_finds_products_by_pinyin_initials_and_near_misses(client, shelf, query, expected):
    assert sorted(names(search(client, query))) == sorted(expected)


@pytest.mark.parametrize("query", ["榴莲", "liulian", "p", "瓜子", "zzz", "pg 榴莲"])
def test_search_does_not_find_what_only_looks_alike(client, shelf, query):
    html = search(client, query)
    assert names(html) == []
    assert f"没有找到与“{query}”相关的商品。" in html


def test_the_written_name_ranks_before_a_match_by_sound(client, warehouse, clock):
    product(warehouse, "萍果干")  # sounds the same, written otherwise
    product(warehouse, "红富士苹果")
    product(warehouse, "苹果")
    assert names(search(client, "苹果")) == ["苹果", "红富士苹果", "萍果干"]
    # Typed as pinyin, the closest sound comes first.
    assert names(search(client, "pingguo")) == ["苹果", "萍果干", "红富士苹果"]


def test_an_empty_result_suggests_the_best_sellers_that_are_left(client, warehouse, clock):
    product(warehouse, "西红柿", sold=3)
    product(warehouse, "土鸡蛋", sold=12)
    product(warehouse, "黄瓜")
    product(warehouse, "车厘子", quantity=5, sold=5)  # sold out: nothing to buy
    product(warehouse, "下架苹果", sold=15, on_shelf=False)
    html = search(client, "榴莲")
    assert names(html) == []
    assert "大家都在买" in html
    assert suggested(html) == ["土鸡蛋", "西红柿", "黄瓜"]


def test_a_search_with_results_suggests_nothing_else(client, shelf):
    html = search(client, "pg")
    assert names(html) == ["红富士苹果"]
    assert "大家都在买" not in html
    assert suggested(html) == []


def test_the_pinyin_search_uses_its_trigram_indexes(warehouse):
    from django.db import connection

    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        for sql in (
            "EXPLAIN SELECT id FROM catalog_product WHERE name_pinyin LIKE %s",
            "EXPLAIN SELECT id FROM catalog_product WHERE name_initials LIKE %s",
        ):
            cursor.execute(sql, ["%pg%"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute("SET enable_seqscan = on")
    assert "catalog_product_py_trgm" in plans[0]
    assert "catalog_product_ini_trgm" in plans[1]


@pytest.mark.parametrize("count", [3, 25])
def test_the_search_page_runs_a_fixed_number_of_queries(
    client, warehouse, clock, django_assert_num_queries, count
):
    for n in range(count):
        product(warehouse, f"苹果{n}号")
    with django_assert_num_queries(SEARCH_QUERIES):
        html = search(client, "pingguo")
    assert len(names(html)) == min(count, 10)


@pytest.mark.parametrize("count", [3, 25])
def test_an_empty_search_runs_a_fixed_number_of_queries(
    client, warehouse, clock, django_assert_num_queries, count
):
    for n in range(count):
        product(warehouse, f"苹果{n}号", sold=1)
    with django_assert_num_queries(EMPTY_SEARCH_QUERIES):
        html = search(client, "榴莲")
    assert len(suggested(html)) == min(count, 6)
