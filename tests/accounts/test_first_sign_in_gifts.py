"""A shopper's first sign-in brings the 新人券 and records the 老带新 invitation
whatever the channel: SMS code, or WeChat (the sandbox's 模拟微信授权 driving
allauth's real weixin login, callback and phone binding)."""

from __future__ import annotations

import logging
import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from marketing.models import Coupon, CouponChannel, CouponKind
from tests.marketing.m1_support import template
from tuangou.accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def welcome(db):
    """One active 新人券 template and the two REFERRAL templates."""
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
    return new_user, friend


def _sms_code(caplog) -> str:
    return re.findall(r"code=(\d{6})", caplog.text)[-1]


def _wechat_first_sign_in(client, caplog, *, phone: str, who: str = "self", nickname="小红帽"):
    """微信授权登录 → 模拟微信授权 允许 → allauth's callback → 绑定手机号 → code."""
    start = client.post(reverse("weixin_login"), {"process": "login"})
    authorize_url = start["Location"]
    allowed = client.post(authorize_url, {"allow": "1", "who": who, "nickname": nickname})
    done = client.get(allowed["Location"])
    assert done["Location"] == reverse("socialaccount_signup"), done
    sent = client.post(reverse("socialaccount_signup"), {"phone": phone})
    assert sent.status_code == 302
    signed_in = client.post(sent["Location"], {"code": _sms_code(caplog)}, follow=True)
    assert signed_in.status_code == 200
    return signed_in


def _wechat_again(client):
    start = client.post(reverse("weixin_login"), {"process": "login"})
    allowed = client.post(start["Location"], {"allow": "1", "who": "self", "nickname": "小红帽"})
    return client.get(allowed["Location"], follow=True)


def test_a_first_wechat_sign_in_brings_the_new_shopper_coupon_once(
    client, wechat_sandbox, welcome, caplog
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    page = _wechat_first_sign_in(client, caplog, phone="13911112222")
    user = User.objects.get(pk=client.session["_auth_user_id"])
    assert SocialAccount.objects.filter(user=user, provider="weixin").exists()
    assert list(Coupon.objects.filter(user=user).values_list("template", "channel")) == [
        (welcome[0].pk, CouponChannel.NEW_USER)
    ]
    assert "新人券已放入" in "".join(str(m) for m in page.context["messages"])
    client.post(reverse("account_logout"))
    again = _wechat_again(client)
    assert client.session["_auth_user_id"] == str(user.pk)
    assert Coupon.objects.filter(user=user).count() == 1
    assert "新人券" not in "".join(str(m) for m in again.context["messages"])


def test_a_phone_account_first_signed_in_by_wechat_gets_the_coupon_once(
    client, wechat_sandbox, welcome, shopper, caplog
):
    """绑定手机号 with a number that already has an account (never signed in):
    the code signs that account in, binds the WeChat and brings the 新人券."""
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    assert shopper.last_login is None
    start = client.post(reverse("weixin_login"), {"process": "login"})
    allowed = client.post(start["Location"], {"allow": "1", "who": "self", "nickname": "小红帽"})
    client.get(allowed["Location"])
    sent = client.post(reverse("socialaccount_signup"), {"phone": "13800000001"})
    assert sent["Location"] == reverse("account_confirm_login_code")
    done = client.post(sent["Location"], {"code": _sms_code(caplog)}, follow=True)
    assert client.session["_auth_user_id"] == str(shopper.pk)
    assert SocialAccount.objects.get().user == shopper
    assert Coupon.objects.filter(user=shopper, template=welcome[0]).count() == 1
    said = [str(m) for m in done.context["messages"]]
    assert said[1:] == ["登录成功，欢迎你，张阿姨！", "微信已绑定到此账号。", said[-1]]
    assert "新人券已放入" in said[-1]


def test_two_devices_signing_in_first_at_once_make_one_first_sign_in(rf, welcome, shopper):
    """Both requests loaded the account before either stamped last_login: the
    compare-and-set lets one of them be the first."""
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.cache import SessionStore

    from tuangou.accounts.adapter import AccountAdapter

    answers = []
    for _device in range(2):
        stale = User.objects.get(pk=shopper.pk)
        request = rf.post("/")
        request.session = SessionStore()
        request._messages = FallbackStorage(request)
        answers.append((request, stale))
    adapter = AccountAdapter()
    for request, stale in answers:
        adapter.login(request, stale)
    assert [getattr(r, AccountAdapter.FIRST_SIGN_IN_ATTR) for r, _ in answers] == [True, False]
    assert Coupon.objects.filter(user=shopper).count() == 0  # post_login hands it out
