"""WeChat login through allauth's weixin provider, offline.

A first WeChat sign-in asks for the phone number (绑定手机号) and verifies it
by SMS code, as Chinese shops do; later sign-ins go straight in.

WeChat's servers cannot be reached here, so its two HTTP answers (the access
token and the user info) come from `responses`, shaped as WeChat sends them:
text/plain without a charset, UTF-8 bytes inside. Everything else, state
checks, the adapter and the account linking, is the real code.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db

TOKEN_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"
USERINFO_URL = "https://api.weixin.qq.com/sns/userinfo"


@pytest.fixture
def wechat_app(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "weixin": {
            "APPS": [{"client_id": "wx-test-appid", "secret": "wx-test-secret", "key": ""}],
            "SCOPE": ["snsapi_login"],
        }
    }


def _wechat_answers(rsps, *, openid: str, unionid: str | None, nickname: str) -> None:
    token = {
        "access_token": "ACCESS",
        "expires_in": 7200,
        "openid": openid,
        "scope": "snsapi_login",
    }
    info = {"openid": openid, "nickname": nickname, "headimgurl": "https://thirdwx.qlogo.cn/a.png"}
    if unionid:
        token["unionid"] = unionid
        info["unionid"] = unionid
    for url, payload in ((TOKEN_URL, token), (USERINFO_URL, info)):
        rsps.add(
            responses.GET,
            url,
            body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            content_type="text/plain",
        )


def _sign_in_with_wechat(client, rsps, **answers) -> None:
    start = client.post(reverse("weixin_login"), {"process": "login"})
    assert start.status_code == 302
    authorize = urlparse(start["Location"])
    assert authorize.netloc == "open.weixin.qq.com"
    query = parse_qs(authorize.query)
    assert query["appid"] == ["wx-test-appid"]
    _wechat_answers(rsps, **answers)
    done = client.get(
        reverse("weixin_callback"), {"code": "CODE", "state": query["state"][0]}, follow=False
    )
    assert done.status_code == 302, done.content.decode()[:500]
    return done


def _bind_phone(client, caplog, phone: str) -> None:
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    response = client.post(reverse("socialaccount_signup"), {"phone": phone})
    assert response.status_code == 302, response.content.decode()[:800]
    code = re.findall(r"code=(\d{6})", caplog.text)[-1]
    response = client.post(reverse("account_verify_phone"), {"code": code})
    assert response.status_code == 302


def test_a_wechat_user_binds_a_phone_and_keeps_a_chinese_nickname(client, wechat_app, caplog):
    with responses.RequestsMock() as rsps:
        done = _sign_in_with_wechat(
            client, rsps, openid="o-web-1", unionid="u-1", nickname="小红帽"
        )
    assert done["Location"] == reverse("socialaccount_signup")
    _bind_phone(client, caplog, "13911112222")
    account = SocialAccount.objects.get(provider="weixin")
    assert account.uid == "u-1"
    user = User.objects.get(pk=client.session["_auth_user_id"])
    assert user.nickname == "小红帽"
    assert user.phone == "+8613911112222"
    assert user.phone_verified is True


def test_the_same_person_from_another_appid_is_one_account(client, wechat_app, caplog):
    with responses.RequestsMock() as rsps:
        _sign_in_with_wechat(client, rsps, openid="o-web-1", unionid="u-1", nickname="小红帽")
    _bind_phone(client, caplog, "13911112222")
    first_user_id = client.session["_auth_user_id"]
    client.logout()
    # Inside WeChat the official account has its own AppID: another openid.
    with responses.RequestsMock() as rsps:
        done = _sign_in_with_wechat(client, rsps, openid="o-mp-9", unionid="u-1", nickname="小红帽")
    assert done["Location"] == "/"
    assert client.session["_auth_user_id"] == first_user_id
    assert SocialAccount.objects.count() == 1
    assert User.objects.count() == 1


def test_without_unionid_the_openid_is_the_key(client, wechat_app, caplog):
    with responses.RequestsMock() as rsps:
        _sign_in_with_wechat(client, rsps, openid="o-only", unionid=None, nickname="老王")
    _bind_phone(client, caplog, "13911113333")
    assert SocialAccount.objects.get().uid == "o-only"


def test_a_wechat_error_signs_nobody_in(client, wechat_app):
    start = client.post(reverse("weixin_login"), {"process": "login"})
    state = parse_qs(urlparse(start["Location"]).query)["state"][0]
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            TOKEN_URL,
            body=b'{"errcode":40029,"errmsg":"invalid code"}',
            content_type="text/plain",
        )
        response = client.get(reverse("weixin_callback"), {"code": "BAD", "state": state})
    assert response.status_code == 401
    assert "_auth_user_id" not in client.session
    assert User.objects.count() == 0
