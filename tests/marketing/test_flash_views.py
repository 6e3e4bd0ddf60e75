# ruff: noqa: F811 - pytest fixtures imported from other test modules
"""The 秒杀 pages: today's board, the 抢购 endpoint (a refusal costs no SQL), the
countdowns on the home and product pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketing.flash_selectors import refresh_board
from marketing.models import FlashPurchase, GateMode
from marketing.services import flash
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TOMORROW
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401
from tests.marketing.flash_support import clean_gate, make_sale  # noqa: F401
from tests.orders.conftest import eager_celery, point  # noqa: F401


@pytest.fixture
def hot_sku(point):
    sku = SkuFactory(product__name="车厘子", spec="500g/盒", price="39.90")
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


def grab(client, item, **extra):
    return client.post(reverse("marketing:flash_grab", args=[item.pk]), {"quantity": 1}, **extra)


@pytest.mark.django_db
def test_a_refusal_is_answered_from_redis_without_sql(
    clock, client, hot_sku, shopper, other_shopper
):
    item = make_sale(sku=hot_sku, quota=1)
    flash.admit(user=other_shopper, item=item, quantity=1, at=NOON_ISH)
    client.force_login(shopper)
    client.get("/healthz")  # the session is in the cache (cached_db) from here on
    with CaptureQueriesContext(connection) as ctx:
        answer = grab(client, item, HTTP_ACCEPT="application/json")
    assert [q["sql"] for q in ctx.captured_queries] == []
    assert answer.status_code == 409
    assert answer.json() == {"ok": False, "code": "sold_out", "message": "已抢光，本场秒杀已无库存"}
    # A plain form post is sent back to the 秒杀 page with the reason in its URL
    # (no message cookie to sign), and the page says it.
    with CaptureQueriesContext(connection) as ctx:
        answer = grab(client, item)
    assert ctx.captured_queries == []
    assert (answer.status_code, answer["Location"]) == (
        302,
        reverse("marketing:flash") + "?refused=sold_out&n=0",
    )
    assert "messages" not in answer.cookies
    page = client.get(answer["Location"])
    assert "已抢光，本场秒杀已无库存" in page.content.decode()
    # A made-up reason is not an error page.
    odd = client.get(reverse("marketing:flash") + "?refused=%3Cscript%3E&n=x")
    assert odd.status_code == 200 and "该秒杀活动不存在或已下架" in odd.content.decode()


@pytest.mark.django_db
def test_before_the_start_the_endpoint_says_when(clock, client, hot_sku, shopper):
    item = make_sale(
        sku=hot_sku,
        starts_at=NOON_ISH + timedelta(hours=5),
        ends_at=NOON_ISH + timedelta(hours=6),
    )
    client.force_login(shopper)
    answer = grab(client, item, HTTP_HX_REQUEST="true")
    assert (answer.status_code, answer.content.decode()) == (409, "秒杀尚未开始，20:00 开抢")
    assert FlashPurchase.objects.count() == 0


@pytest.mark.django_db
def test_an_admission_goes_to_the_checkout_with_the_sku(clock, client, hot_sku, shopper):
    item = make_sale(sku=hot_sku, quota=5)
    client.force_login(shopper)
    answer = grab(client, item)
    assert answer.status_code == 302
    assert answer["Location"] == f"/orders/checkout/?sku={hot_sku.code}&quantity=1"
    # Pressing again before ordering is the same admission, not a refusal.
    assert grab(client, item)["Location"] == answer["Location"]
    assert flash.attempt(user_id=shopper.pk, item_id=item.pk, quantity=1).admission.reused


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(clock, client, hot_sku):
    item = make_sale(sku=hot_sku)
    answer = grab(client, item)
    assert answer.status_code == 302
    assert answer["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_bad_input_gets_a_message_not_a_500(clock, client, hot_sku, shopper):
    item = make_sale(sku=hot_sku)
    client.force_login(shopper)
    answer = client.post(
        reverse("marketing:flash_grab", args=[item.pk]),
        {"quantity": "lots"},
        HTTP_ACCEPT="application/json",
    )
    assert (answer.status_code, answer.json()["message"]) == (409, "请选择 1 到 999 之间的数量")
    answer = client.post(
        reverse("marketing:flash_grab", args=[987654]), HTTP_ACCEPT="application/json"
    )
    assert (answer.status_code, answer.json()["code"]) == (409, "unavailable")
    assert client.get(reverse("marketing:flash_grab", args=[item.pk])).status_code == 405


@pytest.mark.django_db
def test_the_flash_page_lists_todays_sessions_with_their_states(
    clock, client, hot_sku, shopper, other_shopper
):
    running = make_sale(sku=hot_sku, quota=1, name="午间秒杀")
    later_sku = SkuFactory(product__name="荔枝", spec="1kg", price="29.90")
    make_sale(
        sku=later_sku,
        mode=GateMode.DATABASE,
        name="晚8点秒杀",
        starts_at=NOON_ISH + timedelta(hours=5),
        ends_at=NOON_ISH + timedelta(hours=6),
    )
    make_sale(
        sku=SkuFactory(product__name="椰子"),
        name="早场秒杀",
        starts_at=NOON_ISH - timedelta(hours=6),
        ends_at=NOON_ISH - timedelta(hours=5),
    )
    make_sale(  # tomorrow's: not listed
        sku=SkuFactory(product__name="榴莲"),
        name="明日秒杀",
        starts_at=NOON_ISH + timedelta(days=1),
        ends_at=NOON_ISH + timedelta(days=1, hours=1),
    )
    flash.admit(user=other_shopper, item=running, quantity=1, at=NOON_ISH)  # sold out now
    page = client.get(reverse("marketing:flash")).content.decode()
    assert page.index("午间秒杀") < page.index("晚8点秒杀") < page.index("早场秒杀")
    assert "明日秒杀" not in page
    assert "正在疯抢" in page and "即将开抢" in page and "已结束" in page
    assert "已抢光" in page  # the running item, from the gate's counter
    assert "20:00 开抢" in page
    assert 'data-countdown="2026-11-25T08:00:00+00:00"' in page  # running: ends 16:00
    assert "marketing-countdown.js" in page and "<script>" not in page


@pytest.mark.django_db
def test_home_and_product_pages_count_down_without_a_query(
    clock, client, hot_sku, django_assert_num_queries
):
    from marketing.flash_selectors import board_summary, headline_session

    make_sale(sku=hot_sku, name="午间秒杀")
    refresh_board()
    with django_assert_num_queries(0):
        headline = headline_session()
        assert board_summary()[0].items[0].sku_id == hot_sku.pk
    assert headline.name == "午间秒杀"
    home = client.get(reverse("catalog:home")).content.decode()
    assert "午间秒杀" in home and "data-flash-banner" in home
    product = client.get(reverse("catalog:product", args=[hot_sku.product.code])).content.decode()
    assert "data-flash-grab" in product and "¥1.99" in product.replace("</span>", "")
    # After it ends the cached board no longer shows it (states follow the clock).
    clock.shift(timedelta(hours=2))
    assert headline_session() is None


@pytest.mark.django_db
def test_the_flash_page_reads_a_fixed_number_of_queries(
    clock, client, hot_sku, django_assert_num_queries
):
    for n in range(3):
        make_sale(sku=SkuFactory(product__name=f"商品{n}"), name=f"场次{n}")
    client.get(reverse("marketing:flash"))
    # Sessions, their items with SKU and product, the pictures (anonymous visitor).
    with django_assert_num_queries(3):
        assert client.get(reverse("marketing:flash")).status_code == 200


@pytest.mark.django_db
def test_a_session_switched_off_behind_the_gates_back_admits_nobody(clock, hot_sku, shopper):
    item = make_sale(sku=hot_sku, quota=2)
    FlashSale = type(item.sale)
    FlashSale.objects.filter(pk=item.sale_id).update(is_active=False)  # not through the admin
    answer = flash.attempt(user_id=shopper.pk, item_id=item.pk, quantity=1)
    assert answer.refusal.code == "unavailable"
    from marketing import gate

    assert gate.snapshot(item_id=item.pk).left == 2
