"""After `seed_demo`, the README's first persona of each role can do what a
newcomer tries first, at once and at any hour (issue #10, shoppers item 8).

The demo shopper (张阿姨) changes pickup point straight away (the demo's own
binding is no recent change), buys for the next delivery and joins an open
拼团; the leader (王丽) has parcels waiting to hand out and money to withdraw
(whatever the orders earned: an approved bonus tops her up); finance has a
withdrawal to approve and closed periods with statements; operators have a
claim and an application to review.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

SHANGHAI = ZoneInfo("Asia/Shanghai")

MOMENTS = [
    datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI),  # an afternoon
    datetime(2026, 11, 26, 2, 18, tzinfo=SHANGHAI),  # the night hour
]


@pytest.fixture(params=MOMENTS, ids=lambda m: f"{m:%Y-%m-%d %H:%M}")
def demo(request, db):
    with time_machine.travel(request.param, tick=True) as traveller:
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        yield traveller


def _user(username):
    from tuangou.accounts.models import User

    return User.objects.get(username=username)


def _shopper_changes_pickup_point_at_once(client):
    from leaders.models import PickupPoint, ShopperBinding

    shopper = _user("shopper")
    before = ShopperBinding.objects.get(user=shopper)
    other = PickupPoint.objects.visible_to_shoppers().exclude(pk=before.pickup_point_id)
    target = other.order_by("pk").first()
    client.force_login(shopper)
    response = client.post(reverse("leaders:choose_point"), {"point": target.pk}, follow=True)
    assert f"已绑定自提点：{target.name}。" in response.content.decode()
    assert ShopperBinding.objects.get(user=shopper).pickup_point_id == target.pk


def _shopper_buys_for_the_next_delivery_and_can_join_a_group():
    from catalog.models import Sku
    from groupbuy import services as groupbuy
    from groupbuy.models import Group
    from leaders.selectors import pickup_point_for_shopper
    from orders.models import OrderStatus
    from orders.services.checkout import Want, place_order

    shopper = _user("shopper")
    point = pickup_point_for_shopper(user=shopper)
    tomato = Sku.objects.get(code="tomato-1")
    order = place_order(user=shopper, wants=[Want(tomato.pk, 1)], pickup_point=point)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.goods_total == tomato.price
    joinable = [
        g
        for g in Group.objects.filter(status="open").order_by("pk")
        if not g.members.filter(user=shopper).exists() and g.seats_left > 0
    ]
    assert joinable, "no open 拼团 with a free seat for the demo shopper"
    seat = groupbuy.join_group(group=joinable[0], user=shopper, pickup_point=point)
    assert seat.order.user == shopper


def _leader_has_parcels_to_hand_out_and_money_to_withdraw(client):
    from leaders.commission import services as commission
    from leaders.commission.models import CommissionAccount, Withdrawal, WithdrawalStatus
    from leaders.models import Leader
    from orders.models import Order, OrderStatus

    wang = Leader.objects.get(user__username="leader")
    assert wang.real_name == "王丽"
    waiting = Order.objects.filter(
        pickup_point__leader=wang, status=OrderStatus.READY_FOR_PICKUP
    ).count()
    assert waiting >= 1
    account = CommissionAccount.objects.get(leader=wang)
    minimum = commission.withdrawal_minimum()
    assert account.available >= Decimal("50.00") > minimum
    client.force_login(wang.user)
    response = client.post(
        reverse("leaders:money_withdraw"),
        {
            "amount": str(minimum),
            "method": "bank",
            "account_name": "王丽",
            "bank_name": "长沙银行",
            "account_number": "6214830000012345",
        },
    )
    assert response.status_code == 302, re.sub(r"\s+", " ", response.content.decode())[-1500:]
    mine = Withdrawal.objects.filter(leader=wang, status=WithdrawalStatus.REQUESTED)
    assert mine.filter(amount=minimum).count() >= 1
    account.refresh_from_db()
    assert account.available >= Decimal("40.00")


def _finance_and_operators_have_work_waiting():
    from leaders.commission import services as commission
    from leaders.commission.models import Settlement, Withdrawal, WithdrawalStatus
    from leaders.models import LeaderApplication
    from orders.models import AfterSaleClaim

    waiting = Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED).order_by("pk").first()
    assert waiting is not None
    assert commission.approve_withdrawal(withdrawal=waiting, actor=_user("finance")) is True
    assert Settlement.objects.filter(status="closed").exclude(statement="").exists()
    assert AfterSaleClaim.objects.filter(status="open").exists()
    assert LeaderApplication.objects.filter(status="pending").exists()


def test_each_demo_persona_can_do_what_the_readme_suggests(demo, client):
    """One seed per moment (a seed takes ~20 s): the personas' tasks in turn,
    each on what the one before left, as a newcomer would try them."""
    _finance_and_operators_have_work_waiting()
    _leader_has_parcels_to_hand_out_and_money_to_withdraw(client)
    client.logout()
    _shopper_buys_for_the_next_delivery_and_can_join_a_group()
    _shopper_changes_pickup_point_at_once(client)
