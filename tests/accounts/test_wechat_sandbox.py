"""微信授权登录 on the sign-in page, the demo's 模拟微信授权, and WeChat switched off.

The sandbox runs allauth's real weixin login and callback views, its real
OAuth client and the project's account binding; only WeChat's servers are
played by tuangou/accounts/weixin/sandbox.py (in-process, text/plain JSON).
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from tuangou.accounts.models import User
from tuangou.accounts.weixin import sandbox

from .conftest import SANDBOX_APP_ID

pytestmark = pytest.mark.django_db

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322f) NetType/WIFI"
)


def _start(client) -> str:
    """Tap 微信授权登录: allauth sends the browser to the authorisation page."""
    start = client.post(reverse("weixin_login"), {"process": "login"})
    assert start.status_code == 302
    return start["Location"]


def _allow(client, authorize_url: str, **form) -> str:
    page = client.get(authorize_url)
    assert page.status_code == 200
    assert "模拟微信授权" in page.content.decode()
    allowed = client.post(authorize_url, {"allow": "1", **form})
    assert allowed.status_code == 302, allowed.content.decode()[:800]
    return allowed["Location"]


def _sms_code(caplog) -> str:
    return re.findall(r"code=(\d{6})", caplog.text)[-1]


# --- WeChat not configured (the default) ---------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_wechat_sign_in_answers_a_404_page_when_wechat_is_off(client, no_wechat, method):
    response = getattr(client, method)(reverse("weixin_login"))
    assert response.status_code == 404
    html = response.content.decode()
    assert "微信登录暂未开放" in html
    assert f'href="{reverse("account_request_login_code")}"' in html


def test_the_wechat_callback_answers_a_404_page_when_wechat_is_off(client, no_wechat):
    response = client.get(reverse("weixin_callback"), {"code": "CODE", "state": "x"})
    assert response.status_code == 404
    assert "微信登录暂未开放" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_sandbox_page_is_a_404_when_wechat_is_off(client, no_wechat):
    response = client.get(reverse("weixin_sandbox_authorize"), {"appid": SANDBOX_APP_ID})
    assert response.status_code == 404


def test_the_sandbox_page_is_a_404_when_real_wechat_is_configured(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "weixin": {"APPS": [{"client_id": "wx-real", "secret": "s", "key": ""}]}
    }
    response = client.get(reverse("weixin_sandbox_authorize"), {"appid": "wx-real"})
    assert response.status_code == 404


def test_the_sign_in_page_shows_no_wechat_button_when_wechat_is_off(client, no_wechat):
    html = client.get(reverse("account_request_login_code")).content.decode()
    assert "微信授权登录" not in html
    assert reverse("weixin_login") not in html


# --- the button -------------------------------------------------------------------


def test_the_sign_in_page_offers_wechat_below_the_phone_form(client, wechat_sandbox):
    html = client.get(reverse("account_request_login_code")).content.decode()
    assert html.index('name="phone"') < html.index(f'action="{reverse("weixin_login")}"')
    assert 'class="btn btn-block btn-wechat" type="submit"' in html
    assert "其他登录方式" in html


def test_inside_wechat_the_wechat_button_comes_first_and_green(client, wechat_sandbox):
    html = client.get(
        reverse("account_request_login_code"), HTTP_USER_AGENT=WECHAT_UA
    ).content.decode()
    assert html.index(f'action="{reverse("weixin_login")}"') < html.index('name="phone"')
    assert 'class="btn btn-block btn-wechat is-prominent" type="submit"' in html


def test_the_wechat_button_keeps_where_the_shopper_was_going(client, wechat_sandbox):
    html = client.get(reverse("account_request_login_code") + "?next=/orders/").content.decode()
    form = html[html.index(f'action="{reverse("weixin_login")}"') :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="next" value="/orders/">' in form


# --- the whole sandbox path ---------------------------------------------------------


def test_a_new_wechat_user_binds_a_phone_through_the_sandbox(client, wechat_sandbox, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    authorize_url = _start(client)
    parts = urlsplit(authorize_url)
    assert parts.path == reverse("weixin_sandbox_authorize")
    query = parse_qs(parts.query)
    assert query["appid"] == [SANDBOX_APP_ID]
    assert query["scope"] == ["snsapi_userinfo"]
    assert query["redirect_uri"] == ["http://testserver" + reverse("weixin_callback")]

    callback = _allow(client, authorize_url, who="self", nickname="小红帽")
    assert callback.startswith("http://testserver" + reverse("weixin_callback") + "?")
    done = client.get(callback)
    # allauth's real callback exchanged the code, read the user info, and asks
    # for the phone (绑定手机号) of this new WeChat user.
    assert done.status_code == 302, done.content.decode()[:800]
    assert done["Location"] == reverse("socialaccount_signup")
    bind = client.get(done["Location"]).content.decode()
    assert "绑定手机号" in bind
    assert "<strong>小红帽</strong>" in bind

    sent = client.post(reverse("socialaccount_signup"), {"phone": "139 1111 2222"})
    assert sent["Location"] == reverse("account_verify_phone")
    verify = client.get(sent["Location"]).content.decode()
    assert "验证码已发送至 <strong>139 1111 2222</strong>" in verify
    signed_in = client.post(reverse("account_verify_phone"), {"code": _sms_code(caplog)})
    assert signed_in.status_code == 302

    user = User.objects.get(pk=client.session["_auth_user_id"])
    assert (user.nickname, user.phone, user.phone_verified) == ("小红帽", "+8613911112222", True)
    account = SocialAccount.objects.get(user=user)
    assert account.provider == "weixin"
    assert account.uid.startswith("sandbox-")
    assert account.extra_data["unionid"] == account.uid
    assert account.extra_data["openid"] == sandbox.openid_for(
        appid=SANDBOX_APP_ID, unionid=account.uid
    )


def test_the_same_browser_is_the_same_wechat_user_next_time(client, wechat_sandbox, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    client.get(_allow(client, _start(client), who="self", nickname="小红帽"))
    client.post(reverse("socialaccount_signup"), {"phone": "13911112222"})
    client.post(reverse("account_verify_phone"), {"code": _sms_code(caplog)})
    first_user = client.session["_auth_user_id"]
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session

    page = client.get(_start(client)).content.decode()
    assert "这台手机上的微信" in page
    assert 'value="小红帽"' in page
    done = client.get(_allow(client, _start(client), who="self", nickname="小红帽"), follow=True)
    assert client.session["_auth_user_id"] == first_user
    assert [str(m) for m in done.context["messages"]] == ["登录成功，欢迎你，小红帽！"]
    assert SocialAccount.objects.count() == 1
    assert User.objects.count() == 1


def test_a_demo_persona_signs_in_with_their_bound_wechat_at_once(client, wechat_sandbox, shopper):
    SocialAccount.objects.create(
        user=shopper,
        provider="weixin",
        uid="sandbox-demo-shopper",
        extra_data={"nickname": "张阿姨", "unionid": "sandbox-demo-shopper"},
    )
    authorize_url = _start(client)
    assert "张阿姨的微信（演示账号，已绑定）" in client.get(authorize_url).content.decode()
    done = client.get(_allow(client, authorize_url, who="sandbox-demo-shopper"), follow=True)
    assert client.session["_auth_user_id"] == str(shopper.pk)
    assert [str(m) for m in done.context["messages"]] == ["登录成功，欢迎你，张阿姨！"]
    assert SocialAccount.objects.count() == 1


def test_denying_on_the_sandbox_page_signs_nobody_in(client, wechat_sandbox):
    authorize_url = _start(client)
    denied = client.post(authorize_url, {"deny": "1", "who": "self", "nickname": "x"})
    page = client.get(denied["Location"], follow=True)
    assert page.redirect_chain[-1][0] == reverse("socialaccount_login_cancelled")
    assert "微信登录已取消" in page.content.decode()
    assert "_auth_user_id" not in client.session
    assert User.objects.count() == 0


def test_a_nickname_is_required_for_a_new_wechat_user(client, wechat_sandbox):
    authorize_url = _start(client)
    response = client.post(authorize_url, {"allow": "1", "who": "self", "nickname": ""})
    assert response.status_code == 200
    assert "请填写微信昵称。" in response.content.decode()


def test_the_sandbox_sends_codes_only_back_to_this_site(client, wechat_sandbox):
    authorize_url = _start(client)
    query = parse_qs(urlsplit(authorize_url).query)
    evil = (
        reverse("weixin_sandbox_authorize")
        + "?"
        + "&".join(
            [
                f"appid={SANDBOX_APP_ID}",
                "redirect_uri=https%3A%2F%2Fevil.example%2Fsteal",
                "response_type=code",
                "scope=snsapi_userinfo",
                f"state={query['state'][0]}",
            ]
        )
    )
    page = client.get(evil)
    assert page.status_code == 400
    assert "redirect_uri 不是本站地址。" in page.content.decode()
    posted = client.post(evil, {"allow": "1", "who": "self", "nickname": "x"})
    assert posted.status_code == 400


def test_an_unknown_appid_is_refused(client, wechat_sandbox):
    response = client.get(
        reverse("weixin_sandbox_authorize"),
        {"appid": "wx-other", "redirect_uri": "http://testserver/", "response_type": "code"},
    )
    assert response.status_code == 400
    assert "appid 无效。" in response.content.decode()


# --- the sandbox API answers as WeChat does -----------------------------------------


def _api(url: str, **params: str):
    with get_adapter().get_requests_session() as session:
        return session.get(url, params=params)


def test_the_sandbox_api_answers_text_plain_json_like_wechat(wechat_sandbox):
    code = sandbox.issue_code(
        appid=SANDBOX_APP_ID, unionid="sandbox-u1", nickname="小红帽", scope="snsapi_userinfo"
    )
    token = _api(
        sandbox.ACCESS_TOKEN_URL,
        appid=SANDBOX_APP_ID,
        secret="sandbox-secret",
        code=code,
        grant_type="authorization_code",
    )
    assert token.status_code == 200
    assert token.headers["Content-Type"] == "text/plain"
    data = token.json()
    openid = sandbox.openid_for(appid=SANDBOX_APP_ID, unionid="sandbox-u1")
    assert (data["openid"], data["unionid"], data["expires_in"]) == (openid, "sandbox-u1", 7200)
    info = _api(sandbox.USERINFO_URL, access_token=data["access_token"], openid=openid)
    assert info.headers["Content-Type"] == "text/plain"
    # UTF-8 bytes under a charset-less text/plain, exactly what allauth re-decodes.
    assert json.loads(info.content.decode("utf-8"))["nickname"] == "小红帽"
    assert info.json()["nickname"] == "小红帽".encode().decode("latin-1")


def test_a_sandbox_code_works_once_and_needs_the_right_secret(wechat_sandbox):
    code = sandbox.issue_code(
        appid=SANDBOX_APP_ID, unionid="sandbox-u1", nickname="老王", scope="snsapi_userinfo"
    )
    base = {"appid": SANDBOX_APP_ID, "code": code, "grant_type": "authorization_code"}
    wrong = _api(sandbox.ACCESS_TOKEN_URL, **base, secret="guess").json()
    assert wrong == {"errcode": 40125, "errmsg": "invalid appsecret"}
    first = _api(sandbox.ACCESS_TOKEN_URL, **base, secret="sandbox-secret").json()
    assert "access_token" in first
    again = _api(sandbox.ACCESS_TOKEN_URL, **base, secret="sandbox-secret").json()
    assert again == {"errcode": 40029, "errmsg": "invalid code"}
    bad_token = _api(sandbox.USERINFO_URL, access_token="nope", openid=first["openid"]).json()
    assert bad_token["errcode"] == 40001


def test_a_sandbox_error_at_the_callback_signs_nobody_in(client, wechat_sandbox):
    authorize_url = _start(client)
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    response = client.get(reverse("weixin_callback"), {"code": "never-issued", "state": state})
    assert response.status_code == 401
    assert "微信登录失败" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert User.objects.count() == 0


# --- 绑定手机号 with a number that already has an account ------------------------------


def _new_wechat_user_binds(client, caplog, phone: str):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    client.get(_allow(client, _start(client), who="self", nickname="小红帽"))
    return client.post(reverse("socialaccount_signup"), {"phone": phone})


def test_a_taken_phone_binds_the_wechat_to_its_account_after_the_code(
    client, wechat_sandbox, shopper, caplog
):
    sent = _new_wechat_user_binds(client, caplog, "13800000001")
    assert sent["Location"] == reverse("account_confirm_login_code")
    done = client.post(sent["Location"], {"code": _sms_code(caplog)}, follow=True)
    assert client.session["_auth_user_id"] == str(shopper.pk)
    assert [str(m) for m in done.context["messages"]] == [
        "验证码已发送",
        "登录成功，欢迎你，张阿姨！",
        "微信已绑定到此账号。",
    ]
    account = SocialAccount.objects.get()
    assert account.user == shopper
    assert account.extra_data["nickname"] == "小红帽"
    assert User.objects.count() == 1
    # Next time the WeChat alone signs the shopper in.
    client.post(reverse("account_logout"))
    client.get(_allow(client, _start(client), who="self", nickname="小红帽"))
    assert client.session["_auth_user_id"] == str(shopper.pk)


def test_a_wrong_code_binds_nothing(client, wechat_sandbox, shopper, caplog):
    sent = _new_wechat_user_binds(client, caplog, "13800000001")
    code = _sms_code(caplog)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    client.post(sent["Location"], {"code": wrong})
    assert "_auth_user_id" not in client.session
    assert SocialAccount.objects.count() == 0


def test_changing_the_number_drops_the_pending_wechat(
    client, wechat_sandbox, shopper, other_shopper, caplog
):
    _new_wechat_user_binds(client, caplog, "13800000001")
    client.post(reverse("account_change_login_phone"))
    # The same browser then signs in as someone else: their account gets no WeChat.
    client.post(reverse("account_request_login_code"), {"phone": "13800000002"})
    client.post(reverse("account_confirm_login_code"), {"code": _sms_code(caplog)})
    assert client.session["_auth_user_id"] == str(other_shopper.pk)
    assert SocialAccount.objects.count() == 0


def test_an_account_with_another_wechat_keeps_it(client, wechat_sandbox, shopper, caplog):
    SocialAccount.objects.create(user=shopper, provider="weixin", uid="sandbox-other")
    sent = _new_wechat_user_binds(client, caplog, "13800000001")
    done = client.post(sent["Location"], {"code": _sms_code(caplog)}, follow=True)
    assert client.session["_auth_user_id"] == str(shopper.pk)
    assert "此账号已绑定其他微信，未作更改。" in [str(m) for m in done.context["messages"]]
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == ["sandbox-other"]


def test_the_demo_shopper_is_bound_to_a_sandbox_wechat_and_seeding_twice_keeps_one(
    client, wechat_sandbox
):
    import io

    from tuangou.accounts import demo

    demo.seed(stdout=io.StringIO())
    demo.seed(stdout=io.StringIO())
    zhang = User.objects.get(username="shopper")
    assert list(SocialAccount.objects.values_list("user", "uid")) == [
        (zhang.pk, "sandbox-demo-shopper")
    ]
    authorize_url = _start(client)
    assert "张阿姨的微信（演示账号，已绑定）" in client.get(authorize_url).content.decode()
    client.get(_allow(client, authorize_url, who="sandbox-demo-shopper"))
    assert client.session["_auth_user_id"] == str(zhang.pk)


def test_a_plain_link_to_wechat_sign_in_asks_one_tap_to_continue(client, wechat_sandbox):
    page = client.get(reverse("weixin_login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>微信授权登录</h1>" in html
    assert ">继续</button>" in html
    go = client.post(reverse("weixin_login"))
    assert urlsplit(go["Location"]).path == reverse("weixin_sandbox_authorize")
