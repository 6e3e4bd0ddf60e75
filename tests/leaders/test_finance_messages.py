# ruff: noqa: F811 - the clock fixture imported from tests.catalog.conftest
"""After a finance action the message says what changed: which withdrawal,
how much, and what happens next (not only "提现 WD… 已更新")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leaders.commission.models import WithdrawalStatus
from leaders.commission.services import add_adjustment, request_withdrawal, settle_commissions
from tests.catalog.conftest import clock  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(clock, leader, operator):
    add_adjustment(
        leader=leader, amount="200.00", reason="奖励", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    return request_withdrawal(
        leader=leader,
        amount="120.00",
        method="bank",
        account_name="王丽",
        bank_name="长沙银行",
        account_number="6214000011112222",
    )


def _act(client, withdrawal, action, **data):
    """Post a finance action; the messages the withdrawals page then shows."""
    url = reverse("leaders:finance_withdrawal_action", args=[withdrawal.number, action])
    response = client.post(url, {"back": "requested", **data}, follow=True)
    assert response.redirect_chain[0][1] == 302
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_approving_says_the_amount_and_that_it_waits_to_be_paid(client, waiting, finance):
    client.force_login(finance)
    assert _act(client, waiting, "approve") == [
        ("success", f"已通过提现 {waiting.number}（¥120.00），待打款。")
    ]


def test_a_second_approve_says_what_state_it_is_already_in(client, waiting, finance):
    client.force_login(finance)
    _act(client, waiting, "approve")
    assert _act(client, waiting, "approve") == [
        ("warning", f"提现 {waiting.number} 已是“已通过”状态，未做任何更改。")
    ]
    waiting.refresh_from_db()
    assert waiting.status == WithdrawalStatus.APPROVED


def test_rejecting_says_the_money_went_back_to_the_leader(client, waiting, finance, leader):
    client.force_login(finance)
    assert _act(client, waiting, "reject", reason="户名不符") == [
        ("success", f"已驳回提现 {waiting.number}，¥120.00 已退回王丽的可提现余额。")
    ]


def test_marking_paid_repeats_the_transfer_reference(client, waiting, finance):
    client.force_login(finance)
    _act(client, waiting, "approve")
    assert _act(client, waiting, "paid", reference=" CSYH-42 ") == [
        ("success", f"提现 {waiting.number}（¥120.00）已标记为已打款，转账流水号 CSYH-42。")
    ]


def test_a_refused_action_says_why_and_changes_nothing(client, waiting, finance):
    client.force_login(finance)
    assert _act(client, waiting, "reject", reason="  ") == [("error", "请填写驳回原因。")]
    waiting.refresh_from_db()
    assert waiting.status == WithdrawalStatus.REQUESTED
