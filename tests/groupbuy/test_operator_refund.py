"""An operator refunds a 拼团 order in the orders admin: the member becomes
refunded and, while the group is open, their seat is free and they no longer
count as paid; the campaign gets its units back. Exactly once, also beside a
shopper joining for the freed seat at the same moment.

orders never calls groupbuy: groupbuy reads the order's state when it decides
(a join finding the group full, the payment that would fill it, the expiry)
and in its minute sweeper (groupbuy/README.md "Refunds from orders")."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from groupbuy.models import Campaign, Group, GroupMember, GroupStatus, MemberStatus
from groupbuy.services import (
    GroupbuyError,
    expire_group,
    join_group,
    open_group,
    settle_refunded_members,
    sweep_groups,
)
from orders.models import Order, OrderStatus, Refund, RefundReason
from orders.services.refunds import refund_order

from .conftest import make_campaign, pay


def _group_of_three(sku, shopper, other_shopper, point, **campaign_fields):
    """Opener and one joiner paid: an open group of 3 with one seat left."""
    campaign = make_campaign(sku, group_size=3, **campaign_fields)
    opener = open_group(campaign=campaign, user=shopper, pickup_point=point)
    pay(opener.order)
    joiner = join_group(
        group=Group.objects.get(pk=opener.group_id), user=other_shopper, pickup_point=point
    )
    pay(joiner.order)
    group = Group.objects.select_related("campaign").get(pk=opener.group_id)
    assert (group.status, group.seats_taken, group.paid_count) == ("open", 2, 2)
    return campaign, group, opener, joiner


def _state(group, campaign):
    group.refresh_from_db()
    campaign.refresh_from_db()
    return group.status, group.seats_taken, group.paid_count, campaign.stock_taken


def _member_status(member):
    return GroupMember.objects.values_list("status", flat=True).get(pk=member.pk)


@pytest.mark.django_db
class TestOperatorRefund:
    def test_the_sweeper_frees_the_seat_of_a_member_refunded_in_the_orders_admin_once(
        self, client, clock, operator, shopper, other_shopper, point, sku
    ):
        campaign, group, _opener, joiner = _group_of_three(sku, shopper, other_shopper, point)
        operator.is_superuser = True  # the operator's refund action, as in production
        operator.save(update_fields=["is_superuser"])
        client.force_login(operator)
        client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "refund_selected", "_selected_action": [joiner.order_id], "apply": "1"},
        )
        assert Order.objects.get(pk=joiner.order_id).status == OrderStatus.REFUNDED
        assert _state(group, campaign) == ("open", 2, 2, 2)  # not yet seen by groupbuy

        assert sweep_groups()["released"] == 1

        assert _member_status(joiner) == MemberStatus.REFUNDED
        assert _state(group, campaign) == ("open", 1, 1, 1)
        # Again (the next minute, a second worker): nothing moves.
        assert sweep_groups() == {"expired": 0, "refunded": 0, "settled": 0, "released": 0}
        assert settle_refunded_members(group_id=group.pk) == 0
        assert _state(group, campaign) == ("open", 1, 1, 1)
        assert Refund.objects.filter(order_id=joiner.order_id).count() == 1

    def test_a_shopper_joining_a_full_group_takes_the_refunded_members_seat_at_once(
        self, clock, shopper, other_shopper, neighbours, point, sku
    ):
        campaign, group, _opener, joiner = _group_of_three(sku, shopper, other_shopper, point)
        holder = join_group(group=group, user=neighbours[0], pickup_point=point)  # last seat
        group.refresh_from_db()
        with pytest.raises(GroupbuyError) as err:
            join_group(group=group, user=neighbours[1], pickup_point=point)
        assert err.value.code == "full"

        refund_order(order=joiner.order, reason=RefundReason.OPERATOR)
        newcomer = join_group(group=group, user=neighbours[1], pickup_point=point)

        assert _member_status(joiner) == MemberStatus.REFUNDED
        assert _state(group, campaign) == ("open", 3, 1, 3)
        pay(holder.order)
        assert _state(group, campaign) == ("open", 3, 2, 3)  # the refunded one is not counted
        pay(newcomer.order)
        assert _state(group, campaign) == ("succeeded", 3, 3, 3)
        statuses = dict(
            GroupMember.objects.filter(group=group).values_list("user_id", "order__status")
        )
        assert statuses == {
            shopper.pk: OrderStatus.CONFIRMED,
            other_shopper.pk: OrderStatus.REFUNDED,  # never confirmed
            neighbours[0].pk: OrderStatus.CONFIRMED,
            neighbours[1].pk: OrderStatus.CONFIRMED,
        }

    def test_the_payment_that_would_fill_the_group_does_not_count_a_refunded_member(
        self, clock, shopper, other_shopper, neighbours, point, sku
    ):
        campaign, group, opener, _joiner = _group_of_three(sku, shopper, other_shopper, point)
        last = join_group(group=group, user=neighbours[0], pickup_point=point)
        refund_order(order=opener.order, reason=RefundReason.OPERATOR)

        pay(last.order)  # paid 3 of 3 on the counter, but the opener was refunded

        assert _member_status(opener) == MemberStatus.REFUNDED
        assert _state(group, campaign) == ("open", 2, 2, 2)
        assert Order.objects.get(pk=last.order_id).status == OrderStatus.AWAITING_GROUP

    def test_auto_complete_at_the_time_limit_counts_only_members_who_still_paid(
        self, clock, shopper, other_shopper, point, sku
    ):
        _campaign, group, _opener, joiner = _group_of_three(
            sku, shopper, other_shopper, point, auto_complete=True, auto_complete_min_percent=60
        )
        refund_order(order=joiner.order, reason=RefundReason.OPERATOR)  # 1 of 3 left: 34 %

        assert expire_group(group_id=group.pk, now=group.deadline + timedelta(seconds=1)) == (
            "failed"
        )
        assert _member_status(joiner) == MemberStatus.REFUNDED
        assert Refund.objects.filter(order_id=joiner.order_id).count() == 1  # not twice

    def test_a_member_refunded_after_the_group_succeeded_is_refunded_and_the_seats_stay(
        self, clock, shopper, other_shopper, neighbours, point, sku
    ):
        campaign, group, _opener, joiner = _group_of_three(sku, shopper, other_shopper, point)
        last = join_group(group=group, user=neighbours[0], pickup_point=point)
        pay(last.order)
        assert _state(group, campaign) == ("succeeded", 3, 3, 3)

        refund_order(order=joiner.order, reason=RefundReason.OPERATOR)
        assert sweep_groups()["released"] == 1

        assert _member_status(joiner) == MemberStatus.REFUNDED
        assert _state(group, campaign) == ("succeeded", 3, 3, 2)  # units back, history kept
        assert sweep_groups()["released"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_refund_and_joins_for_its_seat_at_the_same_moment_settle_once(
    clock, shopper, other_shopper, neighbours, point, sku
):
    campaign, group, _opener, joiner = _group_of_three(sku, shopper, other_shopper, point)
    join_group(group=group, user=neighbours[0], pickup_point=point)  # the group is full
    group.refresh_from_db()
    barrier = threading.Barrier(6)
    results: list = []

    def run(target):
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    targets = [
        lambda: refund_order(order=Order.objects.get(pk=joiner.order_id), actor=None),
        lambda: settle_refunded_members(group_id=group.pk),
        lambda: sweep_groups()["released"],
        *[
            (lambda u=u: join_group(group=group, user=u, pickup_point=point))
            for u in neighbours[1:4]
        ],
    ]
    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    unexpected = [
        r for r in results if isinstance(r, Exception) and not isinstance(r, GroupbuyError)
    ]
    assert unexpected == []
    assert {r.code for r in results if isinstance(r, GroupbuyError)} <= {"full"}
    sweep_groups()  # whatever the race left to the next minute

    assert _member_status(joiner) == MemberStatus.REFUNDED
    assert Refund.objects.filter(order_id=joiner.order_id).count() == 1
    joined = [r for r in results if isinstance(r, GroupMember)]
    assert len(joined) <= 1  # one seat came free
    live = GroupMember.objects.filter(group=group, status__in=["holding", "paid"])
    group.refresh_from_db()
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert group.seats_taken == live.count() == 3 - 1 + len(joined)
    assert group.paid_count == live.filter(status="paid").count() == 1
    assert campaign.stock_taken == sum(m.quantity for m in live)
    assert group.status == GroupStatus.OPEN
