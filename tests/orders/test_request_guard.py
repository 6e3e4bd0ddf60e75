"""A NUL character anywhere in a request is a 400 with the site's page, before
any lookup (tuangou/request_guard.py); forms and callbacks still work."""

from __future__ import annotations

import pytest
from django.test import Client

from orders.models import PaymentNotificationLog

pytestmark = pytest.mark.django_db


def _bad_request_page(response) -> None:
    assert response.status_code == 400
    assert "请求有误" in response.content.decode() or "无法理解" in response.content.decode()


@pytest.mark.parametrize(
    "url", ["/orders/o/%00/", "/groups/g/ab%00cd/", "/search/?q=%E8%8F%9C%00", "/?a%00=1"]
)
def test_a_nul_in_the_path_or_the_query_is_a_400(client, url):
    _bad_request_page(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans"))


def test_a_nul_in_a_form_field_is_a_400_url_encoded_or_multipart(client):
    encoded = client.post(
        "/leader/points/choose/",
        "point=1%00",
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    _bad_request_page(encoded)
    _bad_request_page(
        client.post("/leader/points/choose/", {"point": "1\x00"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    )


def test_a_callback_body_with_a_nul_is_a_400_and_nothing_is_logged(client):
    response = client.post(
        "/orders/notify/payment/", b'{"id": "\x00"}', content_type="application/json"
    )
    assert response.status_code == 400
    assert not PaymentNotificationLog.objects.exists()


def test_a_callback_posted_as_a_multipart_form_can_still_read_its_body():
    """The guard parses the form; the view then reads the raw body (a 4xx from
    the signature check, not a RawPostDataException 500)."""
    response = Client().post("/orders/notify/payment/", {"x": "1"})
    assert 400 <= response.status_code < 500
    assert PaymentNotificationLog.objects.count() == 1


def test_a_nul_in_a_forged_callback_header_is_logged_without_it(client):
    """Headers are not checked by the guard: the log replaces the NUL (PostgreSQL
    text holds none) instead of failing with a 500."""
    response = client.post(
        "/orders/notify/payment/",
        b'{"id": "\\u0000"}',
        content_type="application/json",
        HTTP_WECHATPAY_SERIAL="ab\x00cd",
    )
    assert 400 <= response.status_code < 500
    log = PaymentNotificationLog.objects.get()
    assert log.headers == {"Wechatpay-Serial": "ab\ufffdcd"}
    assert log.body == '{"id": "\\u0000"}'


@pytest.mark.parametrize("target", ["abc", "NaN", "//evil.example/x", "https://evil.example/"])
def test_a_next_that_is_no_path_on_this_site_falls_back(client, shopper, sku, point, target):
    client.force_login(shopper)
    response = client.post("/orders/cart/add/", {"sku": sku.code, "quantity": 1, "next": target})
    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith("//")
