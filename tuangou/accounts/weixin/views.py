"""allauth's weixin views, answering a page instead of a 500 when WeChat is
off, and pointed at the sandbox (模拟微信授权) in the demo."""

from __future__ import annotations

import json
from functools import wraps
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.weixin.views import WeixinOAuth2Adapter
from django import forms
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import sandbox
from .config import is_sandbox, wechat_login_available


class TuangouWeixinOAuth2Adapter(WeixinOAuth2Adapter):
    # WeChat documents sns/oauth2/access_token as a GET with query parameters.
    access_token_method = "GET"  # noqa: S105 - an HTTP method, not a secret

    @property
    def _is_sandbox(self) -> bool:
        return bool(self.get_provider().get_settings().get("SANDBOX"))

    @property
    def authorize_url(self) -> str:
        if self._is_sandbox:
            return reverse("weixin_sandbox_authorize")
        return super().authorize_url

    @property
    def access_token_url(self) -> str:  # type: ignore[override]
        if self._is_sandbox:
            return sandbox.ACCESS_TOKEN_URL
        return WeixinOAuth2Adapter.access_token_url

    @property
    def profile_url(self) -> str:  # type: ignore[override]
        if self._is_sandbox:
            return sandbox.USERINFO_URL
        return WeixinOAuth2Adapter.profile_url


def unavailable(request):
    """WeChat sign-in is off (no app configured): say so, as a 404."""
    return render(request, "socialaccount/weixin_unavailable.html", status=404)


def _when_configured(view):
    # Without a configured app allauth raises SocialApp.DoesNotExist (a 500).
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not wechat_login_available(request):
            return unavailable(request)
        return view(request, *args, **kwargs)

    return wrapped


oauth2_login = _when_configured(OAuth2LoginView.adapter_view(TuangouWeixinOAuth2Adapter))
oauth2_callback = _when_configured(OAuth2CallbackView.adapter_view(TuangouWeixinOAuth2Adapter))


# --- 模拟微信授权 (sandbox only) ----------------------------------------------

SANDBOX_COOKIE = "wx_sandbox"  # this browser's simulated WeChat user
SANDBOX_SCOPES = {"snsapi_login", "snsapi_userinfo", "snsapi_base"}


class SandboxAuthorizeForm(forms.Form):
    who = forms.ChoiceField(widget=forms.RadioSelect)
    nickname = forms.CharField(max_length=40, required=False, strip=True)

    def __init__(self, *args, demo_users, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["who"].choices = [("self", "self")] + [(a.uid, a.uid) for a in demo_users]

    def clean(self):
        data = super().clean()
        if data.get("who") == "self" and not data.get("nickname"):
            self.add_error("nickname", _("Enter a WeChat nickname."))
        return data


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _authorize_error(request, params) -> str | None:
    """What WeChat would refuse before showing its page (its 参数错误 pages)."""
    from allauth.socialaccount.adapter import get_adapter

    appid = params.get("appid", "")
    if not get_adapter(request).list_apps(request, provider="weixin", client_id=appid):
        return _("Unknown appid.")
    if params.get("response_type") != "code":
        return _("response_type must be code.")
    scopes = set(params.get("scope", "").replace(",", " ").split())
    if not scopes or not scopes <= SANDBOX_SCOPES:
        return _("Unknown scope.")
    # WeChat only sends codes to the domain registered for the AppID: here, this site.
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri or not url_has_allowed_host_and_scheme(
        redirect_uri, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return _("redirect_uri is not this site.")
    return None


@require_http_methods(["GET", "POST"])
def sandbox_authorize(request):
    """模拟微信授权: WeChat's authorisation page, played by the demo."""
    if not is_sandbox() or not wechat_login_available(request):
        return unavailable(request)
    params = request.GET
    error = _authorize_error(request, params)
    if error:
        return render(
            request, "socialaccount/weixin_sandbox_error.html", {"error": error}, status=400
        )
    redirect_uri, state = params["redirect_uri"], params.get("state", "")
    if request.method == "POST" and "deny" in request.POST:
        return HttpResponseRedirect(_with_query(redirect_uri, error="access_denied", state=state))

    me = request.get_signed_cookie(SANDBOX_COOKIE, default=None, salt=SANDBOX_COOKIE)
    me = json.loads(me) if me else {}
    demo_users = sandbox.demo_wechat_users()
    form = SandboxAuthorizeForm(
        request.POST or None,
        demo_users=demo_users,
        initial={"who": "self", "nickname": me.get("nickname") or _("WeChat user")},
    )
    if request.method == "POST" and form.is_valid():
        who = form.cleaned_data["who"]
        if who == "self":
            me = {"unionid": me.get("unionid") or sandbox.new_unionid()}
            me["nickname"] = form.cleaned_data["nickname"]
            unionid, nickname = me["unionid"], me["nickname"]
        else:
            account = next(a for a in demo_users if a.uid == who)
            unionid = account.uid
            nickname = account.extra_data.get("nickname") or account.user.nickname
        code = sandbox.issue_code(
            appid=params["appid"], unionid=unionid, nickname=nickname, scope=params["scope"]
        )
        response = HttpResponseRedirect(_with_query(redirect_uri, code=code, state=state))
        if who == "self":
            response.set_signed_cookie(
                SANDBOX_COOKIE,
                json.dumps(me),  # ASCII: a cookie value is latin-1
                salt=SANDBOX_COOKIE,
                max_age=365 * 24 * 3600,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response
    return render(
        request,
        "socialaccount/weixin_sandbox_authorize.html",
        {"form": form, "demo_users": demo_users, "has_own": bool(me.get("unionid"))},
    )
