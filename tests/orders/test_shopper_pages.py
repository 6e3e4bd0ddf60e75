"""The shopper's pages: checkout, pay, the 订单 tab, order detail, cancel, messages."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import StockRecord
from orders.models import (
    CartLine,
    Notice,
    NotificationOutcome,
    Order,
    OrderStatus,
    Payment,
    PaymentNotificationLog,
    PickupCode,
)
from orders.services.cart import add_to_cart

from . import shopper_helpers
from .conftest import TOMORROW
from .shopper_helpers import complete, deliver, pay, place

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client

pytestmark = pytest.mark.django_db


def _stock(sku, point) -> int:
    return StockRecord.objects.get(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).quantity


# --- checkout ----------------------------------------------------------------------


def test_checkout_shows_the_point_the_pickup_time_each_line_and_the_breakdown(
    clock, shopper_client, bound_shopper, point, sku, egg_sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=3, warehouse=point.warehouse)
    add_to_cart(user=bound_shopper, sku_id=egg_sku.pk, quantity=1, warehouse=point.warehouse)

    response = shopper_client.get(reverse("orders:checkout"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "幸福里便利店" in html
    assert "长沙市岳麓区麓谷大道100号" in html
    assert "明天 10:00 后到自提点取货" in html
    assert "西红柿" in html and "土鸡蛋" in html
    assert "¥3.90 × 3" in html
    body = response.context["basket"]
    assert body.goods_total == Decimal("24.50")
    assert body.discount_total == Decimal("0.00")
    assert body.payable == Decimal("24.50")
    assert "确认订单" in html


def test_checkout_of_the_cart_places_the_order_and_empties_the_cart(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    response = shopper_client.post(reverse("orders:checkout"), {"note": "放门口"})

    order = Order.objects.get(user=bound_shopper)
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.code])
    assert order.payable == Decimal("7.80")
    assert order.note == "放门口"
    assert not CartLine.objects.filter(cart__user=bound_shopper).exists()
    assert _stock(sku, point) == 48


def test_a_price_posted_by_the_browser_is_ignored(clock, shopper_client, bound_shopper, sku):
    response = shopper_client.post(
        reverse("orders:checkout"),
        {
            "sku": sku.code,
            "quantity": "2",
            "price": "0.01",
            "unit_price": "0.01",
            "payable": "0.01",
            "goods_total": "0.01",
            "discount_total": "7.79",
        },
    )

    assert response.status_code == 302
    order = Order.objects.get(user=bound_shopper)
    assert order.payable == Decimal("7.80")
    assert order.goods_total == Decimal("7.80")
    assert order.discount_total == Decimal("0.00")
    assert order.lines.get().unit_price == Decimal("3.90")


def test_buy_now_places_one_line_and_leaves_the_cart_alone(
    clock, shopper_client, bound_shopper, point, sku, egg_sku
):
    add_to_cart(user=bound_shopper, sku_id=egg_sku.pk, quantity=1, warehouse=point.warehouse)

    page = shopper_client.get(reverse("orders:checkout"), {"sku": sku.code, "quantity": "4"})
    assert page.status_code == 200
    assert page.context["basket"].payable == Decimal("15.60")

    response = shopper_client.post(reverse("orders:checkout"), {"sku": sku.code, "quantity": "4"})

    assert response.status_code == 302
    order = Order.objects.get(user=bound_shopper)
    assert [(line.sku_id, line.quantity) for line in order.lines.all()] == [(sku.pk, 4)]
    assert CartLine.objects.filter(cart__user=bound_shopper, sku=egg_sku).exists()


def test_without_a_pickup_point_checkout_links_to_the_choose_page_and_writes_nothing(
    clock, client, shopper, point, sku
):
    client.force_login(shopper)

    response = client.post(reverse("orders:checkout"), {"sku": sku.code, "quantity": "1"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "请先选择自提点" in html
    assert "/leader/points/choose/?next=" in html
    assert not Order.objects.exists()
    assert _stock(sku, point) == 50


def test_a_sold_out_line_is_shown_on_the_page_and_nothing_is_written(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=5, warehouse=point.warehouse)
    StockRecord.objects.filter(sku=sku).update(quantity=2)

    page = shopper_client.get(reverse("orders:checkout"))
    assert "西红柿 500g/份 只剩 2 份了" in page.content.decode()
    response = shopper_client.post(reverse("orders:checkout"))

    assert response.status_code == 400
    assert "西红柿 500g/份" in response.context["error"]
    assert not Order.objects.exists()
    assert CartLine.objects.get(cart__user=bound_shopper).quantity == 5
    assert _stock(sku, point) == 2


def test_an_off_shelf_product_cannot_be_checked_out(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)
    sku.product.is_on_shelf = False
    sku.product.save(update_fields=["is_on_shelf"])

    response = shopper_client.post(reverse("orders:checkout"))

    assert response.status_code == 400
    assert "已下架" in response.context["error"] or "不再销售" in response.context["error"]
    assert not Order.objects.exists()


# --- paying ------------------------------------------------------------------------


def test_pay_goes_to_the_sandbox_page_and_a_double_tap_makes_one_prepay(
    clock, shopper_client, bound_shopper, point, sku
):
    order = place(bound_shopper, point, (sku, 1))

    first = shopper_client.post(reverse("orders:pay", args=[order.code]))
    second = shopper_client.post(reverse("orders:pay", args=[order.code]))

    payment = Payment.objects.get(order=order)
    sandbox_url = reverse("orders:sandbox_pay", args=[payment.out_trade_no])
    assert first["Location"] == sandbox_url
    assert second["Location"] == sandbox_url
    assert sandbox_url == f"/orders/pay/sandbox/{order.number}/"


def _rendered_notification(response) -> dict:
    """What the sandbox page's script will POST (its json_script), as the browser reads it."""
    page = response.content.decode()
    start = page.index('<script id="sandbox-notification" type="application/json">')
    raw = page[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(raw)


def test_confirming_in_the_sandbox_pays_through_the_notify_endpoint(
    clock, shopper_client, bound_shopper, point, sku, django_capture_on_commit_callbacks
):
    order = place(bound_shopper, point, (sku, 2))
    shopper_client.post(reverse("orders:pay", args=[order.code]))
    payment = Payment.objects.get(order=order)
    url = reverse("orders:sandbox_pay", args=[payment.out_trade_no])

    page = shopper_client.get(url)
    assert "模拟支付" in page.content.decode()
    assert "确认支付" in page.content.decode()
    confirm = shopper_client.post(url)

    # The server only signs: nothing is paid until the page POSTs to the endpoint.
    assert confirm.status_code == 200
    note = _rendered_notification(confirm)
    assert note["url"] == reverse("orders:notify_payment") == "/orders/notify/payment/"
    assert note["done"] == f"{url}?sent=1"
    assert set(note["headers"]) >= {
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    }
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not PaymentNotificationLog.objects.exists()

    # The browser's fetch: that exact body with those headers, no session, no CSRF token.
    browser = Client(enforce_csrf_checks=True)
    headers = {k: v for k, v in note["headers"].items() if k != "Content-Type"}
    with django_capture_on_commit_callbacks(execute=True):
        reply = browser.post(
            note["url"],
            data=note["body"].encode("utf-8"),
            content_type="application/json",
            headers=headers,
        )
    assert reply.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    [log] = PaymentNotificationLog.objects.all()
    assert (log.kind, log.outcome, log.out_trade_no) == (
        "payment",
        NotificationOutcome.ACCEPTED,
        order.number,
    )

    done = shopper_client.get(note["done"], follow=True)
    assert done.redirect_chain[-1][0] == reverse("orders:detail", args=[order.code])
    assert "支付成功。" in done.content.decode()
    # Tapping again after paying changes nothing.
    again = shopper_client.post(url)
    assert again.status_code == 302
    assert PaymentNotificationLog.objects.count() == 1


def test_a_tampered_sandbox_body_changes_nothing_and_the_page_says_so(
    clock, shopper_client, bound_shopper, point, sku
):
    order = place(bound_shopper, point, (sku, 1))
    shopper_client.post(reverse("orders:pay", args=[order.code]))
    payment = Payment.objects.get(order=order)
    url = reverse("orders:sandbox_pay", args=[payment.out_trade_no])
    note = _rendered_notification(shopper_client.post(url))
    headers = {k: v for k, v in note["headers"].items() if k != "Content-Type"}
    reply = Client().post(
        note["url"],
        data=note["body"].replace("encrypt-resource", "encrypt-resourcE").encode("utf-8"),
        content_type="application/json",
        headers=headers,
    )
    assert reply.status_code == 401
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    done = shopper_client.get(note["done"], follow=True)
    assert "支付未能确认" in done.content.decode()


def test_without_javascript_the_sandbox_delivers_the_same_notification(
    clock, shopper_client, bound_shopper, point, sku, django_capture_on_commit_callbacks
):
    order = place(bound_shopper, point, (sku, 1))
    shopper_client.post(reverse("orders:pay", args=[order.code]))
    payment = Payment.objects.get(order=order)
    url = reverse("orders:sandbox_pay", args=[payment.out_trade_no])
    confirm = shopper_client.post(url)
    assert 'name="deliver" value="server"' in confirm.content.decode()  # inside <noscript>
    with django_capture_on_commit_callbacks(execute=True):
        response = shopper_client.post(url, {"deliver": "server"})
    assert response["Location"] == reverse("orders:detail", args=[order.code])
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert PaymentNotificationLog.objects.get().outcome == NotificationOutcome.ACCEPTED


def test_the_sandbox_page_does_not_exist_with_wechat_pay(
    clock, shopper_client, bound_shopper, point, sku, settings
):
    order = place(bound_shopper, point, (sku, 1))
    shopper_client.post(reverse("orders:pay", args=[order.code]))
    payment = Payment.objects.get(order=order)
    settings.PAYMENT_PROVIDER = "wechatpay"

    response = shopper_client.post(reverse("orders:sandbox_pay", args=[payment.out_trade_no]))

    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_paid_order_has_no_pay_page(clock, shopper_client, bound_shopper, point, sku):
    order = pay(place(bound_shopper, point, (sku, 1)))

    response = shopper_client.get(reverse("orders:pay", args=[order.code]))

    assert response["Location"] == reverse("orders:detail", args=[order.code])


def test_the_shopper_can_pay_again_from_the_order_page(
    clock, shopper_client, bound_shopper, point, sku
):
    order = place(bound_shopper, point, (sku, 1))

    page = shopper_client.get(reverse("orders:detail", args=[order.code]))

    assert reverse("orders:pay", args=[order.code]) in page.content.decode()
    assert "待付款" in page.content.decode()


# --- cancel ------------------------------------------------------------------------


def test_the_shopper_cancels_an_unpaid_order_and_the_stock_comes_back(
    clock, shopper_client, bound_shopper, point, sku
):
    order = place(bound_shopper, point, (sku, 3))

    response = shopper_client.post(reverse("orders:cancel", args=[order.code]))

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert _stock(sku, point) == 50
    assert order.events.last().actor == bound_shopper


def test_a_paid_order_cannot_be_cancelled_by_the_shopper(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 1)))

    shopper_client.post(reverse("orders:cancel", args=[order.code]))

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert _stock(sku, point) == 49


