# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""Commission rules and the ledger: earning on confirmation, the most specific
rule, one rounding rule, reversals exactly once, adjustments."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from leaders.commission.models import (
    CommissionEntry,
    CommissionRule,
    EntryKind,
    RuleKind,
    RuleScope,
)
from leaders.commission.rules import split_fixed
from leaders.commission.services import (
    CommissionError,
    add_adjustment,
    earn_commission,
    settle_commissions,
)
from orders.models import RefundReason
from orders.services.refunds import refund_lines
from tests.catalog.factories import CategoryFactory, SkuFactory, set_stock
from tests.orders.conftest import (  # noqa: F401 - fixtures
    NOON_ISH,
    TOMORROW,
    clock,
    community,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)

from .money import TOMORROW_10, WINDOW_OVER, at, deliver, hand_out_all, paid_order

pytestmark = pytest.mark.django_db


def _rule(**kwargs) -> CommissionRule:
    kwargs.setdefault("effective_from", NOON_ISH - timedelta(days=30))
    kwargs.setdefault("kind", RuleKind.RATE)
    return CommissionRule.objects.create(**kwargs)


def _earned(order):
    return list(
        CommissionEntry.objects.filter(order=order, kind=EntryKind.EARNED).order_by("order_line_id")
    )


def test_a_confirmed_order_earns_ten_percent_of_what_was_paid_by_default(
    clock, shopper, point, sku, egg_sku, leader
):
    order = paid_order(shopper, point, (sku, 1), (egg_sku, 2))

    entries = _earned(order)
    assert [(e.product_name, e.base, e.rate, e.amount) for e in entries] == [
        ("西红柿 500g/份", Decimal("3.90"), Decimal("0.1000"), Decimal("0.39")),
        ("土鸡蛋 10枚/盒", Decimal("25.60"), Decimal("0.1000"), Decimal("2.56")),
    ]
    assert {e.leader_id for e in entries} == {leader.pk}
    assert all(e.settlement_id is None and e.rule is None for e in entries)


def test_commission_rounds_half_up_to_the_fen(clock, shopper, point, sku):
    _rule(scope=RuleScope.PRODUCT, product=sku.product, rate=Decimal("0.1500"))
    order = paid_order(shopper, point, (sku, 1))  # 3.90 × 15% = 0.585

    assert _earned(order)[0].amount == Decimal("0.59")  # half-up, not half-even (0.58)


def test_the_most_specific_rule_wins(clock, shopper, point, leader):
    top = CategoryFactory(name="蔬菜")
    child = CategoryFactory(name="叶菜", parent=top)
    other = CategoryFactory(name="水果")
    by_product = SkuFactory(product__name="菠菜", product__category=child, price=Decimal("10.00"))
    by_child = SkuFactory(product__name="生菜", product__category=child, price=Decimal("10.00"))
    by_parent = SkuFactory(product__name="白菜", product__category=top, price=Decimal("10.00"))
    by_leader = SkuFactory(product__name="苹果", product__category=other, price=Decimal("10.00"))
    for s in (by_product, by_child, by_parent, by_leader):
        set_stock(sku=s, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=10)
    _rule(scope=RuleScope.DEFAULT, rate=Decimal("0.0500"))
    _rule(scope=RuleScope.LEADER, leader=leader, rate=Decimal("0.1200"))
    _rule(scope=RuleScope.CATEGORY, category=top, rate=Decimal("0.1300"))
    _rule(scope=RuleScope.CATEGORY, category=child, rate=Decimal("0.1500"))
    _rule(scope=RuleScope.PRODUCT, product=by_product.product, rate=Decimal("0.2000"))

    order = paid_order(
        shopper, point, (by_product, 1), (by_child, 1), (by_parent, 1), (by_leader, 1)
    )

    assert [(e.product_name.split()[0], e.amount) for e in _earned(order)] == [
        ("菠菜", Decimal("2.00")),
        ("生菜", Decimal("1.50")),
        ("白菜", Decimal("1.30")),
        ("苹果", Decimal("1.20")),
    ]


