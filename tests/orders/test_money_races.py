"""Money steps said to happen exactly once, started together on real PostgreSQL:
two refunds of the same order, a double approve and a double mark-paid of a
withdrawal, a double approval of an after-sale claim (and one racing an
operator's refund of the same units).

Each round starts its threads on one threading.Barrier; every thread closes
its own connection. A deadlock or a lost update would show as an error, a
second refund, or money counted twice.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum

from catalog.models import StockLedger, StockRecord
from leaders.commission.models import CommissionAccount, CommissionEntry, EntryKind, Withdrawal
from leaders.commission.selectors import ledger_balance
from leaders.commission.services import (
    add_adjustment,
    approve_withdrawal,
    mark_withdrawal_paid,
    request_withdrawal,
    settle_commissions,
)
from orders.models import (
    AfterSaleClaim,
    ClaimStatus,
    Notice,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    RefundReason,
    RefundStatus,
)
from orders.payments import sandbox
from orders.services.checkout import CheckoutError, Want, place_order
from orders.services.claims import ClaimError, approve_claim, submit_claim
from orders.services.payments import handle_payment_notification, start_payment
from orders.services.refunds import refund_lines
from tests.leaders.money import TOMORROW_10, deliver, hand_out_all
from tuangou.money import to_fen

from .conftest import NOON_ISH, TOMORROW

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 4


def together(*calls):
    """Start the calls at the same instant, each in its own thread and
    connection; return each one's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:  # the outcome under test, returned for asserts
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def paid_order(shopper, point, *wants):
    """Placed and paid through the sandbox's signed notification (so the
    sandbox, like WeChat, knows the trade is paid and accepts its refunds)."""
    order = place_order(
        user=shopper, wants=[Want(sku.pk, qty) for sku, qty in wants], pickup_point=point
    )
    payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    assert handle_payment_notification(headers=headers, body=body).ok
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    return order


def _errors(results) -> list[Exception]:
    return [r for r in results if isinstance(r, Exception)]


def _stock_matches_ledger(sku, point) -> bool:
    record = StockRecord.objects.get(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW)
    ledger = StockLedger.objects.filter(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).aggregate(s=Sum("delta"))["s"]
    return ledger == record.quantity


# --- refunds --------------------------------------------------------------------------


def test_two_refunds_of_the_same_units_at_once_refund_them_once(shopper, point, egg_sku, operator):
    """3 eggs; two operators each refund 2 at the same moment: one refund of
    2, the other told only 1 is left."""
    with time_machine.travel(NOON_ISH, tick=True):
        for _round in range(ROUNDS):
            order = paid_order(shopper, point, (egg_sku, 3))
            line = order.lines.get()

            def refund_two(order=order, line=line):
                return refund_lines(
                    order=order, quantities={line.pk: 2}, reason=RefundReason.OPERATOR,
                    actor=operator,
                )  # fmt: skip

            results = together(refund_two, refund_two)

            [error] = _errors(results)
            assert isinstance(error, CheckoutError)
            assert "1" in error.message  # "Only 1 of 土鸡蛋 can still be refunded."
            [refund] = [r for r in results if isinstance(r, Refund)]
            line.refresh_from_db()
            order.refresh_from_db()
            assert (line.refunded_quantity, line.refunded_amount) == (2, Decimal("25.60"))
            assert order.refunded_amount == Decimal("25.60")
            assert list(
                Refund.objects.filter(order=order).values_list("pk", "amount", "status")
            ) == [(refund.pk, Decimal("25.60"), RefundStatus.SUCCEEDED)]
            assert RefundLine.objects.filter(order_line=line).count() == 1
            reversals = CommissionEntry.objects.filter(order_line=line, kind=EntryKind.REVERSAL)
            assert list(reversals.values_list("amount", flat=True)) == [Decimal("-2.56")]
    assert _stock_matches_ledger(egg_sku, point)


def test_two_refunds_of_different_units_at_once_both_go_through_with_their_own_numbers(
    shopper, point, egg_sku, operator
):
    with time_machine.travel(NOON_ISH, tick=True):
        for _round in range(ROUNDS):
            order = paid_order(shopper, point, (egg_sku, 3))
            line = order.lines.get()

            def refund_one(order=order, line=line):
                return refund_lines(
                    order=order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR,
                    actor=operator,
                )  # fmt: skip

            results = together(refund_one, refund_one)

            assert _errors(results) == []
            refunds = Refund.objects.filter(order=order).order_by("out_refund_no")
            assert [(r.out_refund_no, r.amount, r.status) for r in refunds] == [
                (f"{order.number}-R1", Decimal("12.80"), RefundStatus.SUCCEEDED),
                (f"{order.number}-R2", Decimal("12.80"), RefundStatus.SUCCEEDED),
            ]
            line.refresh_from_db()
            assert (line.refunded_quantity, line.refunded_amount) == (2, Decimal("25.60"))
            reversals = CommissionEntry.objects.filter(order_line=line, kind=EntryKind.REVERSAL)
            assert sorted(reversals.values_list("amount", flat=True)) == [
                Decimal("-1.28"),
                Decimal("-1.28"),
            ]
    assert _stock_matches_ledger(egg_sku, point)


# --- withdrawals ----------------------------------------------------------------------