# --- the 订单 tab and the detail page ----------------------------------------------------


def test_the_order_tabs_filter_by_status(clock, shopper_client, bound_shopper, point, sku):
    unpaid = place(bound_shopper, point, (sku, 1))
    confirmed = pay(place(bound_shopper, point, (sku, 1)))
    done = complete(pay(place(bound_shopper, point, (sku, 1))))

    def codes(tab):
        response = shopper_client.get(reverse("orders:list"), {"tab": tab})
        assert response.status_code == 200
        return {o.code for o in response.context["orders"]}

    assert codes("all") == {unpaid.code, confirmed.code, done.code}
    assert codes("unpaid") == {unpaid.code}
    assert codes("pickup") == {confirmed.code}
    assert codes("done") == {done.code}
    assert codes("group") == set()
    assert codes("aftersale") == set()
    assert codes("nonsense") == {unpaid.code, confirmed.code, done.code}
    html = shopper_client.get(reverse("orders:list")).content.decode()
    for label in ("全部", "待付款", "待成团", "待取货", "已完成", "售后"):
        assert label in html


def test_an_order_with_a_refund_shows_under_after_sale(
    clock, shopper_client, bound_shopper, point, sku
):
    from orders.models import RefundReason
    from orders.services.refunds import refund_lines

    order = pay(place(bound_shopper, point, (sku, 2)))
    line = order.lines.get()
    refund_lines(order=order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR)

    response = shopper_client.get(reverse("orders:list"), {"tab": "aftersale"})

    assert [o.code for o in response.context["orders"]] == [order.code]


