# ruff: noqa: F811 - pytest fixtures imported from tests.wechatpay_fake
"""H5 payments (phone browsers outside WeChat) with the real WeChat Pay provider.

WeChat's H5 prepay answers only an h5_url, never a prepay_id. Before an
unpaid order is cancelled WeChat is asked about it by out_trade_no, and an
order cancelled unpaid is closed there, whatever the channel. WeChat's side
is played by `responses`: every request's merchant signature is checked and
every answer is signed with a locally made platform key, verified by the
provider's real code.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
import responses

from catalog.models import StockRecord
from orders.models import Order, OrderEvent, OrderStatus, Payment, PaymentStatus
from orders.payments import get_payment_provider
from orders.payments.wechatpay import DEFAULT_BASE_URL, WechatPayProvider
from orders.services.checkout import Want, place_order
from orders.services.payments import expire_unpaid_orders, find_lost_payments, start_payment
from orders.tasks import expire_order_task
from tests.wechatpay_fake import (  # noqa: F401 - fixtures
    APP_ID,
    MCH_ID,
    merchant_key,
    platform_key,
    stranger_key,
    verify_merchant_signature,
    wechat_headers,
    wechatpay_settings,
)
from tuangou.money import to_fen

from .conftest import TOMORROW

pytestmark = pytest.mark.django_db

H5_URL = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2026&package=1"


@pytest.fixture
def wechatpay_configured(wechatpay_settings):
    assert isinstance(get_payment_provider(), WechatPayProvider)
    return wechatpay_settings


class FakeWechatServer:
    """WeChat Pay's API for one trade: checks our signature, answers signed."""

    def __init__(self, mock, merchant_key, platform_key):
        self.mock = mock
        self.merchant_key = merchant_key
        self.platform_key = platform_key
        self.requests: list[tuple[str, str, dict | None]] = []
        self.trade_state = "NOTPAY"
        self.amount_fen = 0
        self.sign_with = platform_key

    def answer(self, status, payload):
        def callback(request):
            body = request.body or b""
            body = body.encode() if isinstance(body, str) else body
            verify_merchant_signature(
                self.merchant_key,
                request.method,
                request.path_url,
                body,
                request.headers["Authorization"],
            )
            self.requests.append(
                (request.method, request.path_url, json.loads(body) if body else None)
            )
            data = payload() if callable(payload) else payload
            answer = json.dumps(data).encode() if data is not None else b""
            # Signed now (the test's frozen clock): the provider checks the window.
            headers = wechat_headers(self.sign_with, answer, timestamp=int(time.time()))
            return status, headers, answer

        return callback

    def serve(self, out_trade_no: str):
        trade = f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/{quote(out_trade_no)}"
        self.mock.add_callback(
            responses.POST,
            f"{DEFAULT_BASE_URL}/v3/pay/transactions/h5",
            callback=self.answer(200, {"h5_url": H5_URL}),
        )
        self.mock.add_callback(
            responses.GET, trade, callback=self.answer(200, lambda: self.transaction(out_trade_no))
        )
        self.mock.add_callback(responses.POST, f"{trade}/close", callback=self.answer(204, None))

    def transaction(self, out_trade_no: str) -> dict:
        paid = self.trade_state == "SUCCESS"
        data = {
            "appid": APP_ID,
            "mchid": MCH_ID,
            "out_trade_no": out_trade_no,
            "trade_type": "MWEB",
            "trade_state": self.trade_state,
            "trade_state_desc": "支付成功" if paid else "订单未支付",
            "amount": {"total": self.amount_fen, "currency": "CNY"},
        }
        if paid:
            data["transaction_id"] = "4200002026112512345678901234"
            data["success_time"] = "2026-11-25T15:05:00+08:00"
            data["amount"]["payer_total"] = self.amount_fen
        return data

    def paths(self) -> list[tuple[str, str]]:
        return [(method, path.split("?")[0]) for method, path, _body in self.requests]


@pytest.fixture
def wechat(wechatpay_configured, merchant_key, platform_key):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeWechatServer(mock, merchant_key, platform_key)