def _funded_withdrawal(leader, operator, amount="30.00") -> Withdrawal:
    add_adjustment(
        leader=leader, amount=amount, reason="测试入账", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    return request_withdrawal(
        leader=leader,
        amount=amount,
        method="bank",
        account_name="王丽",
        bank_name="长沙银行",
        account_number="6214000011112222",
    )


def test_a_double_approve_of_a_withdrawal_at_once_approves_it_once(leader, operator, finance):
    for _round in range(ROUNDS):
        with time_machine.travel(NOON_ISH, tick=True):
            withdrawal = _funded_withdrawal(leader, operator)

            def approve(withdrawal=withdrawal):
                return approve_withdrawal(withdrawal=withdrawal, actor=finance)

            results = together(approve, approve)

        assert sorted(results) == [False, True]
        withdrawal.refresh_from_db()
        assert (withdrawal.status, withdrawal.decided_by) == ("approved", finance)
    account = CommissionAccount.objects.get(leader=leader)
    assert (account.settled, account.reserved, account.withdrawn) == (
        Decimal("120.00"),
        Decimal("120.00"),
        Decimal("0.00"),
    )


def test_a_double_mark_paid_of_a_withdrawal_at_once_pays_it_out_once(leader, operator, finance):
    for number in range(ROUNDS):
        with time_machine.travel(NOON_ISH, tick=True):
            withdrawal = _funded_withdrawal(leader, operator)
            approve_withdrawal(withdrawal=withdrawal, actor=finance)

            def pay(reference, withdrawal=withdrawal):
                return lambda: mark_withdrawal_paid(
                    withdrawal=withdrawal, actor=finance, reference=reference
                )

            results = together(pay(f"CMB-{number}-A"), pay(f"CMB-{number}-B"))

        assert sorted(results) == [False, True]
        withdrawal.refresh_from_db()
        winner = "A" if results[0] is True else "B"
        assert (withdrawal.status, withdrawal.transfer_reference) == (
            "paid",
            f"CMB-{number}-{winner}",
        )
    account = CommissionAccount.objects.get(leader=leader)
    assert (account.reserved, account.withdrawn, account.available) == (
        Decimal("0.00"),
        Decimal("120.00"),
        Decimal("0.00"),
    )
    assert ledger_balance(leader=leader)["withdrawn"] == Decimal("120.00")


# --- after-sale claims ----------------------------------------------------------------


def _claimed_order(shopper, point, egg_sku, leader_user):
    """3 eggs handed out on 26 Nov, 2 of them claimed an hour later."""
    with time_machine.travel(NOON_ISH, tick=True):
        order = paid_order(shopper, point, (egg_sku, 3))
    with time_machine.travel(TOMORROW_10, tick=True):
        deliver(point, leader_user, TOMORROW)
        hand_out_all(point, leader_user, order)
    order.refresh_from_db()
    with time_machine.travel(TOMORROW_10 + timedelta(hours=1), tick=True):
        claim = submit_claim(
            order=order, user=shopper, reason="两个蛋碎了", quantities={order.lines.get().pk: 2}
        )
    return order, claim


def test_a_double_approval_of_a_claim_at_once_refunds_once(
    shopper, point, egg_sku, leader_user, operator
):
    order, claim = _claimed_order(shopper, point, egg_sku, leader_user)

    def approve():
        return approve_claim(claim=claim, actor=operator)

    with time_machine.travel(TOMORROW_10 + timedelta(hours=2), tick=True):
        results = together(approve, approve)

    assert _errors(results) == []
    [refund] = Refund.objects.filter(order=order)
    assert [r.pk for r in results] == [refund.pk, refund.pk]
    assert (refund.reason, refund.amount) == (RefundReason.AFTER_SALE, Decimal("25.60"))
    claim.refresh_from_db()
    assert (claim.status, claim.refund_id) == (ClaimStatus.APPROVED, refund.pk)
    line = OrderLine.objects.get(order=order)
    assert (line.refunded_quantity, line.handed_out_quantity) == (2, 3)
    assert Notice.objects.filter(order=order, kind="claim_approved").count() == 1
    reversals = CommissionEntry.objects.filter(order_line=line, kind=EntryKind.REVERSAL)
    assert list(reversals.values_list("amount", flat=True)) == [Decimal("-2.56")]


def test_a_claim_approval_racing_an_operator_refund_of_the_same_units_refunds_them_once(
    shopper, point, egg_sku, leader_user, operator
):
    """The operator refunds 2 of the 3 eggs by hand while the claim for 2 is
    approved: 2 + 2 > 3, so exactly one of them goes through."""
    order, claim = _claimed_order(shopper, point, egg_sku, leader_user)
    line = order.lines.get()

    def approve():
        return approve_claim(claim=claim, actor=operator)

    def refund_by_hand():
        return refund_lines(
            order=order, quantities={line.pk: 2}, reason=RefundReason.OPERATOR, actor=operator
        )

    with time_machine.travel(TOMORROW_10 + timedelta(hours=2), tick=True):
        approved, by_hand = together(approve, refund_by_hand)

    [refund] = Refund.objects.filter(order=order)
    line.refresh_from_db()
    claim.refresh_from_db()
    assert line.refunded_quantity == 2
    if isinstance(approved, Refund):
        assert isinstance(by_hand, CheckoutError)
        assert (refund.pk, refund.reason) == (approved.pk, RefundReason.AFTER_SALE)
        assert claim.status == ClaimStatus.APPROVED
    else:
        assert isinstance(approved, ClaimError)
        assert (refund.pk, refund.reason) == (by_hand.pk, RefundReason.OPERATOR)
        assert (claim.status, claim.refund_id) == (ClaimStatus.OPEN, None)
    assert AfterSaleClaim.objects.filter(status=ClaimStatus.APPROVED).count() <= 1
