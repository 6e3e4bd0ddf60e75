"""The home page's shelf rendered once per catalog version (catalog/shelf.py):
the same cards as the template renders, the figures and the shopper's own
parts fresh on every request, one Redis round trip for everything the
catalog caches, and the query and Redis budgets pinned (issue #11).
"""

# ruff: noqa: F811 - pytest fixtures imported from other test modules

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import redis
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from catalog import services, shelf, storefront_cache
from catalog.sku_services import save_sku
from tests.catalog.conftest import TOMORROW
from tests.catalog.factories import SkuFactory, set_stock
from tests.catalog.test_storefront import cards, offer
from tests.clock import NOON_ISH
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401 - fixtures
from tests.orders.conftest import point, sku  # noqa: F401 - fixtures
from tests.orders.shopper_helpers import bound_shopper, shopper_client  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

# Warm, anonymous: the stock of the page's SKUs, nothing else.
WARM_ANONYMOUS_QUERIES = 1
# Warm, anonymous: one MGET for the storefront token, the default warehouse
# and the page's shelf (catalog), one GET for the flash-sale banner
# (marketing.flash_selectors).
WARM_ANONYMOUS_REDIS_CALLS = 2


@pytest.fixture
def redis_calls(monkeypatch):
    """Every command sent to Redis while the test runs (counted, then sent)."""
    calls: list[tuple] = []
    real = redis.Redis.execute_command

    def counting(self, *args, **options):
        calls.append(args)
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return calls


def _shelf_reads(calls) -> list[tuple]:
    """The commands that read the home page's shelf."""
    return [c for c in calls if any("catalog:storefront:shelf:" in str(a) for a in c[1:])]


def home(client, **params) -> str:
    response = client.get(reverse("catalog:home"), params)
    assert response.status_code == 200
    return response.content.decode()


def _card_of(html: str, code: str) -> str:
    match = re.search(
        rf'<a class="product-card[^"]*" href="[^"]+" data-product="{code}">.*?</a>', html, re.S
    )
    assert match, f"no card for {code}"
    return match.group(0)


def _shelf_and_template(page_number=1):
    """The cached shelf's cards and the same cards through catalog/_cards.html."""
    from catalog import selectors

    built = shelf.build(page=page_number)
    storefront = selectors.storefront_for()
    page = selectors.cards_for_rows(
        built.rows, built.has_next, storefront=storefront, page=page_number
    )
    more_url = f"{reverse('catalog:home')}?page={page_number + 1}" if built.has_next else None
    template = render_to_string("catalog/_cards.html", {"page": page, "more_url": more_url})
    return shelf.cards_html(built, page.cards), template


def test_the_shelf_cards_are_the_templates_cards_byte_for_byte(clock, warehouse):
    offer(warehouse, "西红柿", quantity=20, sold=5)
    offer(warehouse, "车厘子", quantity=2, sold=2)  # sold out
    offer(warehouse, "<b>土鸡蛋</b> & 鸭蛋", market="0")  # escaped, no market price
    two = offer(warehouse, "牛奶", price="2.00", quantity=1, sold=1)  # the cheap SKU sold out
    dear = SkuFactory(product=two.product, spec="1L", price=Decimal("6.50"), market_price=None)
    set_stock(sku=dear, warehouse=warehouse, delivery_date=TOMORROW, quantity=7)
    for n in range(10):  # a second page: the "load more" link
        offer(warehouse, f"青菜{n}", sold=n)
    for page_number in (1, 2):
        for language in ("zh-hans", "en"):
            with translation.override(language):
                cached, template = _shelf_and_template(page_number)
                assert cached == template


def test_the_lead_sku_follows_the_stock_on_a_warm_shelf(clock, client, warehouse):
    cheap = offer(warehouse, "牛奶", price="2.00", quantity=3)
    dear = SkuFactory(product=cheap.product, spec="1L装", price=Decimal("6.50"), market_price=None)
    set_stock(sku=dear, warehouse=warehouse, delivery_date=TOMORROW, quantity=7)
    card = _card_of(home(client), cheap.product.code)
    assert '<span class="yen">¥</span>2.00' in card and "500g/份" in card
    services.reserve_stock(
        lines=[(cheap.pk, 3)], warehouse=warehouse, delivery_date=TOMORROW, reference="A1"
    )
    card = _card_of(home(client), cheap.product.code)
    assert '<span class="yen">¥</span>6.50' in card and "1L装" in card
    assert "is-sold-out" not in card
    assert "已团 3 件" in card and "仅剩 7 件" in card
    services.reserve_stock(
        lines=[(dear.pk, 7)], warehouse=warehouse, delivery_date=TOMORROW, reference="A2"
    )
    card = _card_of(home(client), cheap.product.code)
    assert "is-sold-out" in card and "已售罄" in card
    assert '<span class="yen">¥</span>2.00' in card  # all gone: the cheapest leads again
    assert 'style="width: 100%"' in card