def test_the_detail_page_shows_the_timeline(clock, shopper_client, bound_shopper, point, sku):
    order = pay(place(bound_shopper, point, (sku, 2)))

    response = shopper_client.get(reverse("orders:detail", args=[order.code]))

    html = response.content.decode()
    steps = [step["label"] for step in response.context["page"].timeline]
    assert steps == ["下单", "已付款", "已确认"]
    assert "西红柿" in html
    assert order.number in html


def test_the_pickup_code_is_shown_with_a_qr_code_when_ready(
    clock, shopper_client, bound_shopper, point, sku
):
    order = deliver(pay(place(bound_shopper, point, (sku, 1))))
    PickupCode.objects.create(
        user=bound_shopper, pickup_point=point, delivery_date=order.delivery_date, code="482913"
    )

    response = shopper_client.get(reverse("orders:detail", args=[order.code]))

    html = response.content.decode()
    assert 'data-pickup-code="482913"' in html
    assert "<svg" in html
    assert "待取货" in html


def test_no_pickup_code_before_the_goods_are_ready(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 1)))
    PickupCode.objects.create(
        user=bound_shopper, pickup_point=point, delivery_date=order.delivery_date, code="482913"
    )

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    assert "482913" not in html


ORDER_URLS = ["orders:detail", "orders:pay", "orders:cancel", "orders:claim"]


