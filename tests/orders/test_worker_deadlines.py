# ruff: noqa: F811 - pytest fixtures imported from tests.wechatpay_fake
"""A real Celery worker for what eager Celery cannot show: ETAs and retry
countdowns are waited out, not skipped.

- the unpaid-order sweeper, run on the worker as beat runs it, cancels the
  unpaid order once its deadline has passed and leaves the paid one;
- a refund WeChat could not take is sent again by its task after its
  countdown, with the same out_refund_no;
- a payout batch WeChat could not take is sent again by its task after its
  countdown, with the same batch number.

Deadlines are shortened through settings (seconds, not minutes); the test
only polls for a condition, with a timeout. The clock travels to a fixed
moment and ticks, so the worker thread sees the same time.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun

from leaders.commission.models import PayoutBatch
from leaders.commission.services import (
    add_adjustment,
    approve_withdrawal,
    create_payout_batch,
    request_withdrawal,
    settle_commissions,
)
from orders.models import (
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    Refund,
    RefundReason,
    RefundStatus,
)
from orders.payments import sandbox
from orders.services.checkout import Want, place_order
from orders.services.payments import apply_payment, handle_payment_notification, start_payment
from orders.services.refunds import refund_order
from tests.wechatpay_fake import (  # noqa: F401 - fixtures
    DEFAULT_BASE_URL,
    merchant_key,
    platform_key,
    verify_merchant_signature,
    wechat_headers,
    wechatpay_settings,
)
from tuangou.celery import app
from tuangou.money import to_fen

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.ticking]

WAIT = 30  # seconds: the longest any condition is polled for


@pytest.fixture(autouse=True)
def eager_celery():
    """Overrides the orders fixture: these tests use the real worker."""
    app.conf.task_always_eager = False
    yield


@pytest.fixture
def ticking_clock(clock):
    """The suite's clock, ticking (the module is marked so): NOON_ISH, and real
    seconds pass for ETAs, in every thread."""
    return clock


@pytest.fixture
def celery_worker(ticking_clock, django_db_blocker):
    app.conf.task_always_eager = False
    app.control.purge()
    with (
        django_db_blocker.unblock(),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker,
    ):
        yield worker


class Finished:
    """Collects (task name, state, return value, when) of every task the worker ran."""

    def __init__(self):
        self.runs: list[tuple[str, str, object, float]] = []
        self.changed = threading.Event()

    def __enter__(self):
        task_postrun.connect(self.record, weak=False)
        return self

    def __exit__(self, *exc):
        task_postrun.disconnect(self.record)

    def record(self, task=None, state=None, retval=None, **_kwargs):
        self.runs.append((task.name.rsplit(".", 1)[-1], state, retval, time.monotonic()))
        self.changed.set()

    def of(self, name: str):
        return [run for run in self.runs if run[0] == name]

    def wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            assert time.monotonic() < deadline, f"{what}: not within {WAIT}s; ran {self.runs}"
            self.changed.wait(timeout=0.2)
            self.changed.clear()


def test_the_sweeper_on_the_worker_cancels_only_the_unpaid_order_after_its_deadline(
    celery_worker, settings, shopper, other_shopper, point, sku
):
    """No ETA task per order (ORDER_EXPIRY_ETA_TASKS is off): the sweeper,
    sent every second here as beat sends it every minute, runs on the worker
    and cancels the unpaid order once its deadline has passed, exactly once."""
    from orders.tasks import expire_unpaid_orders_task

    settings.ORDER_PAYMENT_TIMEOUT_MINUTES = 0.05  # 3 seconds to pay
    assert settings.ORDER_EXPIRY_ETA_TASKS is False
    with Finished() as finished:
        unpaid = place_order(user=shopper, wants=[Want(sku.pk, 2)], pickup_point=point)
        paid = place_order(user=other_shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
        payment = start_payment(order=paid, channel="h5", client_ip="10.0.0.1")
        headers, body = sandbox.build_payment_notification(
            payment.out_trade_no, to_fen(payment.amount)
        )
        assert handle_payment_notification(headers=headers, body=body).ok
        assert (
            timedelta(seconds=2) < unpaid.pay_deadline - unpaid.created_at <= timedelta(seconds=3)
        )
        # The beat: a sweep a second until the unpaid order is cancelled.
        sweeps_before_deadline = 0
        deadline = time.monotonic() + WAIT
        while not Order.objects.filter(pk=unpaid.pk, status=OrderStatus.CANCELLED).exists():
            assert time.monotonic() < deadline, f"not cancelled within {WAIT}s: {finished.runs}"
            ran = len(finished.of("expire_unpaid_orders_task"))
            expire_unpaid_orders_task.delay()
            finished.wait_for(
                lambda ran=ran: len(finished.of("expire_unpaid_orders_task")) > ran, "a sweep"
            )
            if Order.objects.filter(pk=unpaid.pk, status=OrderStatus.PENDING_PAYMENT).exists():
                sweeps_before_deadline += 1
            time.sleep(0.5)
        # Two more sweeps after it: they change nothing.
        for _ in range(2):
            expire_unpaid_orders_task.delay()
        finished.wait_for(
            lambda: (
                finished.of("expire_unpaid_orders_task")[-1][2] == 0
                and len(finished.of("expire_unpaid_orders_task")) >= sweeps_before_deadline + 3
            ),
            "the sweeps after",
        )

    unpaid.refresh_from_db()
    paid.refresh_from_db()
    assert unpaid.status == OrderStatus.CANCELLED
    assert paid.status == OrderStatus.CONFIRMED
    sweeps = [r[2] for r in finished.of("expire_unpaid_orders_task")]
    assert sweeps.count(1) == 1 and set(sweeps) == {0, 1}  # cancelled exactly once
    assert sweeps_before_deadline >= 1  # swept while it could still be paid: left alone
    assert finished.of("expire_order_task") == []  # no ETA task was published
    [cancelled] = OrderEvent.objects.filter(order=unpaid, to_status=OrderStatus.CANCELLED)
    assert cancelled.created_at >= unpaid.pay_deadline  # not before its deadline
    assert not OrderEvent.objects.filter(order=paid, to_status=OrderStatus.CANCELLED).exists()


def _signed(key, status, payload):
    content = json.dumps(payload).encode()
    return status, wechat_headers(key, content, timestamp=int(time.time())), content


def test_a_refund_wechat_could_not_take_is_sent_again_after_its_countdown_with_its_number(
    celery_worker, settings, wechatpay_settings, merchant_key, platform_key, shopper, point, sku
):
    settings.REFUND_RETRY_BASE_SECONDS = 1
    sent: list[tuple[float, dict]] = []

    def refunds_api(request):
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        verify_merchant_signature(
            merchant_key, "POST", request.path_url, body, request.headers["Authorization"]
        )
        sent.append((time.monotonic(), json.loads(body)))
        if len(sent) == 1:
            return _signed(platform_key, 500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
        data = json.loads(body)
        return _signed(
            platform_key,
            200,
            {
                "refund_id": "50000000382019052709732678859",
                "out_refund_no": data["out_refund_no"],
                "status": "SUCCESS",
                "success_time": "2026-11-25T15:00:10+08:00",
                "amount": {"refund": data["amount"]["refund"], "total": data["amount"]["total"]},
            },
        )

    order = place_order(user=shopper, wants=[Want(sku.pk, 2)], pickup_point=point)
    # Paid with WeChat (the prepay itself is tested in test_h5_payments.py).
    payment = Payment.objects.create(
        order=order,
        provider="wechatpay",
        channel="h5",
        out_trade_no=order.number,
        amount=order.payable,
    )
    apply_payment(
        out_trade_no=payment.out_trade_no,
        amount_fen=to_fen(payment.amount),
        transaction_id="4200002026112512345678901234",
    )
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        Finished() as finished,
    ):
        mock.add_callback(
            responses.POST, f"{DEFAULT_BASE_URL}/v3/refund/domestic/refunds", callback=refunds_api
        )
        refund = refund_order(order=Order.objects.get(pk=order.pk), reason=RefundReason.OPERATOR)
        finished.wait_for(
            lambda: any(r[2] == RefundStatus.SUCCEEDED for r in finished.of("send_refund_task")),
            "the refund's retry",
        )

    refund.refresh_from_db()
    assert (refund.status, refund.attempts, refund.error) == (RefundStatus.SUCCEEDED, 2, "")
    assert refund.provider_refund_id == "50000000382019052709732678859"
    assert [state for _n, state, _r, _t in finished.of("send_refund_task")] == [
        "RETRY",
        "SUCCESS",
    ]
    (first_at, first), (second_at, second) = sent
    assert first == second  # the same request: same out_refund_no, same amount
    assert first["out_refund_no"] == refund.out_refund_no
    assert first["amount"]["refund"] == to_fen(Decimal("7.80"))
    assert second_at - first_at >= 1.0  # the countdown was waited out
    assert Refund.objects.filter(order=order).count() == 1


def test_a_payout_batch_wechat_could_not_take_is_sent_again_with_its_number(
    celery_worker, settings, wechatpay_settings, merchant_key, platform_key, leader, operator,
    finance,
):  # fmt: skip
    settings.PAYOUT_PROVIDER = "wechat"
    settings.PAYOUT_RETRY_BASE_SECONDS = 1
    sent: list[tuple[float, dict]] = []

    def batches_api(request):
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        verify_merchant_signature(
            merchant_key, "POST", request.path_url, body, request.headers["Authorization"]
        )
        sent.append((time.monotonic(), json.loads(body)))
        if len(sent) == 1:
            return _signed(platform_key, 503, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
        return _signed(platform_key, 200, {"batch_id": "1030000071100999991182020050700019480001"})

    add_adjustment(
        leader=leader, amount="30.00", reason="测试入账", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    withdrawal = request_withdrawal(
        leader=leader, amount="30.00", method="wechat", account_name="王丽", openid="o-lily"
    )
    approve_withdrawal(withdrawal=withdrawal, actor=finance)
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        Finished() as finished,
    ):
        mock.add_callback(
            responses.POST, f"{DEFAULT_BASE_URL}/v3/transfer/batches", callback=batches_api
        )
        batch = create_payout_batch(withdrawals=[withdrawal], actor=finance)
        finished.wait_for(
            lambda: any(r[1] == "SUCCESS" for r in finished.of("send_payout_batch_task")),
            "the payout's retry",
        )

    batch = PayoutBatch.objects.get(pk=batch.pk)
    assert batch.provider_reference == "1030000071100999991182020050700019480001"
    assert [r[1] for r in finished.of("send_payout_batch_task")] == ["RETRY", "SUCCESS"]
    (first_at, first), (second_at, second) = sent
    assert first == second
    assert first["out_batch_no"] == batch.number
    assert second_at - first_at >= 1.0
