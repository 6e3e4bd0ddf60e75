# ruff: noqa: F811 - pytest fixtures imported from tests.wechatpay_fake
"""A payout batch's status, from WeChat's verified answers: created →
submitted (accepted) → succeeded | partial | failed, with WeChat's words in
`error`; a submitted batch is asked about by its batch number and settled
exactly once, even by two checks at the same moment.

WeChat's 商家转账 API is played by `responses` (tests/leaders/test_payouts.py
`FakeTransferApi` for the POST); every answer is signed with the local
platform key and goes through the provider's real verification.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from leaders.commission.models import (
    CommissionAccount,
    PayoutBatch,
    PayoutBatchStatus,
    Withdrawal,
    WithdrawalStatus,
)
from leaders.commission.payouts import WechatTransferProvider
from leaders.commission.services import (
    PayoutRetry,
    check_payout_batch,
    create_payout_batch,
    mark_withdrawal_paid,
)
from leaders.commission.tasks import check_payout_batch_task, check_submitted_payout_batches_task
from tests.orders.conftest import eager_celery  # noqa: F401 - autouse: tasks run in the caller
from tests.wechatpay_fake import (  # noqa: F401 - fixtures
    DEFAULT_BASE_URL,
    MCH_ID,
    merchant_key,
    platform_key,
    stranger_key,
    verify_merchant_signature,
    wechat_headers,
    wechatpay_settings,
)

from .test_payouts import BATCH_ID, FakeTransferApi, _approved

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

QUERY = re.compile(re.escape(f"{DEFAULT_BASE_URL}/v3/transfer/batches/out-batch-no/") + r".*")


class FakeQueryApi:
    """GET /v3/transfer/batches/out-batch-no/{no}: checks our signature and
    answers `answer(query)` (the same for every caller, threads included)."""

    def __init__(self, mock, merchant_key, platform_key):
        self.merchant_key = merchant_key
        self.key = platform_key
        self.asked: list[str] = []
        self.answer = None  # (status, payload) or a callable(path) -> (status, payload)
        self.lock = threading.Lock()
        mock.add_callback(responses.GET, QUERY, callback=self.callback)

    def callback(self, request):
        verify_merchant_signature(
            self.merchant_key, "GET", request.path_url, b"", request.headers["Authorization"]
        )
        with self.lock:
            self.asked.append(request.path_url)
        answer = self.answer(request.path_url) if callable(self.answer) else self.answer
        status, payload = answer
        content = json.dumps(payload).encode()
        return status, wechat_headers(self.key, content, timestamp=int(time.time())), content


def batch_answer(batch, status, details=(), **head):
    return {
        "transfer_batch": {
            "mchid": MCH_ID,
            "out_batch_no": batch.number,
            "batch_id": BATCH_ID,
            "batch_status": status,
            "total_num": batch.count,
            **head,
        },
        "transfer_detail_list": [
            {"detail_id": f"D-{number}", "out_detail_no": number, "detail_status": state}
            for number, state in details
        ],
    }


@pytest.fixture
def wechat(wechatpay_settings, merchant_key, platform_key):
    wechatpay_settings.PAYOUT_PROVIDER = "wechat"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api = FakeTransferApi(mock, merchant_key)
        api.query = FakeQueryApi(mock, merchant_key, platform_key)
        yield api


def _submitted(wechat, platform_key, leader, operator, finance, amounts=("30.00",)):
    withdrawals = [_approved(leader, operator, finance, amount=a) for a in amounts]
    # Sent after commit by its task (eager here: at once, or at the end of
    # the test's transaction, when send_payout_batch below has already sent it).
    wechat.accepts(platform_key, "the batch")
    batch = create_payout_batch(withdrawals=withdrawals, actor=finance)
    from leaders.commission.services import send_payout_batch

    batch = send_payout_batch(batch_id=batch.pk)
    assert batch.status == PayoutBatchStatus.SUBMITTED
    return batch, [Withdrawal.objects.get(pk=w.pk) for w in withdrawals]


def _account(leader):
    a = CommissionAccount.objects.get(leader=leader)
    return a.reserved, a.withdrawn


# --- the payout task sets the status ------------------------------------------------


def test_a_batch_is_created_then_submitted_when_wechat_accepts_it(
    wechat, platform_key, leader, operator, finance, django_capture_on_commit_callbacks, clock
):
    withdrawal = _approved(leader, operator, finance)
    with django_capture_on_commit_callbacks() as callbacks:
        batch = create_payout_batch(withdrawals=[withdrawal], actor=finance)
    assert (batch.status, batch.error, batch.submitted_at) == ("created", "", None)

    wechat.accepts(platform_key, batch.number)
    for callback in callbacks:
        callback()
    batch.refresh_from_db()
    assert (batch.status, batch.provider_reference, batch.error) == ("submitted", BATCH_ID, "")
    assert batch.submitted_at == timezone.now()  # the frozen clock


def test_a_refused_batch_is_failed_with_wechats_words_and_its_withdrawals_back_to_finance(
    wechat, platform_key, leader, operator, finance, django_capture_on_commit_callbacks
):
    withdrawal = _approved(leader, operator, finance)
    wechat.answers.append(
        (400, {"code": "PARAM_ERROR", "message": "openid与appid不匹配"}, platform_key)
    )
    with django_capture_on_commit_callbacks(execute=True):
        batch = create_payout_batch(withdrawals=[withdrawal], actor=finance)

    batch.refresh_from_db()
    withdrawal.refresh_from_db()
    assert (batch.status, batch.error, batch.provider_reference) == (
        "failed",
        "PARAM_ERROR: openid与appid不匹配",
        "",
    )
    assert batch.finished_at is not None
    assert (withdrawal.status, withdrawal.batch_id) == (WithdrawalStatus.APPROVED, None)
    assert _account(leader) == (Decimal("30.00"), Decimal("0.00"))  # still reserved for it
    # The failed batch is never sent again, nor asked about.
    from leaders.commission.services import send_payout_batch

    assert send_payout_batch(batch_id=batch.pk).status == "failed"
    assert check_payout_batch(batch_id=batch.pk).status == "failed"
    assert len(wechat.bodies) == 1
    assert wechat.query.asked == []


def test_a_busy_wechat_leaves_the_batch_created_with_the_error_until_it_accepts(
    wechat, platform_key, leader, operator, finance, django_capture_on_commit_callbacks
):
    from tuangou.celery import app

    withdrawal = _approved(leader, operator, finance)
    wechat.answers.append((500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"}, platform_key))
    app.conf.task_eager_propagates = False  # eager Celery retries in place only so
    with django_capture_on_commit_callbacks() as callbacks:
        batch = create_payout_batch(withdrawals=[withdrawal], actor=finance)
    wechat.answers.append((500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"}, platform_key))
    wechat.accepts(platform_key, batch.number)
    from leaders.commission.services import send_payout_batch

    with pytest.raises(PayoutRetry):
        send_payout_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.error) == ("created", "SYSTEM_ERROR: 系统繁忙")
    for callback in callbacks:
        callback()  # the task: busy once more, then accepted
    batch.refresh_from_db()
    assert (batch.status, batch.error, batch.provider_reference) == ("submitted", "", BATCH_ID)
    assert {b["out_batch_no"] for b in wechat.bodies} == {batch.number}


# --- asking WeChat by batch number --------------------------------------------------


def test_a_batch_still_paying_stays_submitted_and_records_when_it_was_asked(
    wechat, platform_key, leader, operator, finance, clock
):
    batch, [withdrawal] = _submitted(wechat, platform_key, leader, operator, finance)
    wechat.query.answer = (200, batch_answer(batch, "PROCESSING"))
    clock.shift(timedelta(hours=1))

    batch = check_payout_batch(batch_id=batch.pk)

    assert wechat.query.asked == [
        f"/v3/transfer/batches/out-batch-no/{batch.number}"
        "?need_query_detail=true&offset=0&limit=100&detail_status=ALL"
    ]
    assert (batch.status, batch.error, batch.finished_at) == ("submitted", "", None)
    assert batch.checked_at is not None and batch.checked_at > batch.submitted_at
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.batch_id) == ("approved", batch.pk)


def test_a_finished_batch_pays_what_arrived_and_gives_back_what_failed_exactly_once(
    wechat, platform_key, leader, operator, finance
):
    batch, [first, second] = _submitted(
        wechat, platform_key, leader, operator, finance, amounts=("30.00", "12.50")
    )
    assert _account(leader) == (Decimal("42.50"), Decimal("0.00"))
    wechat.query.answer = (
        200,
        batch_answer(batch, "FINISHED", [(first.number, "SUCCESS"), (second.number, "FAIL")]),
    )

    batch = check_payout_batch(batch_id=batch.pk)

    assert batch.status == PayoutBatchStatus.PARTIAL
    assert batch.error.startswith(f"FAIL: {second.number} FAIL")
    assert second.number in batch.error.split("—")[1]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.transfer_reference, first.batch_id) == (
        "paid",
        f"D-{first.number}",
        batch.pk,
    )
    assert first.paid_by == finance
    assert (second.status, second.batch_id) == ("approved", None)
    assert _account(leader) == (Decimal("12.50"), Decimal("30.00"))

    # Asked again (the beat, a double click): nothing is asked, nothing moves.
    asked = len(wechat.query.asked)
    assert check_payout_batch_task.delay(batch.pk).get() == "partial"
    assert len(wechat.query.asked) == asked
    assert _account(leader) == (Decimal("12.50"), Decimal("30.00"))
    # The failed one can go into a new batch.
    again = create_payout_batch(withdrawals=[second], actor=finance)
    assert again.count == 1


def test_a_batch_where_every_transfer_arrived_succeeds(
    wechat, platform_key, leader, operator, finance
):
    batch, [withdrawal] = _submitted(wechat, platform_key, leader, operator, finance)
    wechat.query.answer = (200, batch_answer(batch, "FINISHED", [(withdrawal.number, "SUCCESS")]))
    batch = check_payout_batch(batch_id=batch.pk)
    assert (batch.status, batch.error) == ("succeeded", "")
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert _account(leader) == (Decimal("0.00"), Decimal("30.00"))


def test_a_batch_closed_by_wechat_fails_and_every_withdrawal_goes_back_to_finance(
    wechat, platform_key, leader, operator, finance
):
    batch, withdrawals = _submitted(
        wechat, platform_key, leader, operator, finance, amounts=("30.00", "12.50")
    )
    wechat.query.answer = (200, batch_answer(batch, "CLOSED", close_reason="OVERDUE_CLOSE"))

    batch = check_payout_batch(batch_id=batch.pk)

    assert batch.status == "failed"
    assert batch.error.startswith("CLOSED: OVERDUE_CLOSE")
    assert all(w.number in batch.error for w in withdrawals)
    assert set(Withdrawal.objects.values_list("status", "batch")) == {("approved", None)}
    assert _account(leader) == (Decimal("42.50"), Decimal("0.00"))


def test_a_forged_or_failed_answer_settles_nothing(
    wechat, platform_key, stranger_key, leader, operator, finance
):
    batch, [withdrawal] = _submitted(wechat, platform_key, leader, operator, finance)
    wechat.query.key = stranger_key  # "closed", but not signed by WeChat
    wechat.query.answer = (200, batch_answer(batch, "CLOSED", close_reason="OVERDUE_CLOSE"))
    with pytest.raises(PayoutRetry):
        check_payout_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "submitted"
    assert batch.error.startswith("BAD_RESPONSE_SIGNATURE")

    wechat.query.key = platform_key
    wechat.query.answer = (404, {"code": "NOT_FOUND", "message": "记录不存在"})
    batch = check_payout_batch(batch_id=batch.pk)  # not retryable: finance looks at it
    assert (batch.status, batch.error) == ("submitted", "NOT_FOUND: 记录不存在")
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.batch_id) == ("approved", batch.pk)


def test_a_big_batch_is_read_page_by_page(
    wechat, platform_key, leader, operator, finance, monkeypatch
):
    monkeypatch.setattr(WechatTransferProvider, "PAGE", 2)
    batch, withdrawals = _submitted(
        wechat, platform_key, leader, operator, finance, amounts=("10.00", "11.00", "12.00")
    )
    details = [(w.number, "SUCCESS") for w in withdrawals]

    def pages(path):
        offset = int(re.search(r"offset=(\d+)", path).group(1))
        return 200, batch_answer(batch, "FINISHED", details[offset : offset + 2])

    wechat.query.answer = pages
    batch = check_payout_batch(batch_id=batch.pk)
    assert [re.search(r"offset=(\d+)&limit=(\d+)", p).groups() for p in wechat.query.asked] == [
        ("0", "2"),
        ("2", "2"),
    ]
    assert batch.status == "succeeded"
    assert set(Withdrawal.objects.values_list("status", flat=True)) == {"paid"}


def test_the_hourly_sweep_asks_about_every_submitted_wechat_batch_only(
    wechat, platform_key, leader, operator, finance
):
    batch, [withdrawal] = _submitted(wechat, platform_key, leader, operator, finance)
    PayoutBatch.objects.create(number="PO-BANK-1", provider="bank_csv", status="submitted")
    wechat.query.answer = (200, batch_answer(batch, "FINISHED", [(withdrawal.number, "SUCCESS")]))
    assert check_submitted_payout_batches_task.delay().get() == 1
    assert PayoutBatch.objects.get(pk=batch.pk).status == "succeeded"
    assert check_submitted_payout_batches_task.delay().get() == 0
    assert len(wechat.query.asked) == 1


def test_a_bank_file_batch_succeeds_once_finance_marked_every_withdrawal_paid(
    leader, operator, finance, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_PROVIDER = "bank_csv"
    first = _approved(leader, operator, finance, method="bank")
    second = _approved(leader, operator, finance, amount="15.00", method="bank")
    with django_capture_on_commit_callbacks(execute=True):
        batch = create_payout_batch(withdrawals=[first, second], actor=finance)
    batch.refresh_from_db()
    assert batch.status == "submitted"
    mark_withdrawal_paid(withdrawal=first, actor=finance, reference="CMB-1")
    assert check_payout_batch(batch_id=batch.pk).status == "submitted"
    mark_withdrawal_paid(withdrawal=second, actor=finance, reference="CMB-2")
    assert check_payout_batch(batch_id=batch.pk).status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_pay_each_withdrawal_once(
    wechat, platform_key, leader, operator, finance
):
    batch, withdrawals = _submitted(
        wechat, platform_key, leader, operator, finance, amounts=("30.00", "12.50")
    )
    wechat.query.answer = (
        200,
        batch_answer(
            batch,
            "FINISHED",
            [(withdrawals[0].number, "SUCCESS"), (withdrawals[1].number, "FAIL")],
        ),
    )
    barrier = threading.Barrier(2)
    results, errors = [], []

    def check():
        try:
            barrier.wait(timeout=10)
            results.append(check_payout_batch(batch_id=batch.pk).status)
        except Exception as exc:  # pragma: no cover - shown by the assert
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert results == ["partial", "partial"]
    assert _account(leader) == (Decimal("12.50"), Decimal("30.00"))  # paid once, given back once
    paid = Withdrawal.objects.get(pk=withdrawals[0].pk)
    assert paid.status == "paid"
    from leaders.models import WithdrawalEvent  # the audited history: one move to paid

    assert WithdrawalEvent.objects.filter(pgh_obj=paid, status="paid").count() == 1


# --- admin ------------------------------------------------------------------------


def test_finance_lists_batches_by_status_searches_them_and_asks_wechat(
    client, wechat, platform_key, leader, operator, finance
):
    batch, [withdrawal] = _submitted(wechat, platform_key, leader, operator, finance)
    PayoutBatch.objects.create(
        number="PO-OLD-1", provider="wechat", status="failed", error="PARAM_ERROR: 批次不合法"
    )
    client.force_login(finance)
    url = reverse("admin:leaders_payoutbatch_changelist")

    page = client.get(url, {"status__exact": "failed"}).content.decode()
    assert "PO-OLD-1" in page and "PARAM_ERROR: 批次不合法" in page
    assert batch.number not in page
    page = client.get(url, {"q": withdrawal.number}).content.decode()
    assert batch.number in page and "PO-OLD-1" not in page

    wechat.query.answer = (200, batch_answer(batch, "FINISHED", [(withdrawal.number, "SUCCESS")]))
    response = client.post(
        url,
        {"action": "check_with_provider", "_selected_action": [batch.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert PayoutBatch.objects.get(pk=batch.pk).status == "succeeded"
    assert len(wechat.query.asked) == 1


def test_an_operator_cannot_ask_wechat_about_a_batch(
    client, wechat, platform_key, leader, operator, finance
):
    batch, _ = _submitted(wechat, platform_key, leader, operator, finance)
    client.force_login(operator)
    url = reverse("admin:leaders_payoutbatch_changelist")
    client.post(url, {"action": "check_with_provider", "_selected_action": [batch.pk]})
    assert PayoutBatch.objects.get(pk=batch.pk).status == "submitted"
    assert wechat.query.asked == []


def test_the_migration_gives_batches_made_before_statuses_theirs(
    wechat, platform_key, leader, operator, finance
):
    """leaders/migrations/0007: accepted → submitted; refused (it kept no
    withdrawals) → failed; waiting to be sent → created."""
    import importlib

    from django.apps import apps as django_apps

    accepted = PayoutBatch.objects.create(number="PO-A", provider="wechat", provider_reference="X1")
    refused = PayoutBatch.objects.create(number="PO-R", provider="wechat")
    # Its task runs after commit, which this test's transaction never reaches.
    waiting = create_payout_batch(withdrawals=[_approved(leader, operator, finance)], actor=finance)

    migration = importlib.import_module("leaders.migrations.0007_payout_batch_status")
    migration.statuses_of_existing_batches(django_apps, None)

    statuses = dict(PayoutBatch.objects.values_list("number", "status"))
    assert statuses == {
        accepted.number: "submitted",
        refused.number: "failed",
        waiting.number: "created",
    }
    assert PayoutBatch.objects.get(pk=refused.pk).error.startswith("refused")


def test_the_finance_page_shows_each_batchs_status_and_error(client, finance):
    PayoutBatch.objects.create(
        number="PO-F-1", provider="wechat", status="failed", error="PARAM_ERROR: 批次不合法"
    )
    PayoutBatch.objects.create(number="PO-S-1", provider="wechat", status="submitted")
    client.force_login(finance)
    page = client.get(reverse("leaders:finance_withdrawals")).content.decode()
    assert re.search(
        r'data-status="failed">被拒绝/已关闭<br><small[^>]*>PARAM_ERROR: 批次不合法<', page
    )
    assert 'data-status="submitted">已受理，付款中</td>' in page


def test_a_finished_answer_that_misses_one_of_ours_settles_nothing(
    wechat, platform_key, leader, operator, finance
):
    batch, [first, second] = _submitted(
        wechat, platform_key, leader, operator, finance, amounts=("30.00", "12.50")
    )
    wechat.query.answer = (200, batch_answer(batch, "FINISHED", [(first.number, "SUCCESS")]))
    batch = check_payout_batch(batch_id=batch.pk)
    assert (batch.status, batch.error) == ("submitted", f"FINISHED without {second.number}")
    assert set(Withdrawal.objects.values_list("status", flat=True)) == {"approved"}
    assert _account(leader) == (Decimal("42.50"), Decimal("0.00"))