def test_a_default_rule_applies_to_a_leader_without_one(clock, shopper, point, sku):
    _rule(scope=RuleScope.DEFAULT, rate=Decimal("0.0800"))
    order = paid_order(shopper, point, (sku, 10))  # 39.00

    assert _earned(order)[0].amount == Decimal("3.12")


def test_fixed_amounts_per_item_and_per_order(clock, shopper, point, sku, egg_sku):
    _rule(
        scope=RuleScope.PRODUCT, product=sku.product, kind=RuleKind.PER_ITEM, amount=Decimal("0.25")
    )
    _rule(
        scope=RuleScope.PRODUCT,
        product=egg_sku.product,
        kind=RuleKind.PER_ORDER,
        amount=Decimal("1.00"),
    )
    order = paid_order(shopper, point, (sku, 3), (egg_sku, 2))

    tomato, eggs = _earned(order)
    assert (tomato.rule_kind, tomato.rate, tomato.amount) == (
        RuleKind.PER_ITEM,
        None,
        Decimal("0.75"),
    )
    assert (eggs.rule_kind, eggs.amount) == (RuleKind.PER_ORDER, Decimal("1.00"))


def test_a_per_order_amount_is_split_over_lines_to_the_fen_exactly():
    assert split_fixed(Decimal("1.00"), [Decimal("1.00")] * 3) == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    assert sum(split_fixed(Decimal("2.00"), [Decimal("3.90"), Decimal("25.60")])) == Decimal("2.00")


def test_a_rule_that_changes_later_never_changes_what_was_earned(clock, shopper, point, sku):
    old = _rule(scope=RuleScope.PRODUCT, product=sku.product, rate=Decimal("0.2000"))
    order = paid_order(shopper, point, (sku, 2))
    old.effective_until = timezone.now()
    old.save()
    _rule(
        scope=RuleScope.PRODUCT,
        product=sku.product,
        rate=Decimal("0.0100"),
        effective_from=timezone.now(),
    )

    earn_commission(orders=[order])  # a second delivery of the confirmation

    [entry] = _earned(order)
    assert (entry.rate, entry.amount, entry.rule_id) == (Decimal("0.2000"), Decimal("1.56"), old.pk)
    later = paid_order(shopper, point, (sku, 2))
    assert _earned(later)[0].amount == Decimal("0.08")


def test_a_rule_with_a_future_effective_date_does_not_apply_yet(clock, shopper, point, sku):
    _rule(
        scope=RuleScope.PRODUCT,
        product=sku.product,
        rate=Decimal("0.5000"),
        effective_from=NOON_ISH + timedelta(days=1),
    )
    order = paid_order(shopper, point, (sku, 1))

    assert _earned(order)[0].amount == Decimal("0.39")


def test_confirming_the_same_order_twice_earns_once(clock, shopper, point, sku):
    order = paid_order(shopper, point, (sku, 2))
    earn_commission(orders=[order])
    earn_commission(orders=[order, order])

    assert CommissionEntry.objects.filter(order=order).count() == 1


def test_commission_goes_to_the_leader_of_the_orders_point(
    clock, shopper, point, sku, other_pickup_point, other_leader
):
    set_stock(sku=sku, warehouse=other_pickup_point.warehouse, delivery_date=TOMORROW, quantity=50)
    order = paid_order(shopper, other_pickup_point, (sku, 1))

    assert _earned(order)[0].leader_id == other_leader.pk
    assert not CommissionEntry.objects.exclude(leader=other_leader).exists()


def test_a_refund_before_settlement_reverses_the_refunded_part_exactly_once(
    clock, shopper, point, egg_sku
):
    order = paid_order(shopper, point, (egg_sku, 3))  # 38.40 → 3.84
    line = order.lines.get()
    [earned] = _earned(order)

    first = refund_lines(order=order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR)
    second = refund_lines(order=order, quantities={line.pk: 2}, reason=RefundReason.OPERATOR)

    reversals = list(CommissionEntry.objects.filter(reverses=earned).order_by("pk"))
    assert [(r.kind, r.amount, r.refund_line.refund_id) for r in reversals] == [
        (EntryKind.REVERSAL, Decimal("-1.28"), first.pk),
        (EntryKind.REVERSAL, Decimal("-2.56"), second.pk),
    ]
    earned.refresh_from_db()
    assert earned.amount == Decimal("3.84")  # the earned row itself never changes
    from leaders.commission.services import reverse_commission_for_refund

    reverse_commission_for_refund(refund=first)  # delivered again
    assert CommissionEntry.objects.filter(reverses=earned).count() == 2


