"""老带新 on a phone (390×844): 张阿姨 opens 我的邀请 from 我的 (link, code, QR),
a new neighbour opens the link in another phone, signs up by SMS code and
finds the friend's gift in 我的优惠券; 张阿姨 sees the friend waiting."""

from __future__ import annotations

import logging
import re

import pytest

from marketing.models import CouponChannel, CouponKind, Referral
from tests.leaders.browsers import new_phone
from tests.marketing.m1_support import template


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_neighbour_signs_up_through_an_invitation_on_a_phone(
    browser, browser_context_args, live_server, settings, shopper, caplog
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    settings.SITE_URL = live_server.url
    template(name="好友首单立减5元", kind=CouponKind.NO_THRESHOLD,
             channel=CouponChannel.REFERRAL, amount="5.00", threshold="0.00")  # fmt: skip

    context, page = new_phone(browser, browser_context_args, live_server, shopper)
    page.goto(f"{live_server.url}/me/")
    page.click("[data-me=invite]")
    page.wait_for_selector("[data-invite-qr]")
    link = page.input_value("[data-invite-link]")
    code = page.inner_text("[data-invite-code]")
    assert link == f"{live_server.url}/promo/invite/{code}/"
    assert page.evaluate("document.querySelector('[data-invite-qr]').naturalWidth") > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    friend_context = browser.new_context(**browser_context_args)
    friend = friend_context.new_page()
    friend.goto(link)
    assert "张阿姨 邀请您加入" in friend.inner_text("[data-invite-landing]")
    friend.click("[data-invite-sign-in]")
    friend.fill("input[name=phone]", "136 5555 7777")
    friend.click("button[type=submit]")
    friend.wait_for_selector("input[name=code]")
    sms = re.findall(r"code=(\d{6})", caplog.text)[-1]
    friend.fill("input[name=code]", sms)
    friend.click("button[type=submit]")
    friend.wait_for_url(f"{live_server.url}/")
    assert "好友送您的首单优惠券已放入我的优惠券" in friend.inner_text(".messages")
    friend.goto(f"{live_server.url}/promo/coupons/mine/")
    assert "好友首单立减5元" in friend.inner_text("main")
    assert Referral.objects.get().invitee.phone == "+8613655557777"

    page.reload()
    assert "等待首单提货" in page.inner_text(".invite-friends")
    friend_context.close()
    context.close()
