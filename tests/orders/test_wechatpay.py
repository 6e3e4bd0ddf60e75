# ruff: noqa: F811 - pytest fixtures imported from tests.wechatpay_fake
"""WeChat Pay v3 against locally generated keys and payloads signed as WeChat signs them.

The fake WeChat side is written here with `cryptography` directly (not with
the code under test), and the `responses` library plays the API server.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orders.payments import (
    MalformedNotification,
    NotificationReplayed,
    PrepayRequest,
    ProviderError,
    RefundRequest,
    SignatureInvalid,
    out_refund_no_for,
)
from orders.payments.wechatpay import (
    DEFAULT_BASE_URL,
    WechatPayProvider,
    build_authorization,
)
from tests.wechatpay_fake import (  # noqa: F401 - fixtures
    API_V3_KEY,
    APP_ID,
    MCH_ID,
    MERCHANT_SERIAL,
    NOW,
    PLATFORM_SERIAL,
    merchant_key,
    pem,
    platform_certificate,
    platform_key,
    stranger_key,
    verify_merchant_signature,
    wechat_headers,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def platform_cert_pem(platform_key):
    return platform_certificate(platform_key)


@pytest.fixture
def provider(merchant_key, platform_cert_pem):
    return WechatPayProvider(
        mch_id=MCH_ID,
        app_id=APP_ID,
        api_v3_key=API_V3_KEY,
        private_key_pem=pem(merchant_key),
        merchant_serial=MERCHANT_SERIAL,
        platform_key_pem=platform_cert_pem,
        clock=lambda: NOW,
    )


# --- WeChat's side, written independently (tests/wechatpay_fake.py) ---------


def wechat_notification(resource: dict, *, event_type: str, original_type: str, key=API_V3_KEY):
    nonce = "fdasflkja484"
    ciphertext = AESGCM(key.encode()).encrypt(
        nonce.encode(), json.dumps(resource).encode(), original_type.encode()
    )
    return json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2026-11-18T12:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
    ).encode()


TRANSACTION = {
    "mchid": MCH_ID,
    "appid": APP_ID,
    "out_trade_no": "T202611180001",
    "transaction_id": "4200000001202611180123456789",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "attach": "",
    "success_time": "2026-11-18T11:59:30+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 2590, "payer_total": 2490, "currency": "CNY", "payer_currency": "CNY"},
}

REFUND = {
    "mchid": MCH_ID,
    "out_trade_no": "T202611180001",
    "transaction_id": "4200000001202611180123456789",
    "out_refund_no": "T202611180001-R7",
    "refund_id": "50000000382019052709732678859",
    "refund_status": "SUCCESS",
    "success_time": "2026-11-19T09:00:00+08:00",
    "user_received_account": "招商银行信用卡0403",
    "amount": {"total": 2590, "refund": 1290, "payer_total": 2490, "payer_refund": 1240},
}


def payment_notification(**overrides):
    return wechat_notification(
        {**TRANSACTION, **overrides}, event_type="TRANSACTION.SUCCESS", original_type="transaction"
    )


# --- notifications ----------------------------------------------------------


def test_it_parses_a_good_payment_notification_exactly(provider, platform_key):
    body = payment_notification()

    note = provider.parse_payment_notification(wechat_headers(platform_key, body), body)

    assert note.out_trade_no == "T202611180001"
    assert note.transaction_id == "4200000001202611180123456789"
    assert note.trade_state == "SUCCESS"
    assert note.is_paid
    assert note.amount_fen == 2590
    assert note.payer_total_fen == 2490
    assert note.success_time == datetime(2026, 11, 18, 11, 59, 30, tzinfo=SHANGHAI)
    assert note.payer_openid == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert note.event_type == "TRANSACTION.SUCCESS"
    assert note.notification_id == "EV-2018022511223320873"
    assert note.raw == TRANSACTION


def test_it_reads_headers_whatever_their_case(provider, platform_key):
    body = payment_notification()
    headers = {k.lower(): v for k, v in wechat_headers(platform_key, body).items()}

    assert provider.parse_payment_notification(headers, body).amount_fen == 2590


def test_it_rejects_a_notification_signed_by_another_key(provider, stranger_key):
    body = payment_notification()

    with pytest.raises(SignatureInvalid):
        provider.parse_payment_notification(wechat_headers(stranger_key, body), body)


def test_it_rejects_a_tampered_body(provider, platform_key):
    body = payment_notification()
    headers = wechat_headers(platform_key, body)
    tampered = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" ')

    with pytest.raises(SignatureInvalid):
        provider.parse_payment_notification(headers, tampered)


def test_it_rejects_a_signature_over_another_timestamp(provider, platform_key):
    body = payment_notification()
    headers = wechat_headers(platform_key, body)
    headers["Wechatpay-Timestamp"] = str(NOW + 1)

    with pytest.raises(SignatureInvalid):
        provider.parse_payment_notification(headers, body)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_it_refuses_a_replayed_or_future_timestamp(provider, platform_key, offset):
    body = payment_notification()
    headers = wechat_headers(platform_key, body, timestamp=NOW + offset)

    with pytest.raises(NotificationReplayed):
        provider.parse_payment_notification(headers, body)


@pytest.mark.parametrize("offset", [-300, 300])
def test_it_accepts_a_timestamp_just_inside_the_window(provider, platform_key, offset):
    body = payment_notification()
    headers = wechat_headers(platform_key, body, timestamp=NOW + offset)

    assert provider.parse_payment_notification(headers, body).is_paid


def test_it_rejects_an_unknown_serial(provider, platform_key):
    body = payment_notification()
    headers = wechat_headers(platform_key, body, serial="PUB_KEY_ID_0000000000000000")

    with pytest.raises(SignatureInvalid, match="unknown platform serial"):
        provider.parse_payment_notification(headers, body)


def test_it_rejects_wechats_signature_probe(provider, platform_key):
    # WeChat Pay sometimes sends a deliberately wrong signature to check that
    # merchants verify; it must fail like any other.
    body = payment_notification()
    headers = wechat_headers(platform_key, body)
    headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]

    with pytest.raises(SignatureInvalid):
        provider.parse_payment_notification(headers, body)


@pytest.mark.parametrize(
    "missing", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_it_rejects_a_notification_without_signature_headers(provider, platform_key, missing):
    body = payment_notification()
    headers = wechat_headers(platform_key, body)
    del headers[missing]

    with pytest.raises(SignatureInvalid):
        provider.parse_payment_notification(headers, body)


def test_it_refuses_a_resource_encrypted_with_another_key(provider, platform_key):
    body = wechat_notification(
        TRANSACTION,
        event_type="TRANSACTION.SUCCESS",
        original_type="transaction",
        key="X" * 32,
    )

    with pytest.raises(MalformedNotification, match="decrypt"):
        provider.parse_payment_notification(wechat_headers(platform_key, body), body)


def test_it_refuses_another_merchants_payment(provider, platform_key):
    body = payment_notification(mchid="1900000000")

    with pytest.raises(MalformedNotification, match="another merchant"):
        provider.parse_payment_notification(wechat_headers(platform_key, body), body)


def test_a_signed_notification_with_bad_fields_is_malformed(provider, platform_key):
    body = payment_notification(success_time="yesterday", amount={"total": "lots"})

    with pytest.raises(MalformedNotification):
        provider.parse_payment_notification(wechat_headers(platform_key, body), body)


def test_a_signed_body_that_is_not_json_is_malformed(provider, platform_key):
    body = b"<xml>v2</xml>"

    with pytest.raises(MalformedNotification):
        provider.parse_payment_notification(wechat_headers(platform_key, body), body)


def test_it_refuses_a_refund_notification_as_a_payment(provider, platform_key):
    body = wechat_notification(REFUND, event_type="REFUND.SUCCESS", original_type="refund")

    with pytest.raises(MalformedNotification):
        provider.parse_payment_notification(wechat_headers(platform_key, body), body)


def test_it_parses_a_good_refund_notification_exactly(provider, platform_key):
    body = wechat_notification(REFUND, event_type="REFUND.SUCCESS", original_type="refund")

    note = provider.parse_refund_notification(wechat_headers(platform_key, body), body)

    assert note.out_trade_no == "T202611180001"
    assert note.out_refund_no == "T202611180001-R7"
    assert note.refund_id == "50000000382019052709732678859"
    assert note.transaction_id == "4200000001202611180123456789"
    assert note.refund_status == "SUCCESS"
    assert note.is_success
    assert note.refund_fen == 1290
    assert note.total_fen == 2590
    assert note.success_time == datetime(2026, 11, 19, 9, 0, tzinfo=SHANGHAI)
    assert note.event_type == "REFUND.SUCCESS"


def test_it_verifies_refund_notifications_too(provider, platform_key, stranger_key):
    body = wechat_notification(REFUND, event_type="REFUND.SUCCESS", original_type="refund")

    with pytest.raises(SignatureInvalid):
        provider.parse_refund_notification(wechat_headers(stranger_key, body), body)
    with pytest.raises(NotificationReplayed):
        provider.parse_refund_notification(
            wechat_headers(platform_key, body, timestamp=NOW - 600), body
        )


def test_it_accepts_a_bare_platform_public_key_with_its_id(merchant_key, platform_key):
    public_pem = platform_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    provider = WechatPayProvider(
        mch_id=MCH_ID,
        app_id=APP_ID,
        api_v3_key=API_V3_KEY,
        private_key_pem=pem(merchant_key),
        merchant_serial=MERCHANT_SERIAL,
        platform_key_pem=public_pem,
        platform_serial="PUB_KEY_ID_0112345678",
        clock=lambda: NOW,
    )
    body = payment_notification()
    headers = wechat_headers(platform_key, body, serial="PUB_KEY_ID_0112345678")

    assert provider.parse_payment_notification(headers, body).amount_fen == 2590
    with pytest.raises(ValueError, match="platform_serial"):
        WechatPayProvider(
            mch_id=MCH_ID,
            app_id=APP_ID,
            api_v3_key=API_V3_KEY,
            private_key_pem=pem(merchant_key),
            merchant_serial=MERCHANT_SERIAL,
            platform_key_pem=public_pem,
        )


# --- request signing and the pay-sign ---------------------------------------


def test_the_authorization_header_verifies_with_the_merchant_public_key(merchant_key):
    body = '{"description":"土鸡蛋 30枚"}'
    header = build_authorization(
        method="POST",
        url_path="/v3/pay/transactions/jsapi",
        body=body,
        mch_id=MCH_ID,
        serial_no=MERCHANT_SERIAL,
        private_key=merchant_key,
        timestamp=NOW,
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
    )

    assert header.startswith("WECHATPAY2-SHA256-RSA2048 ")
    fields = verify_merchant_signature(
        merchant_key, "POST", "/v3/pay/transactions/jsapi", body.encode(), header
    )
    assert fields["mchid"] == MCH_ID
    assert fields["serial_no"] == MERCHANT_SERIAL
    assert fields["timestamp"] == str(NOW)
    assert fields["nonce_str"] == "593BEC0C930BF1AFEB40B4A08C8FB242"
    with pytest.raises(InvalidSignature):
        verify_merchant_signature(
            merchant_key, "POST", "/v3/pay/transactions/h5", body.encode(), header
        )


# --- the HTTP API, with `responses` as WeChat's server ----------------------


class FakeWechat:
    """Checks each request's Authorization and answers signed as WeChat would."""

    def __init__(self, merchant_key, platform_key):
        self.merchant_key = merchant_key
        self.platform_key = platform_key
        self.requests: list[dict] = []

    def handler(self, status: int, payload: dict | None, *, sign_with=None, timestamp=NOW):
        def callback(request):
            url_path = request.path_url
            body = request.body or b""
            if isinstance(body, str):
                body = body.encode()
            fields = verify_merchant_signature(
                self.merchant_key, request.method, url_path, body, request.headers["Authorization"]
            )
            self.requests.append(
                {
                    "method": request.method,
                    "path": url_path,
                    "json": json.loads(body) if body else None,
                    "auth": fields,
                    "headers": dict(request.headers),
                }
            )
            answer = json.dumps(payload).encode() if payload is not None else b""
            headers = wechat_headers(sign_with or self.platform_key, answer, timestamp=timestamp)
            return status, headers, answer

        return callback


