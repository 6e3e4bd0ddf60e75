"""Withdrawals: reserved at once with a conditional update (20 at once never
overspend), finance moves each exactly once, payout batches and bank files."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from leaders.commission.models import (
    CommissionAccount,
    PayoutBatch,
    Withdrawal,
    WithdrawalStatus,
)
from leaders.commission.payouts import bank_csv
from leaders.commission.selectors import ledger_balance
from leaders.commission.services import (
    CommissionError,
    add_adjustment,
    approve_withdrawal,
    create_payout_batch,
    mark_withdrawal_paid,
    reject_withdrawal,
    request_withdrawal,
    settle_commissions,
)

# Balances are settled and numbers stamped at "now": on the suite's clock.
pytestmark = pytest.mark.usefixtures("clock")


def _fund(leader, amount, approver):
    add_adjustment(
        leader=leader, amount=amount, reason="测试入账", entered_by=approver, approved_by=approver
    )
    settle_commissions()


def _ask(leader, amount, method="bank", **kwargs):
    defaults = {
        "account_name": "王丽",
        "bank_name": "长沙银行",
        "account_number": "6214000011112222",
    }
    if method == "wechat":
        defaults = {"account_name": "王丽", "openid": "o-lily-openid"}
    return request_withdrawal(leader=leader, amount=amount, method=method, **{**defaults, **kwargs})


def _available(leader) -> Decimal:
    return CommissionAccount.objects.get(leader=leader).available


@pytest.mark.django_db
class TestRequest:
    def test_it_reserves_the_amount_at_once(self, leader, operator):
        _fund(leader, "100.00", operator)
        withdrawal = _ask(leader, "60.00")
        assert (withdrawal.status, withdrawal.amount) == (
            WithdrawalStatus.REQUESTED,
            Decimal("60.00"),
        )
        assert withdrawal.number.startswith("WD")
        assert _available(leader) == Decimal("40.00")
        assert ledger_balance(leader=leader)["available"] == Decimal("40.00")

    @pytest.mark.parametrize(
        ("amount", "message"),
        [
            ("9.99", "10.00"),
            ("100.01", "100.00"),
            ("12.345", "50.00"),
            ("abc", "50.00"),
        ],
    )
    def test_too_little_too_much_or_not_money_writes_nothing(
        self, leader, operator, amount, message
    ):
        _fund(leader, "100.00", operator)
        with pytest.raises(CommissionError) as exc:
            _ask(leader, amount)
        assert message in exc.value.message
        assert not Withdrawal.objects.exists()
        assert _available(leader) == Decimal("100.00")

    def test_bank_details_are_required_for_a_bank_transfer(self, leader, operator):
        _fund(leader, "100.00", operator)
        with pytest.raises(CommissionError):
            _ask(leader, "20.00", account_number="")
        assert not Withdrawal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_requests_at_once_never_spend_more_than_the_balance(leader, operator):
    _fund(leader, "100.00", operator)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def ask():
        try:
            barrier.wait()
            _ask(leader, "15.00")
            outcomes.append("ok")
        except CommissionError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count("ok") == 6  # 6 × 15.00 = 90.00 ≤ 100.00 < 7 × 15.00
    assert outcomes.count("refused") == 14
    account = CommissionAccount.objects.get(leader=leader)
    assert (account.reserved, account.available) == (Decimal("90.00"), Decimal("10.00"))
    assert ledger_balance(leader=leader)["reserved"] == Decimal("90.00")
    assert Withdrawal.objects.count() == 6


@pytest.mark.django_db
class TestFinanceMoves:
    def test_a_double_click_approves_once(self, leader, operator, finance):
        _fund(leader, "50.00", operator)
        withdrawal = _ask(leader, "30.00")
        assert approve_withdrawal(withdrawal=withdrawal, actor=finance) is True
        assert approve_withdrawal(withdrawal=withdrawal, actor=finance) is False
        withdrawal.refresh_from_db()
        assert (withdrawal.status, withdrawal.decided_by) == (WithdrawalStatus.APPROVED, finance)

    def test_an_operator_without_the_finance_role_cannot_approve_or_pay(self, leader, operator):
        _fund(leader, "50.00", operator)
        withdrawal = _ask(leader, "30.00")
        with pytest.raises(PermissionDenied):
            approve_withdrawal(withdrawal=withdrawal, actor=operator)
        with pytest.raises(PermissionDenied):
            mark_withdrawal_paid(withdrawal=withdrawal, actor=operator, reference="X")
        withdrawal.refresh_from_db()
        assert withdrawal.status == WithdrawalStatus.REQUESTED

    def test_a_rejection_gives_the_money_back_once(self, leader, operator, finance):
        _fund(leader, "50.00", operator)
        withdrawal = _ask(leader, "30.00")
        assert reject_withdrawal(withdrawal=withdrawal, actor=finance, reason="户名不符") is True
        assert reject_withdrawal(withdrawal=withdrawal, actor=finance, reason="户名不符") is False
        assert _available(leader) == Decimal("50.00")
        assert CommissionAccount.objects.get(leader=leader).reserved == Decimal("0.00")

    def test_paid_needs_a_reference_and_moves_the_money_to_withdrawn_once(
        self, leader, operator, finance
    ):
        _fund(leader, "50.00", operator)
        withdrawal = _ask(leader, "30.00")
        assert mark_withdrawal_paid(withdrawal=withdrawal, actor=finance, reference="B1") is False
        approve_withdrawal(withdrawal=withdrawal, actor=finance)
        with pytest.raises(CommissionError):
            mark_withdrawal_paid(withdrawal=withdrawal, actor=finance, reference=" ")
        assert (
            mark_withdrawal_paid(withdrawal=withdrawal, actor=finance, reference="CMB-778") is True
        )
        assert (
            mark_withdrawal_paid(withdrawal=withdrawal, actor=finance, reference="CMB-778") is False
        )
        assert reject_withdrawal(withdrawal=withdrawal, actor=finance, reason="晚了") is False
        account = CommissionAccount.objects.get(leader=leader)
        assert (account.reserved, account.withdrawn, account.available) == (
            Decimal("0.00"),
            Decimal("30.00"),
            Decimal("20.00"),
        )
        assert ledger_balance(leader=leader) == {
            "settled": Decimal("50.00"),
            "reserved": Decimal("0.00"),
            "withdrawn": Decimal("30.00"),
            "available": Decimal("20.00"),
        }


@pytest.mark.django_db
class TestPayouts:
    def test_a_bank_batch_has_a_unique_number_and_a_csv_row_per_withdrawal(
        self, leader, other_leader, operator, finance
    ):
        _fund(leader, "50.00", operator)
        _fund(other_leader, "80.00", operator)
        first = _ask(leader, "30.00")
        second = _ask(other_leader, "80.00", account_name="周明", account_number="6228480000000001")
        unapproved = _ask(leader, "20.00")
        for w in (first, second):
            approve_withdrawal(withdrawal=w, actor=finance)

        batch = create_payout_batch(withdrawals=[first, second, unapproved], actor=finance)
        unapproved.refresh_from_db()
        assert unapproved.batch is None  # only approved withdrawals go into a batch
        # A second batch in the same second (the clock stands still): its own number.
        approve_withdrawal(withdrawal=unapproved, actor=finance)
        again = create_payout_batch(withdrawals=[unapproved], actor=finance)

        numbers = list(PayoutBatch.objects.order_by("pk").values_list("number", flat=True))
        assert numbers == [batch.number, again.number]
        assert batch.number != again.number
        # PO, the Shanghai time it was made, six random digits.
        assert all(re.fullmatch(r"PO20261125150000\d{6}", n) for n in numbers), numbers
        assert (batch.count, batch.total, batch.provider) == (2, Decimal("110.00"), "bank_csv")
        rows = bank_csv(batch=batch).lstrip("\ufeff").splitlines()
        assert rows[1:] == [
            f"{batch.number},{first.number},王丽,长沙银行,6214000011112222,30.00,团长佣金提现",
            f"{batch.number},{second.number},周明,长沙银行,6228480000000001,80.00,团长佣金提现",
        ]
        assert [w.number for w in again.withdrawals.all()] == [unapproved.number]
        with pytest.raises(CommissionError):
            create_payout_batch(withdrawals=[first], actor=finance)  # already in a batch

    def test_an_operator_cannot_make_a_payout_batch(self, leader, operator, finance):
        _fund(leader, "50.00", operator)
        w = _ask(leader, "30.00")
        approve_withdrawal(withdrawal=w, actor=finance)
        with pytest.raises(PermissionDenied):
            create_payout_batch(withdrawals=[w], actor=operator)
        assert not PayoutBatch.objects.exists()

    # The WeChat transfer batch (signed requests, verified answers, retries
    # with the batch number) is tested in tests/leaders/test_payouts.py.