def test_partial_refunds_never_take_back_more_than_was_earned(clock, shopper, point, sku):
    order = paid_order(shopper, point, (sku, 3))  # 11.70 → 1.17
    line = order.lines.get()
    for _n in range(3):
        refund_lines(order=order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR)

    amounts = list(CommissionEntry.objects.filter(order=order).values_list("amount", flat=True))
    assert sum(amounts) == Decimal("0.00")
    assert sorted(amounts) == [
        Decimal("-0.39"),
        Decimal("-0.39"),
        Decimal("-0.39"),
        Decimal("1.17"),
    ]


def test_a_refund_after_settlement_is_a_negative_entry_the_next_settlement_deducts(
    clock, shopper, point, sku, leader, leader_user, operator
):
    order = paid_order(shopper, point, (sku, 2))  # 7.80 → 0.78
    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
        hand_out_all(point, leader_user, order)
    with at(WINDOW_OVER):
        assert settle_commissions() == 1
        line = order.lines.get()
        refund_lines(
            order=order, quantities={line.pk: 1}, reason=RefundReason.AFTER_SALE, actor=operator
        )
        clawback = CommissionEntry.objects.get(kind=EntryKind.CLAWBACK)
        assert (clawback.amount, clawback.settlement_id) == (Decimal("-0.39"), None)
        assert settle_commissions() == 1
    clawback.refresh_from_db()
    assert clawback.settlement is not None
    assert leader.commission_account.settled == Decimal("0.39")


def test_an_operator_adjusts_with_a_reason_and_an_approver(clock, leader, operator, finance):
    entry = add_adjustment(
        leader=leader,
        amount="-5.00",
        reason="  重复计算的佣金 ",
        entered_by=finance,
        approved_by=operator,
    )

    # What was written, read back from the database.
    [stored] = CommissionEntry.objects.filter(leader=leader)
    assert stored.pk == entry.pk
    assert (
        stored.kind,
        stored.amount,
        stored.reason,
        stored.created_by_id,
        stored.approved_by_id,
        stored.occurred_at,
        stored.order_id,
        stored.settlement_id,
    ) == (
        EntryKind.ADJUSTMENT,
        Decimal("-5.00"),
        "重复计算的佣金",
        finance.pk,
        operator.pk,
        NOON_ISH,
        None,
        None,
    )
    # It counts at once: the next run settles it into the leader's balance.
    assert settle_commissions() == 1
    stored.refresh_from_db()
    assert stored.settlement.net_total == Decimal("-5.00")
    assert leader.commission_account.settled == Decimal("-5.00")


def test_an_adjustment_without_reason_or_by_someone_without_permission_writes_nothing(
    leader, operator, shopper
):
    with pytest.raises(CommissionError):
        add_adjustment(
            leader=leader, amount="5", reason=" ", entered_by=operator, approved_by=operator
        )
    with pytest.raises(PermissionDenied):
        add_adjustment(
            leader=leader, amount="5", reason="奖励", entered_by=shopper, approved_by=shopper
        )
    assert not CommissionEntry.objects.exists()


def test_operators_add_rules_in_the_admin_and_a_rule_in_force_can_only_be_ended(
    client, operator, leader
):
    from django.urls import reverse

    client.force_login(operator)
    response = client.post(
        reverse("admin:leaders_commissionrule_add"),
        {
            "scope": "leader",
            "leader": leader.pk,
            "kind": "rate",
            "rate": "0.1200",
            "effective_from_0": "2026-01-01",
            "effective_from_1": "00:00:00",
            "note": "金牌团长",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = CommissionRule.objects.get()
    assert (rule.rate, rule.created_by) == (Decimal("0.1200"), operator)

    page = client.get(
        reverse("admin:leaders_commissionrule_change", args=[rule.pk])
    ).content.decode()
    assert 'name="rate"' not in page
    assert 'name="effective_until_0"' in page