def test_each_language_gets_its_own_shelf(clock, client, warehouse):
    offer(warehouse, "西红柿", quantity=20, sold=5)
    assert "已团 5 件" in home(client)
    english = client.get(reverse("catalog:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "5 sold" in english and "已团" not in english
    assert "已团 5 件" in home(client)


def test_a_price_change_a_hidden_product_and_a_sale_show_at_once(
    clock, client, warehouse, django_capture_on_commit_callbacks
):
    from marketing.flash_selectors import refresh_board
    from tests.marketing.flash_support import make_sale

    tomato, egg = offer(warehouse, "西红柿"), offer(warehouse, "土鸡蛋")
    assert cards(home(client)) == [tomato.product.code, egg.product.code]
    with django_capture_on_commit_callbacks(execute=True):
        egg.price = Decimal("9.90")
        save_sku(sku=egg)
    assert '<span class="yen">¥</span>9.90' in _card_of(home(client), egg.product.code)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_on_shelf(product_ids=[tomato.product_id], is_on_shelf=False)
    assert cards(home(client)) == [egg.product.code]
    # A flash session later today: announced, then running once its hour comes.
    with django_capture_on_commit_callbacks(execute=True):
        make_sale(
            sku=egg,
            starts_at=NOON_ISH + timedelta(hours=1),
            ends_at=NOON_ISH + timedelta(hours=2),
            name="下午茶秒杀",
        )
    refresh_board()  # as the session's save and the beat do (marketing.flash_selectors)
    assert _banner(home(client)) == ("下午茶秒杀", NOON_ISH + timedelta(hours=1))  # to its start
    clock.move_to(NOON_ISH + timedelta(hours=1, minutes=1))
    assert _banner(home(client)) == ("下午茶秒杀", NOON_ISH + timedelta(hours=2))  # to its end


def _banner(html: str):
    """The flash banner's session name and the moment it counts down to."""
    banner = re.search(r'<a class="card flash-banner".*?</a>', html, re.S)
    assert banner, "no flash banner"
    name = re.search(r'flash-banner-title">[^<]*· ([^<]+)</b>', banner.group(0)).group(1)
    moment = re.search(r'data-countdown="([^"]+)"', banner.group(0)).group(1)
    return name.strip(), datetime.fromisoformat(moment)


def test_a_warm_anonymous_home_page_costs_one_query_and_one_storefront_read(
    clock, client, warehouse, django_assert_num_queries, redis_calls
):
    for n in range(12):
        offer(warehouse, f"商品{n}")
    home(client)  # warms the cache
    redis_calls.clear()
    with django_assert_num_queries(WARM_ANONYMOUS_QUERIES):
        html = home(client)
    assert len(cards(html)) == 10
    # The storefront token, the default warehouse and the shelf: one MGET.
    assert [c[0] for c in _shelf_reads(redis_calls)] == ["MGET"]
    assert storefront_cache.VERSION_KEY in str(_shelf_reads(redis_calls)[0])
    assert len(redis_calls) == WARM_ANONYMOUS_REDIS_CALLS, redis_calls


def test_the_next_page_for_htmx_is_the_cards_alone(
    clock, client, warehouse, django_assert_num_queries
):
    for n in range(12):
        offer(warehouse, f"商品{n}")
    home(client, page=2)
    with django_assert_num_queries(WARM_ANONYMOUS_QUERIES):
        response = client.get(reverse("catalog:home"), {"page": 2}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and "tabbar" not in html
    assert len(cards(html)) == 2
    assert "load-more" not in html


def test_a_cold_shelf_is_built_once_then_read(
    clock, client, warehouse, django_assert_num_queries, redis_calls
):
    offer(warehouse, "西红柿")
    storefront_cache.bump()
    with django_assert_num_queries(6):  # warehouse, products, SKUs, pictures, categories, stock
        home(client)
    redis_calls.clear()
    with django_assert_num_queries(WARM_ANONYMOUS_QUERIES):
        home(client)
    assert len(redis_calls) == WARM_ANONYMOUS_REDIS_CALLS


def test_a_signed_in_shopper_sees_the_cart_and_the_point_fresh_on_a_warm_shelf(
    clock, shopper_client, bound_shopper, point, sku, redis_calls
):
    from orders.services.cart import add_to_cart

    html = home(shopper_client)
    assert point.name in html
    assert 'data-cart-count="0"' in html
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    redis_calls.clear()
    html = home(shopper_client)
    assert 'id="cart-tab-count" data-cart-count="2">2</span>' in html
    assert sku.product.code in cards(html)
    # The catalog's part of a signed-in page: one shelf read, as for a visitor.
    assert [c[0] for c in _shelf_reads(redis_calls)] == ["MGET"]


def test_the_stock_read_agrees_with_the_orm(clock, warehouse):
    from catalog import selectors
    from catalog.models import StockRecord

    tomato = offer(warehouse, "西红柿", quantity=20, sold=5)
    set_stock(
        sku=tomato, warehouse=warehouse, delivery_date=TOMORROW + timedelta(days=1), quantity=9
    )
    offer(warehouse, "车厘子", quantity=2, sold=2)
    rows, _ = selectors.home_rows(page=1)
    storefront = selectors.storefront_for()
    selectors.cards_for_rows(rows, False, storefront=storefront, page=1)
    read = {
        (r.sku_id, r.delivery_date, r.quantity, r.held, r.sold)
        for product in rows
        for sku in product.active_skus
        for r in sku.day_stock
    }
    days = [storefront.delivery_date, storefront.delivery_date + timedelta(days=1)]
    assert read == set(
        StockRecord.objects.filter(warehouse=warehouse, delivery_date__in=days).values_list(
            "sku_id", "delivery_date", "quantity", "held", "sold"
        )
    )
    assert len(read) == 3


def _tabs(html: str) -> list[tuple[str, bool]]:
    nav = re.search(r'<nav class="tabbar".*?</nav>', html, re.S).group(0)
    return [
        (href, "is-active" in cls)
        for href, cls in re.findall(r'<a href="([^"]+)" class="([^"]+)"', nav)
    ]


def test_the_tab_bar_marks_each_pages_tab_and_speaks_its_language(
    clock, shopper_client, bound_shopper, point, sku
):
    from catalog.templatetags import storefront_fragments
    from orders.services.cart import add_to_cart

    storefront_fragments.forget()
    pages = {
        reverse("catalog:home"): reverse("catalog:home"),
        reverse("catalog:categories"): reverse("catalog:categories"),
        reverse("orders:cart"): reverse("orders:cart"),
        reverse("orders:list"): reverse("orders:list"),
        reverse("accounts:me"): reverse("accounts:me"),
    }
    for _ in range(2):  # rendered, then copied: the same
        for url, active in pages.items():
            tabs = _tabs(shopper_client.get(url).content.decode())
            assert [href for href, on in tabs if on] == [active], url
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=3, warehouse=point.warehouse)
    html = shopper_client.get(reverse("catalog:home")).content.decode()
    assert 'id="cart-tab-count" data-cart-count="3">3</span>' in html  # the badge stays fresh
    assert "<span>购物车</span>" in html
    english = shopper_client.get(reverse("catalog:home"), HTTP_ACCEPT_LANGUAGE="en")
    assert "<span>Cart</span>" in english.content.decode()


def test_a_fragment_renders_as_the_template_does_without_it(clock, client, warehouse):
    from catalog.templatetags import storefront_fragments

    offer(warehouse, "西红柿")
    storefront_fragments.forget()
    cold = client.get(reverse("catalog:home")).content.decode()
    warm = client.get(reverse("catalog:home")).content.decode()
    token = re.compile(r'"X-CSRFToken": "[^"]+"')
    assert token.sub("", cold) == token.sub("", warm)
    assert 'class="tab is-active"' in warm


def test_the_shelf_entry_changes_with_its_templates(monkeypatch, request):
    # A deploy that edits a card template (or the frames' layout) reads none
    # of the frames rendered by the old code.
    request.addfinalizer(shelf._fingerprint.cache_clear)
    before = shelf.cache_name(language="zh-hans", page=1)
    assert before != shelf.cache_name(language="en", page=1)
    shelf._fingerprint.cache_clear()
    monkeypatch.setattr(shelf, "SHELF_FORMAT", shelf.SHELF_FORMAT + 1)
    assert shelf.cache_name(language="zh-hans", page=1) != before
