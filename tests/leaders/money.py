"""Helpers for the commission tests: real orders through orders' services,
a fast way to make many ledger rows, and the one closed-period set-up that
the statement, money-page, finance-page and private-file tests share.

    from tests.leaders.money import paid_order, deliver_and_hand_out
    from tests.leaders.money import november, their_november  # fixtures

The fixtures ask for the orders fixtures by name (shopper, point, sku,
egg_sku, leader, other_leader, ...): a test module that uses them imports
those from tests.orders.conftest, as it does for its own tests.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from leaders.commission.models import CommissionEntry, EntryKind
from orders.models import Handout, Order, OrderLine, OrderStatus
from orders.services.checkout import Want, place_order
from orders.services.delivery import dispatch_orders, sign_for_delivery
from orders.services.payments import apply_payment, start_payment
from orders.services.pickup import hand_out
from tuangou.money import to_fen
from tuangou.timeutils import SHANGHAI

TOMORROW_10 = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
# Handed out (and completed) on 26 Nov with a 2-day after-sale window: claims
# are taken through 28 Nov; the commission settles from 29 Nov 00:00.
WINDOW_OVER = datetime(2026, 11, 29, 0, 1, tzinfo=SHANGHAI)


def paid_order(shopper, point, *wants: tuple) -> Order:
    """Place and pay an order (a normal order is confirmed at once): [(sku, qty), ...]."""
    order = place_order(
        user=shopper, wants=[Want(sku.pk, qty) for sku, qty in wants], pickup_point=point
    )
    payment = start_payment(order=order, channel="h5", client_ip="10.0.0.1")
    apply_payment(
        out_trade_no=payment.out_trade_no,
        amount_fen=to_fen(payment.amount),
        transaction_id=f"tx-{order.number}",
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    return order


def deliver(point, leader_user, day) -> None:
    dispatch_orders(delivery_date=day)
    sign_for_delivery(pickup_point=point, delivery_date=day, actor=leader_user)


def hand_out_all(point, leader_user, order) -> None:
    hand_out(
        pickup_point=point,
        quantities={line.pk: line.outstanding_quantity for line in order.lines.all()},
        actor=leader_user,
    )


def at(when: datetime):
    """time_machine travel to a moment, not ticking."""
    return time_machine.travel(when, tick=False)


def make_bulk_entries(*, leader, point, user, sku, count: int, amount=Decimal("0.37"), orders=20):
    """`count` earned entries on real (bulk-made) order lines, each line handed
    out 3 days ago: all eligible for settlement now. Fast: bulk inserts only."""
    now = timezone.now()
    picked = now - timedelta(days=3)
    per_order = count // orders
    order_rows = [
        Order(
            number=f"B{now:%y%m%d}{i:08d}",
            code=f"bulkcode{i:08d}",
            user=user,
            status=OrderStatus.COMPLETED,
            pickup_point=point,
            leader=leader,
            warehouse=point.warehouse,
            pickup_point_name=point.name,
            pickup_address=point.address,
            delivery_date=picked.date(),
            pickup_from=picked,
            goods_total=Decimal("3.70") * per_order,
            payable=Decimal("3.70") * per_order,
            pay_deadline=picked,
            completed_at=picked,
        )
        for i in range(orders)
    ]
    Order.objects.bulk_create(order_rows)
    lines = [
        OrderLine(
            order=order,
            sku=sku,
            product_name="西红柿",
            spec="500g/份",
            quantity=1,
            list_price=Decimal("3.70"),
            unit_price=Decimal("3.70"),
            goods_total=Decimal("3.70"),
            payable=Decimal("3.70"),
            handed_out_quantity=1,
        )
        for order in order_rows
        for _n in range(per_order)
    ]
    OrderLine.objects.bulk_create(lines, batch_size=2000)
    handouts = [Handout(order_line=line, quantity=1, actor=user) for line in lines]
    Handout.objects.bulk_create(handouts, batch_size=2000)
    Handout.objects.filter(order_line__order__in=order_rows).update(created_at=picked)
    entries = [
        CommissionEntry(
            leader=leader,
            kind=EntryKind.EARNED,
            order=line.order,
            order_line=line,
            product_name="西红柿 500g/份",
            quantity=1,
            base=line.payable,
            rule_kind="rate",
            rate=Decimal("0.1000"),
            amount=amount,
            occurred_at=picked - timedelta(days=1),
        )
        for line in lines
    ]
    CommissionEntry.objects.bulk_create(entries, batch_size=2000)
    return entries


__all__ = [
    "NOV_2026",
    "TOMORROW_10",
    "WINDOW_OVER",
    "at",
    "deliver",
    "hand_out_all",
    "make_bulk_entries",
    "make_closed_period",
    "november",
    "paid_order",
    "their_november",
    "time",
]


NOV_2026 = (date(2026, 11, 1), date(2026, 11, 30))


def make_closed_period(*, shopper, point, sku, egg_sku, leader, leader_user, operator, finance):
    """November 2026 for `leader`, closed with its statement made:

    earned 0.78 (2 × 西红柿), 3.84 (3 × 土鸡蛋), 1.28 (1 × 土鸡蛋); one egg of the
    first order refunded before delivery (−1.28); an adjustment of +5.00; a
    withdrawal of 5.00 paid on 11-28. Net 9.62, carried forward 4.62.
    Call under the orders `clock` with settings.WITHDRAWAL_MIN_AMOUNT ≤ 5.
    """
    from leaders.commission.services import (
        add_adjustment,
        approve_withdrawal,
        close_ended_periods,
        generate_statement,
        mark_withdrawal_paid,
        request_withdrawal,
        settle_commissions,
    )
    from orders.models import RefundReason
    from orders.services.refunds import refund_lines

    first = paid_order(shopper, point, (sku, 2), (egg_sku, 3))
    second = paid_order(shopper, point, (egg_sku, 1))
    egg_line = first.lines.get(sku=egg_sku)
    refund_lines(order=first, quantities={egg_line.pk: 1}, reason=RefundReason.OPERATOR)
    with at(TOMORROW_10):
        deliver(point, leader_user, first.delivery_date)
        for order in (first, second):
            order.refresh_from_db()
            hand_out_all(point, leader_user, order)
        add_adjustment(
            leader=leader,
            amount="5.00",
            reason="十一月拉新奖励",
            entered_by=operator,
            approved_by=operator,
        )
    with at(WINDOW_OVER):
        settle_commissions()
        withdrawal = request_withdrawal(
            leader=leader,
            amount="5.00",
            method="bank",
            account_name="王丽",
            bank_name="长沙银行",
            account_number="6214000011112222",
        )
        approve_withdrawal(withdrawal=withdrawal, actor=finance)
        mark_withdrawal_paid(withdrawal=withdrawal, actor=finance, reference="CMB-20261128-01")
    with at(datetime(2026, 12, 1, 2, 30, tzinfo=SHANGHAI)):
        closed = close_ended_periods()
        # What generate_statement_task does after commit (tested in test_settlement).
        closed = [generate_statement(settlement_id=s.pk) for s in closed]
    return closed


@pytest.fixture
def november(clock, shopper, point, sku, egg_sku, leader, leader_user, operator, finance, settings):
    """Lily's November 2026, closed, with its PDF statement (make_closed_period)."""
    settings.WITHDRAWAL_MIN_AMOUNT = "1.00"
    [settlement] = make_closed_period(
        shopper=shopper,
        point=point,
        sku=sku,
        egg_sku=egg_sku,
        leader=leader,
        leader_user=leader_user,
        operator=operator,
        finance=finance,
    )
    return settlement


@pytest.fixture
def their_november(november, other_leader):
    """Ming's November, closed beside Lily's, with no entries and no PDF yet."""
    from leaders.commission.models import Settlement

    return Settlement.objects.create(
        leader=other_leader,
        period_kind="monthly",
        period_start=november.period_start,
        period_end=november.period_end,
        status="closed",
    )
