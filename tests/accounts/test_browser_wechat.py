"""微信授权登录 end to end in a phone browser (390×844) inside WeChat, through
the demo's 模拟微信授权: the real allauth callback, 绑定手机号 with an SMS code
(with its countdown), and the shopper lands signed in where they were going."""

from __future__ import annotations

import logging
import os
import re

import pytest
from allauth.socialaccount.models import SocialAccount

from tuangou.accounts.models import User

SHOTS = os.environ.get("SIGN_IN_SCREENSHOTS")  # a folder, to look at the pages

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322f) NetType/WIFI "
    "Language/zh_CN"
)


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_shopper_signs_in_with_the_sandbox_wechat_on_a_phone(
    browser, browser_context_args, live_server, wechat_sandbox, caplog
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    context = browser.new_context(**{**browser_context_args, "user_agent": WECHAT_UA})
    page = context.new_page()
    assert page.viewport_size == {"width": 390, "height": 844}

    # Inside WeChat the green 微信授权登录 comes first, above the phone form.
    page.goto(f"{live_server.url}/accounts/login/code/?next=/orders/")
    wechat = page.get_by_role("button", name="微信授权登录")
    phone = page.get_by_label("手机号")
    assert wechat.bounding_box()["y"] < phone.bounding_box()["y"]
    _fits_the_phone(page)
    _shot(page, "1-sign-in-in-wechat")
    wechat.click()

    # 模拟微信授权: who am I on WeChat, 允许.
    page.wait_for_selector("text=模拟微信授权")
    assert page.title() == "模拟微信授权"
    page.get_by_label("微信昵称").fill("小红帽")
    _shot(page, "2-sandbox-authorise")
    _fits_the_phone(page)
    page.get_by_role("button", name="允许").click()

    # Back through allauth's weixin callback: 绑定手机号.
    page.wait_for_selector("h1:has-text('绑定手机号')")
    assert "小红帽" in page.inner_text(".auth-lead")
    _shot(page, "3-bind-phone")
    page.get_by_label("手机号").fill("139 1111 2222")
    page.get_by_role("button", name="获取验证码").click()

    # The code page: the number as people write it, the resend held for a minute.
    page.wait_for_selector("h1:has-text('输入验证码')")
    assert "验证码已发送至 139 1111 2222" in page.inner_text(".auth-lead")
    resend = page.locator("button[data-resend-wait]")
    assert resend.is_disabled()
    assert re.fullmatch(r"(60|59|58)秒后重新获取", resend.inner_text())
    _fits_the_phone(page)
    _shot(page, "4-enter-code")
    code = re.findall(r"code=(\d{6})", caplog.text)[-1]
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="确定").click()

    # Signed in, named by nickname, where the shopper was going.
    page.wait_for_url(f"{live_server.url}/orders/")
    assert "登录成功，欢迎你，小红帽！" in page.inner_text(".messages")
    _shot(page, "5-signed-in")
    user = User.objects.get(phone="+8613911112222")
    assert (user.nickname, user.phone_verified) == ("小红帽", True)
    assert SocialAccount.objects.get().user == user
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_outside_wechat_the_phone_comes_first_and_wechat_below(
    browser, browser_context_args, live_server, wechat_sandbox
):
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/code/")
    wechat = page.get_by_role("button", name="微信授权登录")
    phone = page.get_by_label("手机号")
    assert phone.bounding_box()["y"] < wechat.bounding_box()["y"]
    # Both within the first screen of a phone.
    assert wechat.bounding_box()["y"] + wechat.bounding_box()["height"] <= 844
    _fits_the_phone(page)
    _shot(page, "0-sign-in-outside-wechat")
    context.close()
