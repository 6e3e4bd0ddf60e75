"""老带新 through WeChat: an invite link, then a first sign-in by 微信授权登录
(the sandbox's 模拟微信授权 driving allauth's real weixin login, callback and
绑定手机号) records the invitation with the WeChat's unionid, once; and the
one-reward-per-unionid rule holds for accounts made that way."""

from __future__ import annotations

import logging
import re
from decimal import Decimal

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from leaders.services import choose_pickup_point
from marketing.models import Coupon, CouponChannel, CouponKind, Referral, ReferralStatus
from marketing.services import referrals
from tests.accounts.conftest import wechat_sandbox  # noqa: F401 - fixture
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW
from tests.marketing.m1_support import template
from tests.orders.shopper_helpers import complete, pay, place
from tuangou.accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock", "wechat_sandbox")]


@pytest.fixture
def gifts(db):
    new_user = template(
        name="新人无门槛券",
        kind=CouponKind.NO_THRESHOLD,
        channel=CouponChannel.NEW_USER,
        amount="3.00",
        threshold="0.00",
    )
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
    return new_user, friend, inviter


@pytest.fixture
def apples(point):
    sku = SkuFactory(product__name="苹果", spec="1kg", price=Decimal("12.00"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


def _sms_code(caplog) -> str:
    return re.findall(r"code=(\d{6})", caplog.text)[-1]


def _through_the_link(client, inviter) -> None:
    code = referrals.invite_code_for(user=inviter).code
    landing = client.get(reverse("marketing:invite_landing", args=[code]))
    assert landing.status_code == 200


def _wechat_first_sign_in(client, caplog, *, phone: str, nickname: str = "小红帽") -> User:
    """微信授权登录 → 允许 on 模拟微信授权 → allauth's callback → 绑定手机号 → code."""
    start = client.post(reverse("weixin_login"), {"process": "login"})
    allowed = client.post(start["Location"], {"allow": "1", "who": "self", "nickname": nickname})
    done = client.get(allowed["Location"])
    assert done["Location"] == reverse("socialaccount_signup")
    sent = client.post(reverse("socialaccount_signup"), {"phone": phone})
    assert sent.status_code == 302
    client.post(sent["Location"], {"code": _sms_code(caplog)})
    return User.objects.get(pk=client.session["_auth_user_id"])


def _first_order(user, point, sku):
    choose_pickup_point(user=user, pickup_point=point)
    return complete(pay(place(user, point, (sku, 1))))


def test_an_invitee_signing_in_by_wechat_is_recorded_as_invited(client, shopper, gifts, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    _through_the_link(client, shopper)
    friend = _wechat_first_sign_in(client, caplog, phone="13655556666")
    unionid = SocialAccount.objects.get(user=friend, provider="weixin").uid
    referral = Referral.objects.get()
    assert (referral.inviter, referral.invitee, referral.status) == (
        shopper,
        friend,
        ReferralStatus.PENDING,
    )
    assert (referral.invitee_phone, referral.invitee_unionid) == ("+8613655556666", unionid)
    assert sorted(Coupon.objects.filter(user=friend).values_list("template__name", flat=True)) == [
        "好友首单立减5元",
        "新人无门槛券",
    ]
    # Signing in again (WeChat knows this browser now) records and gives nothing more.
    client.post(reverse("account_logout"))
    _through_the_link(client, shopper)
    start = client.post(reverse("weixin_login"), {"process": "login"})
    allowed = client.post(start["Location"], {"allow": "1", "who": "self", "nickname": "小红帽"})
    client.get(allowed["Location"])
    assert client.session["_auth_user_id"] == str(friend.pk)
    assert Referral.objects.count() == 1
    assert Coupon.objects.filter(user=friend).count() == 2


def test_a_wechat_taken_to_a_second_account_earns_no_second_reward(
    client, shopper, other_shopper, gifts, point, apples, caplog
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    _through_the_link(client, shopper)
    first = _wechat_first_sign_in(client, caplog, phone="13922220001")
    rewarded = referrals.reward_referral_for_order(order=_first_order(first, point, apples))
    assert rewarded.status == ReferralStatus.REWARDED
    # The first account gives its WeChat up; the same WeChat (this browser's
    # 模拟微信 person) comes back through another friend's link with a new phone.
    unionid = SocialAccount.objects.get(user=first).uid
    SocialAccount.objects.filter(user=first).delete()
    client.post(reverse("account_logout"))
    _through_the_link(client, other_shopper)
    second = _wechat_first_sign_in(client, caplog, phone="15833330002")
    assert second.pk != first.pk
    referral = Referral.objects.get(invitee=second)
    assert (referral.inviter, referral.invitee_unionid) == (other_shopper, unionid)
    rejected = referrals.reward_referral_for_order(order=_first_order(second, point, apples))
    assert rejected.status == ReferralStatus.REJECTED
    assert rejected.reject_reason == "该微信账号已领取过邀请奖励"
    assert not Coupon.objects.filter(user=other_shopper).exists()
