# ruff: noqa: F811 - pytest fixtures imported from tests.wechatpay_fake
"""Payouts: each batch is sent by its own task to the configured provider,
retried with its batch number (WeChat's out_batch_no) and never paid twice.

WeChat's 商家转账 API is played by `responses`: each request's merchant
signature is checked as WeChat checks it, and each answer is signed with a
locally made platform key and verified by the provider's real code.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import requests
import responses

from leaders.commission.models import PayoutBatch, Withdrawal, WithdrawalStatus
from leaders.commission.payouts import WechatTransferProvider, get_payout_provider
from leaders.commission.services import (
    CommissionError,
    add_adjustment,
    approve_withdrawal,
    create_payout_batch,
    request_withdrawal,
    settle_commissions,
)
from leaders.commission.tasks import send_payout_batch_task
from tests.orders.conftest import eager_celery  # noqa: F401 - autouse: tasks run in the caller
from tests.wechatpay_fake import (  # noqa: F401 - fixtures
    APP_ID,
    DEFAULT_BASE_URL,
    MCH_ID,
    merchant_key,
    platform_key,
    stranger_key,
    verify_merchant_signature,
    wechat_headers,
    wechatpay_settings,
)
from tuangou.celery import app

# Balances are settled and numbers stamped at "now": on the suite's clock.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

BATCHES = f"{DEFAULT_BASE_URL}/v3/transfer/batches"
BATCH_ID = "1030000071100999991182020050700019480001"


class FakeTransferApi:
    """POST /v3/transfer/batches: checks our signature, answers in turn."""

    def __init__(self, mock, merchant_key):
        self.mock = mock
        self.merchant_key = merchant_key
        self.bodies: list[dict] = []
        self.answers: list = []  # (status, payload, signing key) or an exception
        mock.add_callback(responses.POST, BATCHES, callback=self.callback)

    def callback(self, request):
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        fields = verify_merchant_signature(
            self.merchant_key,
            "POST",
            "/v3/transfer/batches",
            body,
            request.headers["Authorization"],
        )
        assert fields["mchid"] == MCH_ID
        self.bodies.append(json.loads(body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, payload, key = answer
        content = json.dumps(payload).encode()
        headers = wechat_headers(key, content, timestamp=int(time.time())) if key else {}
        return status, headers, content

    def accepts(self, key, batch_number):
        self.answers.append(
            (200, {"out_batch_no": batch_number, "batch_id": BATCH_ID, "create_time": "x"}, key)
        )


@pytest.fixture
def wechat_payouts(wechatpay_settings, merchant_key):
    wechatpay_settings.PAYOUT_PROVIDER = "wechat"
    assert isinstance(get_payout_provider(), WechatTransferProvider)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeTransferApi(mock, merchant_key)


def _approved(leader, operator, finance, amount="30.00", method="wechat") -> Withdrawal:
    add_adjustment(
        leader=leader, amount=amount, reason="测试入账", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    details = (
        {"account_name": "王丽", "openid": "o-lily-openid"}
        if method == "wechat"
        else {"account_name": "王丽", "bank_name": "长沙银行", "account_number": "6214000011112222"}
    )
    withdrawal = request_withdrawal(leader=leader, amount=amount, method=method, **details)
    approve_withdrawal(withdrawal=withdrawal, actor=finance)
    return withdrawal


def test_a_wechat_batch_is_sent_by_its_own_task_after_commit_and_the_signed_answer_is_believed(
    wechat_payouts, platform_key, leader, operator, finance, django_capture_on_commit_callbacks
):
    withdrawal = _approved(leader, operator, finance)

    with django_capture_on_commit_callbacks() as callbacks:
        batch = create_payout_batch(withdrawals=[withdrawal], actor=finance)
    assert wechat_payouts.bodies == []  # nothing sent inside the transaction
    wechat_payouts.accepts(platform_key, batch.number)
    for callback in callbacks:
        callback()

    assert wechat_payouts.bodies == [
        {
            "appid": APP_ID,
            "out_batch_no": batch.number,
            "batch_name": "团长佣金",
            "batch_remark": f"团长佣金提现 {batch.number}",
            "total_amount": 3000,
            "total_num": 1,
            "transfer_detail_list": [
                {
                    "out_detail_no": withdrawal.number,
                    "transfer_amount": 3000,
                    "transfer_remark": "团长佣金",
                    "openid": "o-lily-openid",
                }
            ],
        }
    ]
    batch.refresh_from_db()
    assert (batch.provider, batch.provider_reference, batch.count, batch.total) == (
        "wechat",
        BATCH_ID,
        1,
        Decimal("30.00"),
    )
    withdrawal.refresh_from_db()
    # WeChat pays asynchronously: finance marks it paid with WeChat's detail id.
    assert (withdrawal.status, withdrawal.batch_id) == (WithdrawalStatus.APPROVED, batch.pk)

    # The task delivered again sends nothing: the batch was accepted.
    assert send_payout_batch_task.delay(batch.pk).get() == BATCH_ID
    assert len(wechat_payouts.bodies) == 1


def test_a_failed_or_forged_answer_is_retried_with_the_same_batch_number(
    wechat_payouts,
    platform_key,
    stranger_key,
    leader,
    operator,
    finance,
    django_capture_on_commit_callbacks,
):
    """WeChat busy, then the network drops, then an answer WeChat did not
    sign: each time the same batch goes again (eager Celery runs the retries
    at once; tests/orders/test_worker_deadlines.py waits out real ones)."""
    first = _approved(leader, operator, finance, amount="30.00")
    second = _approved(leader, operator, finance, amount="12.50")
    wechat_payouts.answers += [
        (500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"}, platform_key),
        requests.ConnectionError("connection reset"),
        (200, {"batch_id": "forged"}, stranger_key),
    ]

    with django_capture_on_commit_callbacks() as callbacks:
        batch = create_payout_batch(withdrawals=[second, first], actor=finance)
    wechat_payouts.accepts(platform_key, batch.number)
    # Eager Celery retries in place only when it does not propagate errors.
    app.conf.task_eager_propagates = False
    for callback in callbacks:
        callback()

    assert len(wechat_payouts.bodies) == 4
    assert all(body == wechat_payouts.bodies[0] for body in wechat_payouts.bodies)
    assert wechat_payouts.bodies[0]["out_batch_no"] == batch.number
    assert [d["out_detail_no"] for d in wechat_payouts.bodies[0]["transfer_detail_list"]] == [
        first.number,
        second.number,
    ]
    batch.refresh_from_db()
    assert batch.provider_reference == BATCH_ID
    assert set(batch.withdrawals.values_list("status", flat=True)) == {WithdrawalStatus.APPROVED}


def test_a_batch_refused_for_good_gives_its_withdrawals_back_to_finance(
    wechat_payouts, platform_key, leader, operator, finance, django_capture_on_commit_callbacks
):
    withdrawal = _approved(leader, operator, finance)
    wechat_payouts.answers.append(
        (400, {"code": "PARAM_ERROR", "message": "openid与appid不匹配"}, platform_key)
    )

    with django_capture_on_commit_callbacks(execute=True):
        batch = create_payout_batch(withdrawals=[withdrawal], actor=finance)

    assert len(wechat_payouts.bodies) == 1  # not retried: WeChat said no
    batch.refresh_from_db()
    withdrawal.refresh_from_db()
    assert batch.provider_reference == ""
    assert (withdrawal.status, withdrawal.batch_id) == (WithdrawalStatus.APPROVED, None)
    # Finance can put it into a new batch (a new number) or reject it.
    wechat_payouts.answers.append((200, {"batch_id": BATCH_ID}, platform_key))  # accepted this time
    with django_capture_on_commit_callbacks(execute=True):
        again = create_payout_batch(withdrawals=[withdrawal], actor=finance)
    assert again.number != batch.number
    assert [b["out_batch_no"] for b in wechat_payouts.bodies] == [batch.number, again.number]
    assert PayoutBatch.objects.get(pk=again.pk).provider_reference == BATCH_ID


def test_a_wechat_batch_takes_only_wechat_withdrawals(wechat_payouts, leader, operator, finance):
    withdrawal = _approved(leader, operator, finance, method="bank")
    with pytest.raises(CommissionError):
        create_payout_batch(withdrawals=[withdrawal], actor=finance)
    assert not PayoutBatch.objects.exists()
    assert wechat_payouts.bodies == []


def test_a_bank_file_batch_is_ready_for_finance_when_its_task_ran(
    leader, operator, finance, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_PROVIDER = "bank_csv"
    withdrawal = _approved(leader, operator, finance, method="bank")
    with django_capture_on_commit_callbacks(execute=True):
        batch = create_payout_batch(withdrawals=[withdrawal], actor=finance)
    batch.refresh_from_db()
    assert (batch.provider, batch.provider_reference) == ("bank_csv", batch.number)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.batch_id) == (WithdrawalStatus.APPROVED, batch.pk)
