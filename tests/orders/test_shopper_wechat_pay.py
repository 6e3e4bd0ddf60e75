"""The pay page with WeChat Pay: JSAPI inside WeChat, H5 in other phone browsers."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from orders.models import Payment
from orders.payments import PrepayResult

from . import shopper_helpers
from .shopper_helpers import place

pytestmark = pytest.mark.django_db

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client

WECHAT_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI"
SAFARI_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1"


class FakeWechatPay:
    name = "wechatpay"

    def __init__(self):
        self.requests = []

    def create_prepay(self, req):
        self.requests.append(req)
        if req.channel == "jsapi":
            return PrepayResult(
                channel="jsapi",
                out_trade_no=req.out_trade_no,
                prepay_id="wx-prepay-1",
                jsapi_params={
                    "appId": "wx123",
                    "timeStamp": "1795000000",
                    "nonceStr": "n",
                    "package": "prepay_id=wx-prepay-1",
                    "signType": "RSA",
                    "paySign": "sig</script>",
                },
            )
        return PrepayResult(
            channel="h5",
            out_trade_no=req.out_trade_no,
            prepay_id="wx-prepay-2",
            h5_url="https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx-prepay-2",
        )


@pytest.fixture
def wechatpay(monkeypatch, settings):
    settings.PAYMENT_PROVIDER = "wechatpay"
    fake = FakeWechatPay()
    monkeypatch.setattr("orders.services.payments.get_payment_provider", lambda: fake)
    return fake


def test_outside_wechat_the_shopper_goes_to_the_h5_page_and_comes_back(
    clock, shopper_client, bound_shopper, point, sku, wechatpay
):
    order = place(bound_shopper, point, (sku, 1))

    response = shopper_client.post(
        reverse("orders:pay", args=[order.code]), HTTP_USER_AGENT=SAFARI_UA
    )

    location = response["Location"]
    assert location.startswith("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=")
    assert "&redirect_url=http%3A%2F%2Ftestserver%2Forders%2Fo%2F" in location
    [request] = wechatpay.requests
    assert request.channel == "h5"
    assert Payment.objects.get(order=order).channel == "h5"


def test_inside_wechat_the_jsapi_page_gets_the_signed_parameters(
    clock, shopper_client, bound_shopper, point, sku, wechatpay
):
    from allauth.socialaccount.models import SocialAccount

    SocialAccount.objects.create(
        user=bound_shopper, provider="weixin", uid="o-alice", extra_data={"openid": "o-alice"}
    )
    order = place(bound_shopper, point, (sku, 1))

    response = shopper_client.post(
        reverse("orders:pay", args=[order.code]), HTTP_USER_AGENT=WECHAT_UA
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "sig</script>" not in html  # json_script escapes it
    script = re.search(r'<script id="jsapi-params"[^>]*>(.*?)</script>', html)
    params = json.loads(script.group(1))
    assert params["package"] == "prepay_id=wx-prepay-1"
    assert 'id="jsapi-params"' in html
    [request] = wechatpay.requests
    assert (request.channel, request.payer_openid) == ("jsapi", "o-alice")


def test_inside_wechat_without_an_openid_falls_back_to_h5(
    clock, shopper_client, bound_shopper, point, sku, wechatpay
):
    order = place(bound_shopper, point, (sku, 1))

    response = shopper_client.post(
        reverse("orders:pay", args=[order.code]), HTTP_USER_AGENT=WECHAT_UA
    )

    assert response["Location"].startswith("https://wx.tenpay.com/")


def test_a_double_tap_asks_wechat_for_one_prepay(
    clock, shopper_client, bound_shopper, point, sku, wechatpay
):
    order = place(bound_shopper, point, (sku, 1))

    for _ in range(2):
        shopper_client.post(reverse("orders:pay", args=[order.code]), HTTP_USER_AGENT=SAFARI_UA)

    assert len(wechatpay.requests) == 1
    assert Payment.objects.filter(order=order).count() == 1
