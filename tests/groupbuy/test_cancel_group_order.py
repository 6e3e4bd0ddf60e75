"""取消并退款 and 拼团 orders (issue #10, shoppers 2): a paid member cannot leave a
forming group (the seat counts for the neighbours; a group that does not fill
refunds everyone), nor cancel once the group filled. The page says so, and a
POST changes nothing: no refund, the seat and the campaign's units stay."""

from __future__ import annotations

import pytest
from django.urls import reverse

from groupbuy.models import Campaign, Group, GroupMember, MemberStatus
from groupbuy.services import join_group, open_group
from orders.models import OrderStatus, Refund
from tests.leaders.factories import bind

from .conftest import pay

pytestmark = pytest.mark.django_db

FORMING = (
    "拼团进行中的订单不能取消：你的名额关系到一起拼团的邻居。若到时未成团，货款将自动原路全额退回。"
)
FILLED = "拼团已成功，订单不能取消；如有问题请在收货后申请售后。"


def test_a_paid_member_of_a_forming_group_is_told_why_it_cannot_cancel(
    clock, client, shopper, point, campaign
):
    member = open_group(campaign=campaign, user=shopper, pickup_point=point)
    pay(member.order)
    order = member.order
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_GROUP
    bind(user=shopper, point=point)
    client.force_login(shopper)

    page = client.get(reverse("orders:detail", args=[order.code])).content.decode()
    assert FORMING in page
    assert 'data-cancel-reason="group"' in page
    assert "取消并退款" not in page

    answer = client.post(reverse("orders:cancel_refund", args=[order.code]), follow=True)

    assert FORMING in answer.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_GROUP
    assert not Refund.objects.exists()
    group = Group.objects.get(pk=member.group_id)
    assert (group.seats_taken, group.paid_count) == (1, 1)
    assert GroupMember.objects.get(pk=member.pk).status == MemberStatus.PAID
    assert Campaign.objects.get(pk=campaign.pk).stock_taken == 1


def test_an_order_of_a_filled_group_cannot_be_cancelled_either(
    clock, client, shopper, other_shopper, point, campaign
):
    opener = open_group(campaign=campaign, user=shopper, pickup_point=point)
    pay(opener.order)
    group = Group.objects.get(pk=opener.group_id)
    joined = join_group(group=group, user=other_shopper, pickup_point=point)
    pay(joined.order)
    order = joined.order
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    bind(user=other_shopper, point=point)
    client.force_login(other_shopper)

    page = client.get(reverse("orders:detail", args=[order.code])).content.decode()
    assert FILLED in page

    client.post(reverse("orders:cancel_refund", args=[order.code]))

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert not Refund.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).stock_taken == 2