@pytest.mark.parametrize("name", ORDER_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_shoppers_order_code_is_a_404_on_every_order_url(
    clock, client, other_shopper, shopper, point, sku, name, method
):
    order = place(shopper, point, (sku, 1))
    client.force_login(other_shopper)

    response = getattr(client, method)(reverse(name, args=[order.code]))

    assert response.status_code in (404, 405)
    if method == "get" and name != "orders:cancel":
        assert response.status_code == 404
    if name == "orders:cancel" and method == "post":
        assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not Payment.objects.exists()


def test_another_shoppers_sandbox_payment_is_a_404(
    clock, client, other_shopper, shopper, point, sku
):
    order = place(shopper, point, (sku, 1))
    client.force_login(shopper)
    client.post(reverse("orders:pay", args=[order.code]))
    payment = Payment.objects.get(order=order)
    client.force_login(other_shopper)

    for method in ("get", "post"):
        response = getattr(client, method)(
            reverse("orders:sandbox_pay", args=[payment.out_trade_no])
        )
        assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_order_pages_need_a_signed_in_shopper(clock, client, shopper, point, sku):
    order = place(shopper, point, (sku, 1))

    for name in ORDER_URLS:
        response = client.get(reverse(name, args=[order.code]))
        assert response.status_code == 302
        assert "/login" in response["Location"] or "/accounts/" in response["Location"]


# --- query counts --------------------------------------------------------------------


def _several_orders(shopper, point, sku, egg_sku):
    place(shopper, point, (sku, 1), (egg_sku, 1))
    pay(place(shopper, point, (sku, 2)))
    complete(pay(place(shopper, point, (egg_sku, 1), (sku, 1))))
    pay(place(shopper, point, (egg_sku, 2)))


def test_the_order_list_runs_a_fixed_number_of_queries(
    clock, shopper_client, bound_shopper, point, sku, egg_sku, django_assert_num_queries
):
    _several_orders(bound_shopper, point, sku, egg_sku)
    # user (the session is read from Redis), tab counts, orders, their lines,
    # unread count, pickup point, cart count (the tab bar's)
    with django_assert_num_queries(7):
        response = shopper_client.get(reverse("orders:list"))
    assert len(response.context["orders"]) == 4
    _several_orders(bound_shopper, point, sku, egg_sku)
    # The same, less the user, the pickup point and the cart count: read
    # once, then from Redis (accounts.user_cache, leaders.point_cache,
    # orders.cart_count_cache) until they change.
    with django_assert_num_queries(4):
        response = shopper_client.get(reverse("orders:list"))
    assert len(response.context["orders"]) == 8


def test_the_order_detail_runs_a_fixed_number_of_queries(
    clock, shopper_client, bound_shopper, point, sku, egg_sku, django_assert_num_queries
):
    _several_orders(bound_shopper, point, sku, egg_sku)
    order = complete(pay(place(bound_shopper, point, (sku, 1), (egg_sku, 2))))
    # user (the session is read from Redis), order, lines, events, claims (none
    # here), pickup point, cart count
    with django_assert_num_queries(7):
        response = shopper_client.get(reverse("orders:detail", args=[order.code]))
    assert response.status_code == 200
    assert len(response.context["page"].lines) == 2


# --- 我的消息 --------------------------------------------------------------------------------


def test_messages_are_listed_in_chinese_and_marked_read(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 1)))
    other = Notice.objects.create(user=bound_shopper, kind="uncollected", params={"number": "X"})

    page = shopper_client.get(reverse("orders:notices"))

    html = page.content.decode()
    assert "收到付款" in html or "支付成功" in html
    assert order.number in html
    assert page.context["unread_count"] == 2
    shopper_client.post(reverse("orders:notices_read"), {"id": [str(other.pk)]})
    assert Notice.objects.filter(user=bound_shopper, read_at__isnull=True).count() == 1
    shopper_client.post(reverse("orders:notices_read"))
    assert not Notice.objects.filter(user=bound_shopper, read_at__isnull=True).exists()


