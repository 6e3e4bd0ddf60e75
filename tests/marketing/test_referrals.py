"""老带新: the invite link signs a new neighbour up with a gift, the inviter is
rewarded after the first pickup, and each fraud rule stops a reward."""

from __future__ import annotations

import logging
import re
from decimal import Decimal

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from leaders.services import choose_pickup_point
from marketing.models import (
    Coupon,
    CouponChannel,
    CouponKind,
    CouponStatus,
    InviteCode,
    Referral,
    ReferralStatus,
)
from marketing.services import referrals
from orders.models import OrderStatus, RefundReason
from orders.services.pickup import hand_out_everything
from orders.services.refunds import refund_lines
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW
from tests.marketing.m1_support import template
from tests.orders.shopper_helpers import complete, deliver, pay, place
from tuangou.accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def gifts(db):
    """The two REFERRAL templates: ¥5 no-threshold for the friend, 满30减10 for the inviter."""
    friend = template(
        name="好友首单立减5元",
        kind=CouponKind.NO_THRESHOLD,
        channel=CouponChannel.REFERRAL,
        amount="5.00",
        threshold="0.00",
    )
    inviter = template(
        name="邀请奖励满30减10",
        channel=CouponChannel.REFERRAL,
        amount="10.00",
        threshold="30.00",
        per_user=100,
    )
    return friend, inviter