@pytest.fixture
def h5_order(clock, shopper, point, sku, wechat):
    """An order paid for in Safari: WeChat's H5 prepay, answered with an h5_url only."""
    order = place_order(user=shopper, wants=[Want(sku.pk, 2)], pickup_point=point)
    wechat.serve(order.number)
    payment = start_payment(order=order, channel="h5", client_ip="203.0.113.9")
    wechat.amount_fen = to_fen(payment.amount)
    return order, payment


def _stock(sku, point) -> int:
    return StockRecord.objects.get(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).quantity


def test_the_h5_prepay_has_no_prepay_id_only_the_h5_url(h5_order, wechat):
    order, payment = h5_order
    payment.refresh_from_db()
    assert (payment.channel, payment.prepay_id, payment.pay_params["h5_url"]) == ("h5", "", H5_URL)
    [(method, path, body)] = wechat.requests
    assert (method, path) == ("POST", "/v3/pay/transactions/h5")
    assert body["out_trade_no"] == order.number


def test_a_paid_h5_order_whose_notification_is_late_is_confirmed_not_cancelled(
    h5_order, wechat, clock, point, sku, django_capture_on_commit_callbacks
):
    order, payment = h5_order
    wechat.trade_state = "SUCCESS"  # paid in WeChat; the notification is late
    clock.shift(timedelta(minutes=16))

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_order_task.delay(order.pk).get() is False  # the ETA task
        assert expire_unpaid_orders() == 0  # and the sweeper

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert (payment.status, payment.transaction_id) == (
        PaymentStatus.PAID,
        "4200002026112512345678901234",
    )
    assert not OrderEvent.objects.filter(order=order, to_status=OrderStatus.CANCELLED).exists()
    assert _stock(sku, point) == 48  # the two units stay sold
    query = ("GET", f"/v3/pay/transactions/out-trade-no/{order.number}")
    assert wechat.paths() == [("POST", "/v3/pay/transactions/h5"), query]
    assert wechat.requests[1][1].endswith(f"?mchid={MCH_ID}")


def test_an_unpaid_h5_order_is_cancelled_and_closed_at_wechat(
    h5_order, wechat, clock, point, sku, django_capture_on_commit_callbacks
):
    order, payment = h5_order
    clock.shift(timedelta(minutes=16))

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_unpaid_orders() == 1
        assert expire_unpaid_orders() == 0

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert payment.status == PaymentStatus.CLOSED
    assert _stock(sku, point) == 50
    trade = f"/v3/pay/transactions/out-trade-no/{order.number}"
    assert wechat.paths() == [
        ("POST", "/v3/pay/transactions/h5"),
        ("GET", trade),
        ("POST", f"{trade}/close"),
    ]
    assert wechat.requests[-1][2] == {"mchid": MCH_ID}


def test_a_lost_h5_notification_is_found_by_querying(
    h5_order, wechat, clock, django_capture_on_commit_callbacks
):
    order, payment = h5_order
    wechat.trade_state = "SUCCESS"
    clock.shift(timedelta(minutes=3))

    with django_capture_on_commit_callbacks(execute=True):
        assert find_lost_payments() == 1
        assert find_lost_payments() == 0  # paid now: not asked again

    assert Order.objects.get(pk=order.pk).status == OrderStatus.CONFIRMED
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PAID
    assert [m for m, _p in wechat.paths()].count("GET") == 1


def test_a_forged_success_answer_confirms_nothing(
    h5_order, wechat, clock, stranger_key, point, sku, django_capture_on_commit_callbacks
):
    order, payment = h5_order
    wechat.trade_state = "SUCCESS"
    wechat.sign_with = stranger_key  # not WeChat's platform key
    clock.shift(timedelta(minutes=3))

    with django_capture_on_commit_callbacks(execute=True):
        assert find_lost_payments() == 0

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
    payment.refresh_from_db()
    assert (payment.status, payment.transaction_id) == (PaymentStatus.CREATED, "")
    assert _stock(sku, point) == 48
