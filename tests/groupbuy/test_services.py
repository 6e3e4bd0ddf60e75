"""Groups: open, join, fill, fail, refund; every rule with its message; threshold deals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from catalog.models import StockRecord
from groupbuy.models import (
    CampaignKind,
    CommunityDeal,
    DealStatus,
    Group,
    GroupMember,
    GroupStatus,
    MemberStatus,
)
from groupbuy.selectors import campaign_stats, group_by_code, group_for_order
from groupbuy.services import (
    GroupbuyError,
    close_group,
    expire_group,
    join_deal,
    join_group,
    open_group,
    settle_deal,
    sweep_groups,
)
from groupbuy.tasks import expire_group_task
from orders.models import Notice, Order, OrderStatus, Refund, RefundReason
from orders.services.delivery import dispatch_orders
from orders.services.payments import cancel_unpaid_order, expire_unpaid_orders
from tests.catalog.factories import set_stock

from .conftest import NOON_ISH, TOMORROW, make_campaign, pay


def _opened(campaign, user, point, quantity=1):
    member = open_group(campaign=campaign, user=user, pickup_point=point, quantity=quantity)
    pay(member.order)
    group = Group.objects.get(pk=member.group_id)
    return group


def _status(order):
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


@pytest.mark.django_db
class TestOpening:
    def test_the_opener_pays_the_group_price_and_the_group_opens_when_paid(
        self, clock, shopper, point, campaign
    ):
        member = open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=2)
        order = member.order
        assert order.kind == "group"
        assert order.payable == Decimal("5.80")
        assert order.goods_total == Decimal("7.80")
        line = order.lines.get()
        assert line.unit_price == Decimal("2.90")
        assert line.discounts[0]["kind"] == "group_price"
        group = member.group
        assert group.status == GroupStatus.FORMING
        assert group_by_code(code=group.code) is None  # no group until the opener pays
        assert group.seats_taken == 1
        campaign.refresh_from_db()
        assert campaign.stock_taken == 2

        pay(order)
        group.refresh_from_db()
        assert group.status == GroupStatus.OPEN
        assert group.paid_count == 1
        assert group.opened_at == NOON_ISH
        assert group.deadline == NOON_ISH + timedelta(hours=24)
        assert _status(order) == OrderStatus.AWAITING_GROUP
        assert group_for_order(order) == group

    def test_an_opener_who_never_pays_leaves_no_group(self, clock, shopper, point, campaign):
        member = open_group(campaign=campaign, user=shopper, pickup_point=point)
        clock.shift(timedelta(minutes=16))
        assert expire_unpaid_orders() == 1
        group = Group.objects.get(pk=member.group_id)
        assert group.status == GroupStatus.ABANDONED
        assert group.seats_taken == 0
        campaign.refresh_from_db()
        assert campaign.stock_taken == 0

    def test_it_refuses_a_second_running_group_of_the_same_opener(
        self, clock, shopper, point, campaign
    ):
        _opened(campaign, shopper, point)
        with pytest.raises(GroupbuyError) as err:
            open_group(campaign=campaign, user=shopper, pickup_point=point)
        assert err.value.message == "你已有一个进行中的团，分享给好友或等它结束后再开新团。"
        assert Group.objects.count() == 1

    def test_several_groups_are_allowed_when_the_campaign_says_so(self, clock, shopper, point, sku):
        campaign = make_campaign(sku, allow_many_open=True)
        _opened(campaign, shopper, point)
        _opened(campaign, shopper, point)
        assert Group.objects.filter(status=GroupStatus.OPEN).count() == 2

    def test_it_refuses_more_than_the_per_order_limit(self, clock, shopper, point, campaign):
        with pytest.raises(GroupbuyError) as err:
            open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=3)
        assert err.value.message == "本次拼团每单最多买 2 份。"
        assert not Order.objects.exists()

    def test_it_refuses_before_the_start_and_after_the_end(self, clock, shopper, point, sku):
        later = make_campaign(sku, starts_at=NOON_ISH + timedelta(hours=1))
        with pytest.raises(GroupbuyError) as err:
            open_group(campaign=later, user=shopper, pickup_point=point)
        assert err.value.message == "本次拼团还没开始。"
        ended = make_campaign(
            sku, starts_at=NOON_ISH - timedelta(days=2), ends_at=NOON_ISH - timedelta(days=1)
        )
        with pytest.raises(GroupbuyError) as err:
            open_group(campaign=ended, user=shopper, pickup_point=point)
        assert err.value.message == "本次拼团已结束。"
        assert not Order.objects.exists()

    def test_the_set_aside_runs_out(self, clock, shopper, other_shopper, point, sku):
        campaign = make_campaign(sku, stock_total=1)
        _opened(campaign, shopper, point)
        with pytest.raises(GroupbuyError) as err:
            open_group(campaign=campaign, user=other_shopper, pickup_point=point)
        assert err.value.message == "本次拼团已抢光。"
        assert Order.objects.count() == 1
        # The group is decided tomorrow afternoon: delivered the day after.
        stock = StockRecord.objects.get(sku=sku, delivery_date=TOMORROW + timedelta(days=1))
        assert stock.quantity == 49


@pytest.mark.django_db
class TestJoining:
    def test_a_joiner_who_pays_fills_the_group_and_confirms_every_order(
        self, clock, shopper, other_shopper, point, campaign
    ):
        group = _opened(campaign, shopper, point)
        member = join_group(group=group, user=other_shopper, pickup_point=point)
        group.refresh_from_db()
        assert (group.seats_taken, group.paid_count, group.status) == (2, 1, GroupStatus.OPEN)
        pay(member.order)
        group.refresh_from_db()
        assert group.status == GroupStatus.SUCCEEDED
        assert group.paid_count == 2
        assert group.is_auto_completed is False
        statuses = set(
            Order.objects.filter(group_member__group=group).values_list("status", flat=True)
        )
        assert statuses == {OrderStatus.CONFIRMED}
        assert Notice.objects.filter(kind="group_succeeded").count() == 2
        assert not Refund.objects.exists()

    def test_joining_your_own_group_twice_is_refused(self, clock, shopper, point, campaign):
        group = _opened(campaign, shopper, point)
        with pytest.raises(GroupbuyError) as err:
            join_group(group=group, user=shopper, pickup_point=point)
        assert err.value.message == "你已经在这个团里了。"
        assert err.value.code == "member"
        assert Order.objects.count() == 1

    def test_a_full_group_offers_a_new_one(
        self, clock, shopper, other_shopper, neighbours, point, campaign
    ):
        group = _opened(campaign, shopper, point)
        join_group(group=group, user=other_shopper, pickup_point=point)  # holds the last seat
        group.refresh_from_db()
        with pytest.raises(GroupbuyError) as err:
            join_group(group=group, user=neighbours[0], pickup_point=point)
        assert err.value.message == "这个团已经满员了。你可以开一个新团，或加入其他正在拼的团。"
        assert err.value.code == "full"
        assert GroupMember.objects.filter(user=neighbours[0]).count() == 0

    def test_an_expired_group_cannot_be_joined(
        self, clock, shopper, other_shopper, point, campaign
    ):
        group = _opened(campaign, shopper, point)
        clock.shift(timedelta(hours=24))
        with pytest.raises(GroupbuyError) as err:
            join_group(group=group, user=other_shopper, pickup_point=point)
        assert err.value.code == "closed"
        assert err.value.message == "这个团已经结束了。你可以开一个新团，或加入其他正在拼的团。"
        assert not Order.objects.filter(user=other_shopper).exists()

    def test_a_failed_group_cannot_be_joined(
        self, clock, shopper, other_shopper, operator, point, campaign
    ):
        group = _opened(campaign, shopper, point)
        close_group(group=group, reason="供应商缺货", actor=operator)
        group.refresh_from_db()
        with pytest.raises(GroupbuyError) as err:
            join_group(group=group, user=other_shopper, pickup_point=point)
        assert err.value.code == "closed"

    def test_a_group_for_one_pickup_point_refuses_other_points(
        self, clock, shopper, other_shopper, point, other_pickup_point, sku
    ):
        campaign = make_campaign(sku, scope="pickup_point")
        group = _opened(campaign, shopper, point)
        with pytest.raises(GroupbuyError) as err:
            join_group(group=group, user=other_shopper, pickup_point=other_pickup_point)
        assert err.value.message == (
            "这个团只限在幸福里便利店自提的邻居参加。你可以在自己的自提点开一个新团。"
        )
        assert not Order.objects.filter(user=other_shopper).exists()

    def test_a_community_group_refuses_other_communities(
        self, clock, shopper, other_shopper, point, other_pickup_point, sku
    ):
        campaign = make_campaign(sku, scope="community")
        group = _opened(campaign, shopper, point)
        with pytest.raises(GroupbuyError) as err:
            join_group(group=group, user=other_shopper, pickup_point=other_pickup_point)
        assert err.value.message == "这个团只限幸福里小区的邻居参加。你可以在自己的小区开一个新团。"

    def test_the_per_shopper_limit_counts_all_their_groups(
        self, clock, shopper, other_shopper, neighbours, point, sku
    ):
        campaign = make_campaign(sku, per_shopper_limit=2, group_size=3)
        first = _opened(campaign, shopper, point)
        second = _opened(campaign, neighbours[0], point)
        join_group(group=first, user=other_shopper, pickup_point=point, quantity=1)
        with pytest.raises(GroupbuyError) as err:
            join_group(group=second, user=other_shopper, pickup_point=point, quantity=2)
        assert err.value.message == "本次拼团每人限购 2 份，你还可以再买 1 份。"
        join_group(group=second, user=other_shopper, pickup_point=point, quantity=1)
        with pytest.raises(GroupbuyError) as err:
            open_group(campaign=campaign, user=other_shopper, pickup_point=point)
        assert err.value.message == "本次拼团每人限购 2 份，你已经买满了。"

    def test_an_unpaid_joiner_gives_the_seat_back_when_the_order_is_cancelled(
        self, clock, shopper, other_shopper, neighbours, point, campaign
    ):
        group = _opened(campaign, shopper, point)
        member = join_group(group=group, user=other_shopper, pickup_point=point)
        cancel_unpaid_order(order=member.order, actor=other_shopper, reason="不要了")
        group.refresh_from_db()
        member.refresh_from_db()
        assert member.status == MemberStatus.RELEASED
        assert (group.seats_taken, group.paid_count) == (1, 1)
        campaign.refresh_from_db()
        assert campaign.stock_taken == 1
        # The seat is free again, even for the same shopper.
        again = join_group(group=group, user=other_shopper, pickup_point=point)
        pay(again.order)
        group.refresh_from_db()
        assert group.status == GroupStatus.SUCCEEDED


@pytest.mark.django_db
class TestTimeLimit:
    def test_a_group_that_times_out_refunds_every_member_exactly_once(
        self,
        clock,
        shopper,
        other_shopper,
        neighbours,
        point,
        sku,
        django_capture_on_commit_callbacks,
    ):
        campaign = make_campaign(sku, group_size=3)
        group = _opened(campaign, shopper, point, quantity=2)
        member = join_group(group=group, user=other_shopper, pickup_point=point)
        pay(member.order)
        orders = list(Order.objects.filter(group_member__group=group).order_by("pk"))

        with time_machine.travel(NOON_ISH + timedelta(hours=23, minutes=59), tick=False):
            assert expire_group_task.delay(group.pk).get() == "not_due"
        with (
            time_machine.travel(NOON_ISH + timedelta(hours=24), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert expire_group_task.delay(group.pk).get() == "failed"
            assert expire_group_task.delay(group.pk).get() == "noop"
        assert Refund.objects.count() == 2
        with time_machine.travel(NOON_ISH + timedelta(hours=24, minutes=1), tick=False):
            assert expire_group_task.delay(group.pk).get() == "noop"
            assert sweep_groups() == {"expired": 0, "refunded": 0, "settled": 0, "released": 0}

        group.refresh_from_db()
        assert group.status == GroupStatus.FAILED
        assert group.close_reason == "time limit reached"
        refunds = Refund.objects.order_by("order_id")
        assert [r.order_id for r in refunds] == [o.pk for o in orders]
        assert [r.amount for r in refunds] == [Decimal("5.80"), Decimal("2.90")]
        assert {r.reason for r in refunds} == {RefundReason.GROUP_FAILED}
        assert {r.status for r in refunds} == {"succeeded"}
        assert {_status(o) for o in orders} == {OrderStatus.REFUNDED}
        assert set(GroupMember.objects.filter(group=group).values_list("status", flat=True)) == {
            MemberStatus.REFUNDED
        }
        assert Notice.objects.filter(kind="group_failed").count() == 2
        assert Notice.objects.filter(kind="group_succeeded").count() == 0
        campaign.refresh_from_db()
        assert campaign.stock_taken == 0
        assert {
            r.quantity for r in StockRecord.objects.filter(sku=sku, delivery_date__gte=TOMORROW)
        } == {50}

    def test_the_expiry_task_is_scheduled_exactly_at_the_deadline(
        self, clock, shopper, point, campaign, monkeypatch, django_capture_on_commit_callbacks
    ):
        calls = []
        monkeypatch.setattr(
            "groupbuy.tasks.expire_group_task.apply_async",
            lambda args, eta: calls.append((args, eta)),
        )
        member = open_group(campaign=campaign, user=shopper, pickup_point=point)
        with django_capture_on_commit_callbacks(execute=True):
            pay(member.order)
        assert calls == [([member.group_id], NOON_ISH + timedelta(hours=24))]

    def test_the_sweeper_catches_a_group_whose_task_was_lost(self, clock, shopper, point, campaign):
        group = _opened(campaign, shopper, point)
        clock.shift(timedelta(hours=25))
        # Outside a worker the refund task is not run yet: the sweep does it.
        assert sweep_groups() == {"expired": 1, "refunded": 1, "settled": 0, "released": 0}
        assert sweep_groups() == {"expired": 0, "refunded": 0, "settled": 0, "released": 0}
        assert Refund.objects.filter(order__group_member__group=group).count() == 1

    def test_a_lost_refund_task_is_redone_by_the_sweeper_once(
        self, clock, shopper, point, campaign, monkeypatch
    ):
        group = _opened(campaign, shopper, point)
        clock.shift(timedelta(hours=24))
        monkeypatch.setattr("groupbuy.services.schedule_group_refunds", lambda group_id: None)
        assert expire_group(group_id=group.pk) == "failed"
        assert not Refund.objects.exists()
        monkeypatch.undo()
        assert sweep_groups()["refunded"] == 1
        assert sweep_groups()["refunded"] == 0
        assert Refund.objects.count() == 1

    def test_auto_complete_needs_the_minimum_share_and_says_so(
        self,
        clock,
        shopper,
        other_shopper,
        neighbours,
        point,
        sku,
        django_capture_on_commit_callbacks,
    ):
        campaign = make_campaign(
            sku, group_size=3, auto_complete=True, auto_complete_min_percent=60
        )
        assert campaign.auto_complete_min_members == 2
        short = _opened(campaign, neighbours[0], point)
        enough = _opened(campaign, shopper, point)
        pay(join_group(group=enough, user=other_shopper, pickup_point=point).order)
        clock.shift(timedelta(hours=24))
        with django_capture_on_commit_callbacks(execute=True):
            assert expire_group(group_id=enough.pk) == "auto_completed"
            assert expire_group(group_id=short.pk) == "failed"
        enough.refresh_from_db()
        assert enough.status == GroupStatus.SUCCEEDED
        assert enough.is_auto_completed is True
        assert set(
            Order.objects.filter(group_member__group=enough).values_list("status", flat=True)
        ) == {OrderStatus.CONFIRMED}
        assert Refund.objects.filter(order__group_member__group=short).count() == 1
        assert not Refund.objects.filter(order__group_member__group=enough).exists()

    def test_a_joiner_paying_after_the_group_failed_is_refunded_at_once(
        self, clock, shopper, other_shopper, point, campaign
    ):
        group = _opened(campaign, shopper, point)
        set_stock(
            sku=campaign.sku,
            warehouse=point.warehouse,
            delivery_date=TOMORROW + timedelta(days=1),
            quantity=5,
        )
        clock.shift(timedelta(hours=23, minutes=55))
        member = join_group(group=group, user=other_shopper, pickup_point=point)
        clock.shift(timedelta(minutes=5))
        assert expire_group(group_id=group.pk) == "failed"
        pay(member.order)
        assert _status(member.order) == OrderStatus.REFUNDED
        assert Refund.objects.filter(order=member.order).count() == 1
        group.refresh_from_db()
        assert group.paid_count == 2  # counted, then refunded: never confirmed

    def test_an_operator_closes_a_group_with_a_reason(
        self, clock, shopper, operator, point, campaign, django_capture_on_commit_callbacks
    ):
        group = _opened(campaign, shopper, point)
        with pytest.raises(GroupbuyError) as err:
            close_group(group=group, reason="  ", actor=operator)
        assert err.value.message == "请填写关团原因。"
        group.refresh_from_db()
        assert group.status == GroupStatus.OPEN
        with django_capture_on_commit_callbacks(execute=True):
            close_group(group=group, reason="供应商缺货", actor=operator)
        group.refresh_from_db()
        assert (group.status, group.close_reason, group.closed_by) == (
            GroupStatus.FAILED,
            "供应商缺货",
            operator,
        )
        assert Refund.objects.count() == 1
        with pytest.raises(GroupbuyError):
            close_group(group=group, reason="again", actor=operator)
        assert Refund.objects.count() == 1


@pytest.mark.django_db
class TestInvariants:
    def test_the_database_refuses_more_paid_members_than_the_size(
        self, clock, shopper, point, campaign
    ):
        group = _opened(campaign, shopper, point)
        with pytest.raises(IntegrityError), transaction.atomic():
            Group.objects.filter(pk=group.pk).update(seats_taken=3)
        with pytest.raises(IntegrityError), transaction.atomic():
            Group.objects.filter(pk=group.pk).update(paid_count=2)

    def test_an_order_waiting_for_its_group_cannot_ship(self, clock, shopper, point, campaign):
        from orders.models import IllegalTransition
        from orders.services.transitions import transition

        group = _opened(campaign, shopper, point)
        order = Order.objects.get(group_member__group=group)
        with pytest.raises(IllegalTransition):
            transition(order, OrderStatus.IN_DELIVERY)
        assert _status(order) == OrderStatus.AWAITING_GROUP

    def test_stats_count_groups_members_money_and_refunds(
        self, clock, shopper, other_shopper, neighbours, point, campaign
    ):
        filled = _opened(campaign, shopper, point)
        clock.shift(timedelta(minutes=30))
        pay(join_group(group=filled, user=other_shopper, pickup_point=point).order)
        _opened(campaign, neighbours[0], point)
        clock.shift(timedelta(hours=24))
        sweep_groups()
        stats = campaign_stats(campaign=campaign)
        assert (stats.opened, stats.succeeded, stats.failed, stats.members) == (2, 1, 1, 3)
        assert stats.success_rate == 50
        assert stats.average_fill_minutes == 30
        assert stats.gmv == Decimal("5.80")
        assert stats.refunds == Decimal("2.90")


@pytest.mark.django_db
class TestCommunityThreshold:
    def test_a_community_that_reaches_the_threshold_is_confirmed(
        self, clock, shopper, other_shopper, point, threshold_campaign
    ):
        first = join_deal(campaign=threshold_campaign, user=shopper, pickup_point=point, quantity=5)
        second = join_deal(
            campaign=threshold_campaign, user=other_shopper, pickup_point=point, quantity=5
        )
        pay(first.order)
        pay(second.order)
        deal = CommunityDeal.objects.get()
        assert deal.paid_quantity == 10
        assert settle_deal(deal_id=deal.pk) == "not_due"
        clock.shift(timedelta(hours=5))  # the campaign's end (20:00): not yet the cutoff
        assert settle_deal(deal_id=deal.pk) == "not_due"
        clock.shift(timedelta(hours=3))  # 23:00, the cutoff of tomorrow's delivery
        assert settle_deal(deal_id=deal.pk) == "succeeded"
        assert settle_deal(deal_id=deal.pk) == "noop"
        assert {_status(first.order), _status(second.order)} == {OrderStatus.CONFIRMED}

    def test_a_community_short_of_the_threshold_is_refunded_entirely_once(
        self,
        clock,
        shopper,
        other_shopper,
        point,
        threshold_campaign,
        django_capture_on_commit_callbacks,
    ):
        first = join_deal(campaign=threshold_campaign, user=shopper, pickup_point=point, quantity=5)
        second = join_deal(
            campaign=threshold_campaign, user=other_shopper, pickup_point=point, quantity=4
        )
        pay(first.order)
        pay(second.order)
        clock.shift(timedelta(hours=8))
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep_groups()["settled"] == 1
            assert sweep_groups() == {"expired": 0, "refunded": 0, "settled": 0, "released": 0}
        deal = CommunityDeal.objects.get()
        assert deal.status == DealStatus.FAILED
        assert sorted(Refund.objects.values_list("amount", flat=True)) == [
            Decimal("11.60"),
            Decimal("14.50"),
        ]
        assert {_status(first.order), _status(second.order)} == {OrderStatus.REFUNDED}
        assert Notice.objects.filter(kind="group_failed").count() == 2

    def test_a_deal_is_decided_at_the_cutoff_of_its_delivery_day_not_at_the_campaign_end(
        self,
        clock,
        shopper,
        other_shopper,
        neighbours,
        point,
        other_pickup_point,
        sku,
        monkeypatch,
        django_capture_on_commit_callbacks,
    ):
        calls = []
        monkeypatch.setattr(
            "groupbuy.tasks.settle_deal_task.apply_async",
            lambda args, eta: calls.append((args, eta)),
        )
        # Three days of ordering; it ends 11-27 20:00, the next cutoff is 11-27 23:00.
        campaign = make_campaign(
            sku,
            kind=CampaignKind.THRESHOLD,
            threshold_quantity=5,
            ends_at=NOON_ISH + timedelta(days=2, hours=5),
            per_order_limit=5,
            per_shopper_limit=5,
        )
        cutoff = NOON_ISH + timedelta(days=2, hours=8)
        with django_capture_on_commit_callbacks(execute=True):
            short = [
                join_deal(campaign=campaign, user=u, pickup_point=point, quantity=2)
                for u in (shopper, other_shopper)
            ]
            reached = join_deal(
                campaign=campaign, user=neighbours[0], pickup_point=other_pickup_point, quantity=5
            )
        for deal_order in [*short, reached]:
            pay(deal_order.order)
        here = CommunityDeal.objects.get(community=point.community)
        there = CommunityDeal.objects.get(community=other_pickup_point.community)
        assert (here.decide_at, here.delivery_date) == (cutoff, TOMORROW + timedelta(days=2))
        # Every order is for the day after the decision, and each deal's decision is due then.
        assert {d.order.delivery_date for d in [*short, reached]} == {TOMORROW + timedelta(days=2)}
        assert sorted(calls) == sorted([([here.pk], cutoff), ([there.pk], cutoff)])

        # The campaign has ended but the cutoff has not come: nothing is decided yet.
        with time_machine.travel(NOON_ISH + timedelta(days=2, hours=5, minutes=30), tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                assert sweep_groups()["settled"] == 0
            assert settle_deal(deal_id=here.pk) == "not_due"
        assert not Refund.objects.exists()
        assert {_status(d.order) for d in [*short, reached]} == {OrderStatus.AWAITING_GROUP}

        with (
            time_machine.travel(cutoff, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert sweep_groups()["settled"] == 2
            assert sweep_groups() == {"expired": 0, "refunded": 0, "settled": 0, "released": 0}
        here.refresh_from_db()
        there.refresh_from_db()
        assert (here.status, there.status) == (DealStatus.FAILED, DealStatus.SUCCEEDED)
        # Every order of the short community refunded once; the other one's confirmed.
        assert {_status(d.order) for d in short} == {OrderStatus.REFUNDED}
        assert Refund.objects.filter(reason=RefundReason.GROUP_FAILED).count() == 2
        assert not Refund.objects.filter(order=reached.order).exists()
        assert _status(reached.order) == OrderStatus.CONFIRMED
        moved = dispatch_orders(delivery_date=TOMORROW + timedelta(days=2))
        assert [o.pk for o in moved] == [reached.order_id]


@pytest.mark.django_db
class TestDeliveryDay:
    """A group order is for the first delivery day whose cutoff (23:00) comes after
    the group is decided, so it is never confirmed after its goods were picked."""

    def test_a_group_opened_at_22_with_24_hours_is_delivered_two_days_later_and_dispatched(
        self, shopper, other_shopper, point, campaign
    ):
        with time_machine.travel(NOON_ISH.replace(hour=22), tick=False):
            opener = open_group(campaign=campaign, user=shopper, pickup_point=point)
            assert opener.order.delivery_date == TOMORROW + timedelta(days=1)
            pay(opener.order)
        group = Group.objects.get(pk=opener.group_id)
        assert group.deadline == NOON_ISH.replace(hour=22) + timedelta(hours=24)
        assert group.delivery_date == TOMORROW + timedelta(days=1)

        # It fills the next afternoon, after the cutoff of 11-26 has passed.
        with time_machine.travel(NOON_ISH + timedelta(days=1), tick=False):
            joiner = join_group(group=group, user=other_shopper, pickup_point=point)
            assert joiner.order.delivery_date == TOMORROW + timedelta(days=1)
            pay(joiner.order)
        orders = [opener.order, joiner.order]
        assert {_status(o) for o in orders} == {OrderStatus.CONFIRMED}

        # Nothing of the group leaves on 11-26; both leave on 11-27.
        assert dispatch_orders(delivery_date=TOMORROW) == []
        assert {_status(o) for o in orders} == {OrderStatus.CONFIRMED}
        moved = dispatch_orders(delivery_date=TOMORROW + timedelta(days=1))
        assert sorted(o.pk for o in moved) == sorted(o.pk for o in orders)
        assert {_status(o) for o in orders} == {OrderStatus.IN_DELIVERY}

    def test_an_opener_paying_late_gets_a_deadline_before_the_cutoff_of_the_delivery_day(
        self, shopper, other_shopper, point, campaign
    ):
        with time_machine.travel(NOON_ISH.replace(hour=22, minute=52), tick=False):
            opener = open_group(campaign=campaign, user=shopper, pickup_point=point)
        assert opener.order.delivery_date == TOMORROW + timedelta(days=1)
        with time_machine.travel(NOON_ISH.replace(hour=23, minute=5), tick=False):
            pay(opener.order)
        group = Group.objects.get(pk=opener.group_id)
        # Not 11-26 23:05: the day's goods are picked after its 23:00 cutoff.
        assert group.deadline == NOON_ISH.replace(hour=22, minute=59) + timedelta(days=1)
        with time_machine.travel(NOON_ISH + timedelta(days=1, hours=7, minutes=58), tick=False):
            joiner = join_group(group=group, user=other_shopper, pickup_point=point)
        assert joiner.order.delivery_date == TOMORROW + timedelta(days=1)
