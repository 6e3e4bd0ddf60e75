"""Is WeChat sign-in on, and is this request inside WeChat's own browser?"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def is_wechat_browser(request: HttpRequest | None) -> bool:
    """WeChat's in-app browser says MicroMessenger in its User-Agent."""
    if request is None:
        return False
    return "MicroMessenger" in request.headers.get("User-Agent", "")


def is_sandbox() -> bool:
    """The demo's 模拟微信授权 stands in for WeChat (settings WECHAT_LOGIN_SANDBOX)."""
    return bool(settings.SOCIALACCOUNT_PROVIDERS.get("weixin", {}).get("SANDBOX"))


def wechat_login_available(request: HttpRequest | None) -> bool:
    """A WeChat app is configured (settings, or a SocialApp row in the admin)."""
    from allauth.socialaccount.adapter import get_adapter

    return bool(get_adapter(request).list_apps(request, provider="weixin"))