@pytest.fixture
def apples(point):
    sku = SkuFactory(product__name="苹果", spec="1kg", price=Decimal("12.00"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


def _neighbour(phone: str, name: str = "") -> User:
    n = User.objects.count()
    return User.objects.create(username=f"n{n}-{phone[-8:]}", phone=phone, nickname=name)


def _first_order(user, point, sku):
    """Placed, paid and picked up."""
    choose_pickup_point(user=user, pickup_point=point)
    return complete(pay(place(user, point, (sku, 1))))


def test_a_new_neighbour_signs_up_through_the_link_and_gets_the_gift(
    client, shopper, gifts, caplog
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    code = referrals.invite_code_for(user=shopper).code
    assert referrals.invite_code_for(user=shopper).code == code  # made once
    landing = client.get(reverse("marketing:invite_landing", args=[code]))
    page = landing.content.decode()
    assert "张阿姨 邀请您加入" in page
    login_href = re.search(r'href="([^"]*login/code/[^"]*)"', page).group(1)
    sent = client.post(login_href.replace("&amp;", "&"), {"phone": "13655556666"})
    sms = re.findall(r"code=(\d{6})", caplog.text)[-1]
    client.post(sent["Location"], {"code": sms})
    friend = User.objects.get(phone="+8613655556666")
    referral = Referral.objects.get()
    assert (referral.inviter, referral.invitee, referral.status) == (
        shopper,
        friend,
        ReferralStatus.PENDING,
    )
    assert referral.invitee_phone == "+8613655556666"
    gift = Coupon.objects.get(user=friend, template=gifts[0])
    assert (gift.status, gift.channel) == (CouponStatus.UNUSED, CouponChannel.REFERRAL)
    # 我的邀请 shows the friend waiting for the first pickup, the link and the QR.
    client.force_login(shopper)
    mine = client.get(reverse("marketing:invite")).content.decode()
    assert f"/promo/invite/{code}/" in mine and "data:image/svg+xml;base64," in mine
    assert "等待首单提货" in mine and "136****6666" in mine


def test_an_existing_shopper_or_the_inviter_gets_nothing(client, shopper, other_shopper, gifts):
    code = referrals.invite_code_for(user=shopper).code
    assert referrals.record_referral(invitee=shopper, code=code) is None  # self-invite
    client.force_login(other_shopper)
    page = client.get(reverse("marketing:invite_landing", args=[code])).content.decode()
    assert "邀请礼仅限新用户领取" in page
    client.force_login(shopper)
    own = client.get(reverse("marketing:invite_landing", args=[code]))
    assert own["Location"] == reverse("marketing:invite")
    assert client.get(reverse("marketing:invite_landing", args=["NOPE1234"])).status_code == 404
    assert Referral.objects.count() == 0
    assert Coupon.objects.count() == 0


def test_the_inviter_is_rewarded_after_the_first_pickup_once(shopper, gifts, point, apples):
    friend = _neighbour("+8613912345678", "小周")
    referral = referrals.record_referral(
        invitee=friend, code=referrals.invite_code_for(user=shopper).code
    )
    order = _first_order(friend, point, apples)
    rewarded = referrals.reward_referral_for_order(order=order)
    assert rewarded.status == ReferralStatus.REWARDED
    assert rewarded.first_order == order
    coupon = rewarded.inviter_coupon
    assert (coupon.user, coupon.template) == (shopper, gifts[1])
    # A second completion, or the friend's next order, changes nothing.
    referrals.reward_referral_for_order(order=order)
    second = _first_order(friend, point, apples)
    referrals.reward_referral_for_order(order=second)
    assert Coupon.objects.filter(user=shopper).count() == 1
    referral.refresh_from_db()
    assert referral.first_order == order


def _referred(inviter, invitee):
    return referrals.record_referral(
        invitee=invitee, code=referrals.invite_code_for(user=inviter).code
    )


def test_one_reward_per_phone(shopper, other_shopper, gifts, point, apples):
    first = _neighbour("+8613911110001")
    _referred(shopper, first)
    referrals.reward_referral_for_order(order=_first_order(first, point, apples))
    # The same number comes back on a new account (the old one gave it up).
    User.objects.filter(pk=first.pk).update(phone=None)
    again = _neighbour("+8613911110001")
    _referred(other_shopper, again)
    rejected = referrals.reward_referral_for_order(order=_first_order(again, point, apples))
    assert rejected.status == ReferralStatus.REJECTED
    assert rejected.reject_reason == "该手机号已领取过邀请奖励"
    assert not Coupon.objects.filter(user=other_shopper).exists()


def test_one_reward_per_wechat_unionid(shopper, other_shopper, gifts, point, apples):
    first, second = _neighbour("+8613922220001"), _neighbour("+8615833330002")
    SocialAccount.objects.create(user=first, provider="weixin", uid="union-1")
    _referred(shopper, first)
    referrals.reward_referral_for_order(order=_first_order(first, point, apples))
    # The WeChat moves to a second account: its referral carries the same unionid.
    SocialAccount.objects.filter(user=first).delete()
    SocialAccount.objects.create(
        user=second, provider="weixin", uid="union-1", extra_data={"unionid": "union-1"}
    )
    referral = _referred(other_shopper, second)
    assert referral.invitee_unionid == "union-1"
    rejected = referrals.reward_referral_for_order(order=_first_order(second, point, apples))
    assert rejected.reject_reason == "该微信账号已领取过邀请奖励"


def test_one_reward_per_delivery_address(shopper, other_shopper, gifts, point, apples):
    # Two numbers of one block collecting at one pickup point: one household.
    first, second = _neighbour("+8617012340001"), _neighbour("+8617012340002")
    _referred(shopper, first)
    assert (
        referrals.reward_referral_for_order(order=_first_order(first, point, apples)).status
        == ReferralStatus.REWARDED
    )
    _referred(other_shopper, second)
    rejected = referrals.reward_referral_for_order(order=_first_order(second, point, apples))
    assert rejected.reject_reason == "该收货地址已领取过邀请奖励"


def test_another_block_or_another_point_is_another_address(
    shopper, gifts, point, other_pickup_point, apples
):
    first, second, third = (
        _neighbour("+8617012340001"),
        _neighbour("+8618812340002"),
        _neighbour("+8617012340003"),
    )
    set_stock(sku=apples, warehouse=other_pickup_point.warehouse, delivery_date=TOMORROW,
              quantity=100)  # fmt: skip
    for friend, where in ((first, point), (second, point), (third, other_pickup_point)):
        _referred(shopper, friend)
        done = referrals.reward_referral_for_order(order=_first_order(friend, where, apples))
        assert done.status == ReferralStatus.REWARDED, done.reject_reason
    assert Coupon.objects.filter(user=shopper).count() == 3


def test_the_inviters_own_second_account_is_not_rewarded(shopper, gifts, point, apples):
    # alice (+8613800000001) collects at the point; her "friend" has a number of
    # the same block and collects there too.
    _first_order(shopper, point, apples)
    twin = _neighbour("+8613800009999")
    _referred(shopper, twin)
    rejected = referrals.reward_referral_for_order(order=_first_order(twin, point, apples))
    assert rejected.status == ReferralStatus.REJECTED
    assert rejected.reject_reason.startswith("被邀请人与邀请人在同一自提点取货且手机号段相同")
    assert not Coupon.objects.filter(user=shopper).exists()


def test_a_refunded_first_order_cancels_the_reward(shopper, gifts, point, apples, settings):
    friend = _neighbour("+8613977770001")
    _referred(shopper, friend)
    order = _first_order(friend, point, apples)
    referral = referrals.reward_referral_for_order(order=order)
    coupon = referral.inviter_coupon
    refund_lines(
        order=order,
        quantities={order.lines.get().pk: 1},
        reason=RefundReason.AFTER_SALE,
    )
    cancelled = referrals.cancel_referral_for_refund(order=order)
    assert cancelled.status == ReferralStatus.CANCELLED
    assert cancelled.reject_reason == "首单已退款"
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.REVOKED


def test_a_partial_refund_keeps_the_reward(shopper, gifts, point, apples):
    friend = _neighbour("+8613977770002")
    _referred(shopper, friend)
    choose_pickup_point(user=friend, pickup_point=point)
    order = complete(pay(place(friend, point, (apples, 3))))
    referral = referrals.reward_referral_for_order(order=order)
    refund_lines(order=order, quantities={order.lines.get().pk: 1}, reason=RefundReason.AFTER_SALE)
    assert referrals.cancel_referral_for_refund(order=order).status == ReferralStatus.REWARDED
    referral.inviter_coupon.refresh_from_db()
    assert referral.inviter_coupon.status == CouponStatus.UNUSED


def test_invite_codes_are_unique_and_readable(shopper, other_shopper):
    codes = {referrals.invite_code_for(user=u).code for u in (shopper, other_shopper)}
    assert len(codes) == 2 and InviteCode.objects.count() == 2
    assert all(re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", c) for c in codes)
    assert referrals.phone_prefix("+8613800138000") == "1380013"


def test_the_hooks_by_id_cost_one_query_for_shoppers_without_a_referral(
    shopper, gifts, point, apples, django_assert_num_queries
):
    order = _first_order(shopper, point, apples)
    with django_assert_num_queries(1):
        assert referrals.referral_order_completed(user_id=shopper.pk, order_id=order.pk) is None
    with django_assert_num_queries(1):
        assert referrals.referral_order_refunded(user_id=shopper.pk, order_id=order.pk) is None
    friend = _neighbour("+8613966660001")
    _referred(shopper, friend)
    first = _first_order(friend, point, apples)
    done = referrals.referral_order_completed(user_id=friend.pk, order_id=first.pk)
    assert done.status == ReferralStatus.REWARDED


def test_a_wechat_bound_after_sign_up_still_counts_once(
    shopper, other_shopper, gifts, point, apples
):
    first, second = _neighbour("+8613922220011"), _neighbour("+8615833330012")
    _referred(shopper, first)
    _referred(other_shopper, second)  # both signed up by phone: no unionid yet
    SocialAccount.objects.create(user=first, provider="weixin", uid="union-9")
    referrals.reward_referral_for_order(order=_first_order(first, point, apples))
    SocialAccount.objects.filter(user=first).delete()
    SocialAccount.objects.create(user=second, provider="weixin", uid="union-9")
    rejected = referrals.reward_referral_for_order(order=_first_order(second, point, apples))
    assert rejected.reject_reason == "该微信账号已领取过邀请奖励"


def test_orders_own_completion_and_refund_reward_and_cancel_the_referral(
    shopper, gifts, point, apples, django_capture_on_commit_callbacks
):
    """No direct call: picking up the first order rewards the inviter (orders'
    completion → marketing's reward task), refunding it in full cancels it."""
    friend = _neighbour("+8613977770003")
    referral = _referred(shopper, friend)
    choose_pickup_point(user=friend, pickup_point=point)
    order = deliver(pay(place(friend, point, (apples, 1))))
    with django_capture_on_commit_callbacks(execute=True):
        # The leader hands the parcel out at the counter: the order completes.
        hand_out_everything(pickup_point=point, orders=[order], actor=point.leader.user)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REWARDED
    assert referral.first_order == order
    refund_lines(order=order, quantities={order.lines.get().pk: 1}, reason=RefundReason.AFTER_SALE)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.CANCELLED
    referral.inviter_coupon.refresh_from_db()
    assert referral.inviter_coupon.status == CouponStatus.REVOKED
