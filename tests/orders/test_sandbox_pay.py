"""The sandbox provider: WeChat Pay's notification format, run through the real parser."""

from __future__ import annotations

import json
import stat
import threading
from datetime import UTC, datetime

import pytest

from orders.payments import (
    NotificationReplayed,
    PrepayRequest,
    ProviderError,
    RefundRequest,
    SignatureInvalid,
    get_payment_provider,
)
from orders.payments.sandbox import (
    SandboxProvider,
    generate_private_key_pem,
    load_or_create_key,
    transaction_id_for,
)
from orders.payments.wechatpay import NotificationParser, SignatureVerifier, load_platform_key

NOW = 1_795_000_000


class DictStore:
    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = value


@pytest.fixture(scope="module")
def key_pem():
    return generate_private_key_pem()


@pytest.fixture(scope="module")
def other_key_pem():
    return generate_private_key_pem()


@pytest.fixture
def sandbox(key_pem):
    return SandboxProvider(private_key_pem=key_pem, store=DictStore(), clock=lambda: NOW)


def prepay_request(**overrides):
    values = {
        "out_trade_no": "T202611180001",
        "description": "土鸡蛋 30枚",
        "amount_fen": 2590,
        "payer_openid": None,
        "client_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:8000/orders/notify/sandbox/",
        "channel": "sandbox",
        "expires_at": datetime(2026, 11, 18, 4, 15, tzinfo=UTC),
        **overrides,
    }
    return PrepayRequest(**values)


def refund_request(**overrides):
    values = {
        "out_trade_no": "T202611180001",
        "out_refund_no": "T202611180001-R1",
        "refund_fen": 1000,
        "total_fen": 2590,
        "reason": "缺货",
        "notify_url": "http://127.0.0.1:8000/orders/notify/sandbox-refund/",
        **overrides,
    }
    return RefundRequest(**values)


def test_prepay_points_at_the_sandbox_pay_page(sandbox):
    result = sandbox.create_prepay(prepay_request())

    assert result.channel == "sandbox"
    assert result.sandbox_url == "/orders/pay/sandbox/T202611180001/"
    assert result.jsapi_params is None
    assert sandbox.query_order("T202611180001").trade_state == "NOTPAY"


def test_a_sandbox_payment_notification_parses_through_the_wechat_code(sandbox):
    sandbox.create_prepay(prepay_request())

    headers, body = sandbox.build_payment_notification(
        "T202611180001", 2590, payer_openid="o-sandbox-alice"
    )
    note = sandbox.parse_payment_notification(headers, body)

    assert note.out_trade_no == "T202611180001"
    assert note.transaction_id == transaction_id_for("T202611180001")
    assert note.trade_state == "SUCCESS"
    assert note.amount_fen == 2590
    assert note.payer_total_fen == 2590
    assert note.payer_openid == "o-sandbox-alice"
    assert note.success_time == datetime.fromtimestamp(NOW, UTC)
    assert note.event_type == "TRANSACTION.SUCCESS"
    # The wire format is WeChat's: an encrypted resource, not plain JSON.
    envelope = json.loads(body)
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert "T202611180001" not in envelope["resource"]["ciphertext"]
    assert headers["Wechatpay-Serial"] == "SANDBOX0001"


def test_a_sandbox_notification_verifies_with_only_the_public_key(sandbox):
    # What a separate process holding just the public key and APIv3 key sees.
    key, _ = load_platform_key(sandbox.public_key_pem())
    parser = NotificationParser(
        SignatureVerifier({"SANDBOX0001": key}, clock=lambda: NOW), sandbox.api_v3_key
    )
    headers, body = sandbox.build_payment_notification("T202611180001", 2590)

    assert parser.parse_payment(headers, body).amount_fen == 2590


def test_paying_twice_is_the_same_payment(sandbox):
    first = sandbox.parse_payment_notification(
        *sandbox.build_payment_notification("T202611180001", 2590)
    )
    second = sandbox.parse_payment_notification(
        *sandbox.build_payment_notification("T202611180001", 2590)
    )

    assert first.transaction_id == second.transaction_id
    assert first.notification_id == second.notification_id


def test_query_after_payment_says_paid(sandbox):
    sandbox.create_prepay(prepay_request())
    sandbox.build_payment_notification("T202611180001", 2590)

    result = sandbox.query_order("T202611180001")

    assert result.is_paid
    assert result.transaction_id == transaction_id_for("T202611180001")
    assert result.amount_fen == 2590


def test_query_of_an_unknown_order_is_an_error_like_wechats(sandbox):
    with pytest.raises(ProviderError) as caught:
        sandbox.query_order("T-never")

    assert caught.value.code == "ORDER_NOT_EXIST"


def test_a_tampered_sandbox_notification_is_rejected(sandbox):
    headers, body = sandbox.build_payment_notification("T202611180001", 2590)

    with pytest.raises(SignatureInvalid):
        sandbox.parse_payment_notification(headers, body.replace(b"TRANSACTION", b"TRANSACTIOM"))


def test_a_notification_from_another_sandbox_is_rejected(sandbox, other_key_pem):
    impostor = SandboxProvider(private_key_pem=other_key_pem, store=DictStore(), clock=lambda: NOW)
    headers, body = impostor.build_payment_notification("T202611180001", 1)

    with pytest.raises(SignatureInvalid):
        sandbox.parse_payment_notification(headers, body)


