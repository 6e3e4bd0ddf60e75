"""The last seat, for real: threads on PostgreSQL started together by a Barrier."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from groupbuy.models import Group, GroupMember, GroupStatus, MemberStatus
from groupbuy.services import GroupbuyError, join_group, open_group
from orders.models import Order, OrderStatus

from .conftest import make_campaign, pay

THREADS = 12


def _run_together(targets):
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def run(index, target):
        try:
            barrier.wait()
            results[index] = target()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
class TestLastSeat:
    def test_more_joiners_than_seats_fill_exactly_the_seats(
        self, clock, shopper, neighbours, point, sku
    ):
        campaign = make_campaign(sku, group_size=3, stock_total=40)
        opener = open_group(campaign=campaign, user=shopper, pickup_point=point)
        pay(opener.order)
        group = Group.objects.select_related("campaign", "pickup_point").get(pk=opener.group_id)

        def joiner(user):
            return lambda: join_group(group=group, user=user, pickup_point=point)

        results = _run_together([joiner(user) for user in neighbours[:THREADS]])

        joined = [r for r in results if isinstance(r, GroupMember)]
        refused = [r for r in results if isinstance(r, GroupbuyError)]
        assert len(joined) == 2
        assert len(refused) == THREADS - 2
        assert {e.code for e in refused} == {"full"}
        assert {e.message for e in refused} == {
            "这个团已经满员了。你可以开一个新团，或加入其他正在拼的团。"
        }
        group.refresh_from_db()
        assert (group.seats_taken, group.paid_count) == (3, 1)
        # Nothing half-written for the ones told "full": no order, no stock, no quota.
        assert Order.objects.count() == 3
        campaign.refresh_from_db()
        assert campaign.stock_taken == 3

        # Both pay at the same moment: the group succeeds once, never above its size.
        _run_together([lambda m=m: pay(Order.objects.get(pk=m.order_id)) for m in joined])
        group.refresh_from_db()
        assert group.status == GroupStatus.SUCCEEDED
        assert group.paid_count == group.size == 3
        assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CONFIRMED}
        assert GroupMember.objects.filter(group=group, status=MemberStatus.PAID).count() == 3

    def test_one_shopper_tapping_join_twice_at_once_gets_one_seat(
        self, clock, shopper, other_shopper, point, sku
    ):
        campaign = make_campaign(sku, group_size=5)
        opener = open_group(campaign=campaign, user=shopper, pickup_point=point)
        pay(opener.order)
        group = Group.objects.select_related("campaign", "pickup_point").get(pk=opener.group_id)

        results = _run_together(
            [lambda: join_group(group=group, user=other_shopper, pickup_point=point)] * 4
        )

        assert sum(isinstance(r, GroupMember) for r in results) == 1
        assert {r.code for r in results if isinstance(r, GroupbuyError)} == {"member"}
        group.refresh_from_db()
        assert group.seats_taken == 2
        assert Order.objects.filter(user=other_shopper).count() == 1


@pytest.mark.django_db(transaction=True)
class TestOneShopperAtOnce:
    def test_opening_two_groups_at_once_with_one_open_group_allowed_opens_exactly_one(
        self, clock, shopper, point, sku
    ):
        campaign = make_campaign(sku, allow_many_open=False)

        results = _run_together(
            [lambda: open_group(campaign=campaign, user=shopper, pickup_point=point)] * 2
        )

        opened = [r for r in results if isinstance(r, GroupMember)]
        refused = [r for r in results if isinstance(r, GroupbuyError)]
        assert len(opened) == 1 and len(refused) == 1
        assert refused[0].code == "member"
        assert refused[0].message == "你已有一个进行中的团，分享给好友或等它结束后再开新团。"
        # The refused tap wrote nothing: one group, one order, one unit taken.
        assert Group.objects.filter(campaign=campaign).count() == 1
        assert Order.objects.filter(user=shopper).count() == 1
        campaign.refresh_from_db()
        assert campaign.stock_taken == 1

    def test_taps_at_once_never_buy_more_than_the_per_shopper_limit(
        self, clock, shopper, point, sku
    ):
        campaign = make_campaign(sku, allow_many_open=True, per_order_limit=2, per_shopper_limit=3)

        results = _run_together(
            [lambda: open_group(campaign=campaign, user=shopper, pickup_point=point, quantity=2)]
            * 4
        )

        assert sum(isinstance(r, GroupMember) for r in results) == 1
        refused = [r for r in results if isinstance(r, GroupbuyError)]
        assert len(refused) == 3
        assert {e.message for e in refused} == {"本次拼团每人限购 3 份，你还可以再买 1 份。"}
        assert Order.objects.filter(user=shopper).count() == 1
        campaign.refresh_from_db()
        assert campaign.stock_taken == 2