def test_marking_read_never_touches_another_shoppers_messages(
    clock, client, shopper, other_shopper
):
    theirs = Notice.objects.create(user=other_shopper, kind="paid", params={"number": "1"})
    client.force_login(shopper)

    client.post(reverse("orders:notices_read"), {"id": [str(theirs.pk)]})

    theirs.refresh_from_db()
    assert theirs.read_at is None


# --- dates in the reader's language ------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "day", "stamp"),
    [("zh-hans", "11月26日", "11月25日 15:00"), ("en", "November 26", "November 25 15:00")],
)
def test_order_dates_are_written_in_the_pages_language(
    request, clock, shopper_client, bound_shopper, point, sku, settings, language, day, stamp
):
    from django.utils import formats

    # The project's formats (tuangou.formats: 1月5日, not Django's 01月5日).
    settings.FORMAT_MODULE_PATH = ["tuangou.formats"]
    formats.reset_format_cache()
    request.addfinalizer(formats.reset_format_cache)
    order = place(bound_shopper, point, (sku, 1))
    shopper_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    detail = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()
    listing = shopper_client.get(reverse("orders:list")).content.decode()
    assert day in detail
    assert stamp in detail  # the status timeline
    assert day in listing
    if language == "en":
        assert "月" not in detail and "月" not in listing