def test_a_stale_sandbox_notification_is_refused(sandbox):
    headers, body = sandbox.build_payment_notification(
        "T202611180001", 2590, timestamp=NOW - 5 * 60 - 1
    )

    with pytest.raises(NotificationReplayed):
        sandbox.parse_payment_notification(headers, body)


def test_close_closes_an_unpaid_order_and_leaves_a_paid_one(sandbox):
    sandbox.create_prepay(prepay_request(out_trade_no="T-unpaid"))
    sandbox.create_prepay(prepay_request(out_trade_no="T-paid"))
    sandbox.build_payment_notification("T-paid", 2590)

    sandbox.close_order("T-unpaid")
    sandbox.close_order("T-paid")

    assert sandbox.query_order("T-unpaid").trade_state == "CLOSED"
    assert sandbox.query_order("T-paid").trade_state == "SUCCESS"


def test_a_refund_succeeds_at_once_with_a_signed_notification(key_pem):
    received = []
    sandbox = SandboxProvider(
        private_key_pem=key_pem,
        store=DictStore(),
        clock=lambda: NOW,
        on_notification=lambda kind, headers, body: received.append((kind, headers, body)),
    )
    sandbox.create_prepay(prepay_request())
    sandbox.build_payment_notification("T202611180001", 2590)

    result = sandbox.refund(refund_request())

    assert result.is_success
    assert result.out_refund_no == "T202611180001-R1"
    assert result.refund_fen == 1000
    [(kind, headers, body)] = received
    assert kind == "refund"
    note = sandbox.parse_refund_notification(headers, body)
    assert note.out_refund_no == "T202611180001-R1"
    assert note.refund_id == result.refund_id
    assert note.refund_status == "SUCCESS"
    assert note.refund_fen == 1000
    assert note.total_fen == 2590
    assert note.event_type == "REFUND.SUCCESS"
    assert sandbox.query_order("T202611180001").trade_state == "REFUND"
    assert sandbox.query_refund("T202611180001-R1") == result


def test_the_same_refund_number_twice_refunds_once(sandbox):
    sandbox.create_prepay(prepay_request())
    sandbox.build_payment_notification("T202611180001", 2590)

    first = sandbox.refund(refund_request(refund_fen=2000))
    second = sandbox.refund(refund_request(refund_fen=2000))

    assert first == second
    # 590 fen are left: another 2000 under a new number is refused.
    with pytest.raises(ProviderError) as caught:
        sandbox.refund(refund_request(out_refund_no="T202611180001-R2", refund_fen=2000))
    assert caught.value.code == "NOT_ENOUGH"
    assert sandbox.refund(refund_request(out_refund_no="T202611180001-R3", refund_fen=590))


def test_an_unpaid_order_cannot_be_refunded(sandbox):
    sandbox.create_prepay(prepay_request())

    with pytest.raises(ProviderError):
        sandbox.refund(refund_request())


def test_an_order_the_sandbox_forgot_can_still_be_refunded(sandbox):
    # Seeded demo orders never went through create_prepay.
    assert sandbox.refund(refund_request(out_trade_no="T-seeded")).is_success


def test_query_of_an_unknown_refund_is_an_error(sandbox):
    with pytest.raises(ProviderError) as caught:
        sandbox.query_refund("T-never-R1")

    assert caught.value.code == "RESOURCE_NOT_EXISTS"


def test_a_refund_notification_is_not_a_payment(sandbox):
    from orders.payments import MalformedNotification

    headers, body = sandbox.build_refund_notification(
        out_trade_no="T1", out_refund_no="T1-R1", refund_fen=1, total_fen=1
    )

    with pytest.raises(MalformedNotification):
        sandbox.parse_payment_notification(headers, body)


def test_state_is_shared_through_the_cache_between_processes(key_pem):
    web = SandboxProvider(private_key_pem=key_pem, clock=lambda: NOW)
    worker = SandboxProvider(private_key_pem=key_pem, clock=lambda: NOW)

    web.create_prepay(prepay_request(out_trade_no="T-shared"))
    web.build_payment_notification("T-shared", 2590)

    assert worker.query_order("T-shared").is_paid
    assert worker.api_v3_key == web.api_v3_key


# --- the key file -----------------------------------------------------------


def test_the_key_is_created_once_and_kept_private(tmp_path):
    first = load_or_create_key(tmp_path / "sandbox_pay")
    second = load_or_create_key(tmp_path / "sandbox_pay")

    assert first == second
    path = tmp_path / "sandbox_pay" / "platform_private_key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "sandbox_pay").iterdir()] == [path.name]


def test_processes_starting_together_agree_on_one_key(tmp_path):
    directory = tmp_path / "sandbox_pay"
    barrier = threading.Barrier(4)
    keys = []

    def start():
        barrier.wait()
        keys.append(load_or_create_key(directory))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 4
    assert len(set(keys)) == 1
    assert (directory / "platform_private_key.pem").read_bytes() == keys[0]


def test_the_default_provider_is_the_sandbox_from_settings(settings, tmp_path):
    settings.PAYMENT_PROVIDER = "sandbox"
    settings.SANDBOX_PAY_DIR = tmp_path / "sandbox_pay"

    provider = get_payment_provider()

    assert isinstance(provider, SandboxProvider)
    assert (tmp_path / "sandbox_pay" / "platform_private_key.pem").exists()
    assert get_payment_provider() is provider
    headers, body = provider.build_payment_notification("T-settings", 100)
    assert provider.parse_payment_notification(headers, body).amount_fen == 100
