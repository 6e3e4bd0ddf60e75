"""A stand-in for WeChat's OAuth servers, for demos (like orders/payments/sandbox.py).

The 模拟微信授权 page (views.sandbox_authorize) plays open.weixin.qq.com: the
visitor says who they are on WeChat and taps 允许; the page sends the browser
to allauth's real weixin callback with a one-time code. allauth's real client
then exchanges the code for a token and fetches the user info over HTTP, at
ACCESS_TOKEN_URL and USERINFO_URL below. Those requests never leave the
process: `SandboxWechatTransport`, mounted on allauth's requests session by
SocialAccountAdapter.get_requests_session, answers them as WeChat does —
HTTP 200, text/plain without a charset, UTF-8 JSON, `errcode`/`errmsg` on
errors — so the callback, the state check, the unionid key and the phone
binding are the production code, under runserver, gunicorn or the test
client alike (no second server, no network).

Codes and tokens live in the Django cache: a code for five minutes and for
one use, a token for two hours, as WeChat does. The openid is derived from
the AppID and the unionid, so it differs per AppID and the unionid is what
links accounts, as with the real thing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, get_random_string
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

# A reserved top-level domain: if the transport were ever missing, the request
# fails to resolve instead of reaching anyone.
SANDBOX_API = "https://api.weixin.sandbox.invalid"
ACCESS_TOKEN_URL = f"{SANDBOX_API}/sns/oauth2/access_token"
USERINFO_URL = f"{SANDBOX_API}/sns/userinfo"

CODE_TIMEOUT = 5 * 60
TOKEN_TIMEOUT = 2 * 3600
# Seeded demo personas are bound to WeChat under these unionids (accounts/demo.py).
DEMO_UNIONID_PREFIX = "sandbox-demo-"

_CODE_KEY = "weixin_sandbox:code:{}"
_TOKEN_KEY = "weixin_sandbox:token:{}"  # noqa: S105 - a cache key


def new_unionid() -> str:
    """A simulated WeChat user, as the unionid of one open-platform account."""
    return f"sandbox-{get_random_string(16).lower()}"


def openid_for(*, appid: str, unionid: str) -> str:
    """Stable per AppID and person, like WeChat's (28 characters, starts with 'o')."""
    digest = hashlib.sha256(f"{appid}\x1f{unionid}".encode()).hexdigest()
    return f"o{digest[:27]}"


def issue_code(*, appid: str, unionid: str, nickname: str, scope: str) -> str:
    """What WeChat does when the user taps 允许: a one-time code for the callback."""
    code = get_random_string(32)
    identity = {"appid": appid, "unionid": unionid, "nickname": nickname, "scope": scope}
    cache.set(_CODE_KEY.format(code), identity, CODE_TIMEOUT)
    return code


def _configured_secret(appid: str) -> str | None:
    from allauth.socialaccount.adapter import get_adapter

    for app in get_adapter().list_apps(None, provider="weixin", client_id=appid):
        return app.secret
    return None


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


def answer_access_token(params: dict[str, str]) -> dict[str, Any]:
    """GET sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code."""
    appid = params.get("appid", "")
    secret = _configured_secret(appid)
    if secret is None:
        return _error(40013, "invalid appid")
    if not constant_time_compare(params.get("secret", ""), secret):
        return _error(40125, "invalid appsecret")
    if params.get("grant_type") != "authorization_code":
        return _error(40002, "invalid grant_type")
    key = _CODE_KEY.format(params.get("code", ""))
    identity = cache.get(key)
    # delete() says whether this call removed it: a code is good for one exchange.
    if identity is None or not cache.delete(key) or identity["appid"] != appid:
        return _error(40029, "invalid code")
    token = get_random_string(64)
    cache.set(_TOKEN_KEY.format(token), identity, TOKEN_TIMEOUT)
    return {
        "access_token": token,
        "expires_in": TOKEN_TIMEOUT,
        "refresh_token": get_random_string(64),
        "openid": openid_for(appid=appid, unionid=identity["unionid"]),
        "scope": identity["scope"],
        "unionid": identity["unionid"],
    }


def answer_userinfo(params: dict[str, str]) -> dict[str, Any]:
    """GET sns/userinfo?access_token&openid."""
    identity = cache.get(_TOKEN_KEY.format(params.get("access_token", "")))
    if identity is None:
        return _error(40001, "invalid credential, access_token is invalid or not latest")
    openid = openid_for(appid=identity["appid"], unionid=identity["unionid"])
    if params.get("openid") != openid:
        return _error(40003, "invalid openid")
    return {
        "openid": openid,
        "nickname": identity["nickname"],
        "sex": 0,
        "province": "",
        "city": "",
        "country": "CN",
        "headimgurl": "",
        "privilege": [],
        "unionid": identity["unionid"],
    }


ROUTES = {
    urlsplit(ACCESS_TOKEN_URL).path: answer_access_token,
    urlsplit(USERINFO_URL).path: answer_userinfo,
}


class SandboxWechatTransport(BaseAdapter):
    """A requests transport that answers WeChat's OAuth API in-process."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = urlsplit(request.url)
        params = dict(parse_qsl(url.query))
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            params.update(parse_qsl(body))
        route = ROUTES.get(url.path)
        payload = route(params) if route else _error(-1, "system error")
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        # WeChat's exact header: no charset, so requests decodes the body as
        # ISO-8859-1, and allauth's adapter re-decodes the nickname from that.
        response.headers = CaseInsensitiveDict({"Content-Type": "text/plain"})
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self) -> None:
        pass


def demo_wechat_users():
    """The seeded personas bound to a simulated WeChat (offered on the 模拟微信授权 page)."""
    from allauth.socialaccount.models import SocialAccount

    return list(
        SocialAccount.objects.filter(provider="weixin", uid__startswith=DEMO_UNIONID_PREFIX)
        .select_related("user")
        .order_by("uid")
    )