@pytest.fixture
def wechat(merchant_key, platform_key):
    with responses.RequestsMock() as mock:
        fake = FakeWechat(merchant_key, platform_key)
        fake.mock = mock
        yield fake


def prepay_request(channel="jsapi", **overrides):
    values = {
        "out_trade_no": "T202611180001",
        "description": "幸福里团购-土鸡蛋 30枚",
        "amount_fen": 2590,
        "payer_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" if channel == "jsapi" else None,
        "client_ip": "203.0.113.9",
        "notify_url": "https://tuangou.example/orders/notify/wechatpay/",
        "channel": channel,
        "expires_at": datetime(2026, 11, 18, 4, 15, tzinfo=UTC),
        **overrides,
    }
    return PrepayRequest(**values)


def test_jsapi_prepay_sends_a_signed_request_and_signs_the_page_params(
    provider, wechat, merchant_key
):
    wechat.mock.add_callback(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/jsapi",
        callback=wechat.handler(200, {"prepay_id": "wx201410272009395522657a690389285100"}),
    )

    result = provider.create_prepay(prepay_request())

    [sent] = wechat.requests
    assert sent["auth"]["mchid"] == MCH_ID
    assert sent["auth"]["serial_no"] == MERCHANT_SERIAL
    assert sent["auth"]["timestamp"] == str(NOW)
    assert sent["headers"]["Accept"] == "application/json"
    assert sent["json"] == {
        "appid": APP_ID,
        "mchid": MCH_ID,
        "description": "幸福里团购-土鸡蛋 30枚",
        "out_trade_no": "T202611180001",
        "time_expire": "2026-11-18T12:15:00+08:00",
        "notify_url": "https://tuangou.example/orders/notify/wechatpay/",
        "amount": {"total": 2590, "currency": "CNY"},
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    }
    assert result.channel == "jsapi"
    assert result.prepay_id == "wx201410272009395522657a690389285100"
    params = result.jsapi_params
    assert params["appId"] == APP_ID
    assert params["timeStamp"] == str(NOW)
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert params["signType"] == "RSA"
    message = f"{APP_ID}\n{NOW}\n{params['nonceStr']}\n{params['package']}\n".encode()
    merchant_key.public_key().verify(
        base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_h5_prepay_sends_the_scene_and_returns_the_h5_url(provider, wechat):
    h5_url = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016&package=1"
    wechat.mock.add_callback(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/h5",
        callback=wechat.handler(200, {"h5_url": h5_url}),
    )

    result = provider.create_prepay(prepay_request("h5"))

    [sent] = wechat.requests
    assert sent["json"]["scene_info"] == {
        "payer_client_ip": "203.0.113.9",
        "h5_info": {"type": "Wap"},
    }
    assert "payer" not in sent["json"]
    assert result.channel == "h5"
    assert result.h5_url == h5_url
    assert result.jsapi_params is None


def test_it_refuses_a_sandbox_channel(provider):
    with pytest.raises(ValueError):
        provider.create_prepay(prepay_request("sandbox", payer_openid=None))


def test_a_response_with_a_bad_signature_is_rejected(provider, wechat, stranger_key):
    wechat.mock.add_callback(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/jsapi",
        callback=wechat.handler(200, {"prepay_id": "wx-forged"}, sign_with=stranger_key),
    )

    with pytest.raises(ProviderError) as caught:
        provider.create_prepay(prepay_request())

    assert caught.value.code == "BAD_RESPONSE_SIGNATURE"


def test_a_stale_response_is_rejected(provider, wechat):
    wechat.mock.add_callback(
        responses.GET,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/T202611180001",
        callback=wechat.handler(200, TRANSACTION, timestamp=NOW - 3600),
    )

    with pytest.raises(ProviderError) as caught:
        provider.query_order("T202611180001")

    assert caught.value.code == "BAD_RESPONSE_SIGNATURE"


def test_query_order_signs_the_query_string_and_parses_the_answer(provider, wechat):
    wechat.mock.add_callback(
        responses.GET,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/T202611180001",
        callback=wechat.handler(200, TRANSACTION),
    )

    result = provider.query_order("T202611180001")

    [sent] = wechat.requests
    assert sent["method"] == "GET"
    assert sent["path"] == f"/v3/pay/transactions/out-trade-no/T202611180001?mchid={MCH_ID}"
    assert sent["json"] is None
    assert result.is_paid
    assert result.trade_state == "SUCCESS"
    assert result.transaction_id == "4200000001202611180123456789"
    assert result.amount_fen == 2590
    assert result.payer_total_fen == 2490
    assert result.success_time == datetime(2026, 11, 18, 11, 59, 30, tzinfo=SHANGHAI)


def test_query_order_of_an_unpaid_order(provider, wechat):
    unpaid = {
        "appid": APP_ID,
        "mchid": MCH_ID,
        "out_trade_no": "T202611180002",
        "trade_state": "NOTPAY",
        "trade_state_desc": "订单未支付",
        "amount": {"total": 990, "currency": "CNY"},
    }
    wechat.mock.add_callback(
        responses.GET,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/T202611180002",
        callback=wechat.handler(200, unpaid),
    )

    result = provider.query_order("T202611180002")

    assert not result.is_paid
    assert result.trade_state == "NOTPAY"
    assert result.amount_fen == 990
    assert result.payer_total_fen == 0
    assert result.transaction_id == ""
    assert result.success_time is None


def test_an_error_answer_raises_a_provider_error_with_the_code(provider, wechat):
    wechat.mock.add(
        responses.GET,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/T404",
        json={"code": "ORDER_NOT_EXIST", "message": "订单不存在"},
        status=404,
    )

    with pytest.raises(ProviderError) as caught:
        provider.query_order("T404")

    assert caught.value.code == "ORDER_NOT_EXIST"
    assert caught.value.message == "订单不存在"
    assert caught.value.status == 404
    assert not caught.value.retryable


def test_a_server_error_is_retryable(provider, wechat):
    wechat.mock.add(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/refund/domestic/refunds",
        json={"code": "SYSTEM_ERROR", "message": "系统繁忙"},
        status=500,
    )

    with pytest.raises(ProviderError) as caught:
        provider.refund(refund_request())

    assert caught.value.code == "SYSTEM_ERROR"
    assert caught.value.retryable


def test_a_network_failure_is_retryable(provider, wechat):
    wechat.mock.add(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/T1/close",
        body=requests.ConnectionError("connection reset"),
    )

    with pytest.raises(ProviderError) as caught:
        provider.close_order("T1")

    assert caught.value.code == "NETWORK_ERROR"
    assert caught.value.retryable


def test_close_order_posts_the_mchid_and_accepts_a_signed_204(provider, wechat):
    wechat.mock.add_callback(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/T202611180001/close",
        callback=wechat.handler(204, None),
    )

    assert provider.close_order("T202611180001") is None

    [sent] = wechat.requests
    assert sent["json"] == {"mchid": MCH_ID}


def test_close_order_rejects_an_unsigned_204(provider, wechat):
    wechat.mock.add(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/pay/transactions/out-trade-no/T202611180001/close",
        status=204,
    )

    with pytest.raises(ProviderError) as caught:
        provider.close_order("T202611180001")

    assert caught.value.code == "BAD_RESPONSE_SIGNATURE"


def refund_request(**overrides):
    values = {
        "out_trade_no": "T202611180001",
        "out_refund_no": "T202611180001-R7",
        "refund_fen": 1290,
        "total_fen": 2590,
        "reason": "鸡蛋破损",
        "notify_url": "https://tuangou.example/orders/notify/wechatpay-refund/",
        **overrides,
    }
    return RefundRequest(**values)


def test_refund_sends_the_amounts_and_parses_the_answer(provider, wechat):
    answer = {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": "T202611180001-R7",
        "transaction_id": "4200000001202611180123456789",
        "out_trade_no": "T202611180001",
        "channel": "ORIGINAL",
        "user_received_account": "招商银行信用卡0403",
        "create_time": "2026-11-19T08:59:58+08:00",
        "status": "PROCESSING",
        "amount": {"total": 2590, "refund": 1290, "payer_total": 2490, "payer_refund": 1240},
    }
    wechat.mock.add_callback(
        responses.POST,
        f"{DEFAULT_BASE_URL}/v3/refund/domestic/refunds",
        callback=wechat.handler(200, answer),
    )

    result = provider.refund(refund_request())

    [sent] = wechat.requests
    assert sent["json"] == {
        "out_trade_no": "T202611180001",
        "out_refund_no": "T202611180001-R7",
        "reason": "鸡蛋破损",
        "notify_url": "https://tuangou.example/orders/notify/wechatpay-refund/",
        "amount": {"refund": 1290, "total": 2590, "currency": "CNY"},
    }
    assert result.out_refund_no == "T202611180001-R7"
    assert result.refund_id == "50000000382019052709732678859"
    assert result.status == "PROCESSING"
    assert not result.is_success
    assert result.refund_fen == 1290
    assert result.success_time is None


def test_query_refund_reads_the_refund_by_its_number(provider, wechat):
    answer = {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": "T202611180001-R7",
        "status": "SUCCESS",
        "success_time": "2026-11-19T09:00:00+08:00",
        "amount": {"total": 2590, "refund": 1290},
    }
    wechat.mock.add_callback(
        responses.GET,
        f"{DEFAULT_BASE_URL}/v3/refund/domestic/refunds/T202611180001-R7",
        callback=wechat.handler(200, answer),
    )

    result = provider.query_refund("T202611180001-R7")

    assert result.is_success
    assert result.success_time == datetime(2026, 11, 19, 9, 0, tzinfo=SHANGHAI)


def test_the_base_url_is_configurable(merchant_key, platform_cert_pem, platform_key):
    provider = WechatPayProvider(
        mch_id=MCH_ID,
        app_id=APP_ID,
        api_v3_key=API_V3_KEY,
        private_key_pem=pem(merchant_key),
        merchant_serial=MERCHANT_SERIAL,
        platform_key_pem=platform_cert_pem,
        base_url="https://api2.mch.weixin.qq.com/",
        clock=lambda: NOW,
    )
    with responses.RequestsMock() as mock:
        fake = FakeWechat(merchant_key, platform_key)
        mock.add_callback(
            responses.POST,
            "https://api2.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/T1/close",
            callback=fake.handler(204, None),
        )
        provider.close_order("T1")
    assert len(fake.requests) == 1


# --- helpers and configuration ----------------------------------------------


def test_out_refund_no_is_stable_across_retries():
    assert out_refund_no_for("T202611180001", 7) == "T202611180001-R7"
    assert out_refund_no_for("T202611180001", 7) == out_refund_no_for("T202611180001", "7")
    assert out_refund_no_for("T202611180001", 8) != out_refund_no_for("T202611180001", 7)


def test_a_long_out_refund_no_is_hashed_within_64_characters():
    long_number = "T" + "9" * 70
    first = out_refund_no_for(long_number, 1)

    assert first == out_refund_no_for(long_number, 1)
    assert len(first) <= 64
    assert first != out_refund_no_for(long_number, 2)
    with pytest.raises(ValueError):
        out_refund_no_for("订单1", 1)


def test_a_prepay_request_refuses_bad_values():
    with pytest.raises(TypeError):
        prepay_request(amount_fen=25.9)
    with pytest.raises(ValueError):
        prepay_request(amount_fen=0)
    with pytest.raises(ValueError):
        prepay_request(payer_openid=None)
    with pytest.raises(ValueError):
        prepay_request(expires_at=datetime(2026, 11, 18, 12, 15))  # noqa: DTZ001
    with pytest.raises(ValueError):
        prepay_request(channel="alipay")


def test_a_refund_request_refuses_more_than_the_total():
    with pytest.raises(ValueError):
        refund_request(refund_fen=2591)
    with pytest.raises(ValueError):
        refund_request(refund_fen=0)


def test_from_settings_reads_the_key_files(settings, tmp_path, merchant_key, platform_cert_pem):
    (tmp_path / "apiclient_key.pem").write_bytes(pem(merchant_key))
    (tmp_path / "platform.pem").write_bytes(platform_cert_pem)
    settings.PAYMENT_PROVIDER = "wechatpay"
    settings.WECHATPAY_MCH_ID = MCH_ID
    settings.WECHATPAY_APP_ID = APP_ID
    settings.WECHATPAY_API_V3_KEY = API_V3_KEY
    settings.WECHATPAY_CERT_SERIAL = MERCHANT_SERIAL
    settings.WECHATPAY_PRIVATE_KEY_PATH = str(tmp_path / "apiclient_key.pem")
    settings.WECHATPAY_PLATFORM_CERT_PATH = str(tmp_path / "platform.pem")

    from orders.payments import get_payment_provider

    provider = get_payment_provider()

    assert isinstance(provider, WechatPayProvider)
    assert provider.mch_id == MCH_ID
    assert provider.platform_serial == PLATFORM_SERIAL
    assert get_payment_provider() is provider  # keys are loaded once


def test_from_settings_names_what_is_missing(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.WECHATPAY_MCH_ID = MCH_ID
    settings.WECHATPAY_API_V3_KEY = API_V3_KEY
    settings.WECHATPAY_PRIVATE_KEY_PATH = "/nonexistent/key.pem"
    settings.WECHATPAY_CERT_SERIAL = ""
    settings.WECHATPAY_PLATFORM_CERT_PATH = ""

    with pytest.raises(ImproperlyConfigured, match="WECHATPAY_CERT_SERIAL"):
        WechatPayProvider.from_settings()
