"""The shopper's SMS sign-in, where allauth's own views fall short of what
Chinese apps do: a new code once a minute, each valid for the full timeout,
更换手机号 that really lets the number be changed, and a first WeChat sign-in
that binds to the account a phone already has (once its code is entered)."""

from __future__ import annotations

import time

from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.login_by_code import LoginCodeVerificationProcess
from allauth.account.internal.stagekit import clear_login
from allauth.account.internal.userkit import user_id_to_str
from allauth.account.utils import passthrough_next_redirect_url
from allauth.account.views import ConfirmLoginCodeView, RequestLoginCodeView
from allauth.core import ratelimit
from allauth.socialaccount.models import SocialAccount, SocialLogin
from allauth.socialaccount.views import SignupView
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST


class SmsConfirmLoginCodeView(ConfirmLoginCodeView):
    """allauth's code entry. Its resend has no rate limit of its own and keeps
    the first code's deadline; here a resend counts against the same per-phone
    limit as asking for a code (one a minute, which the page counts down) and
    the new code gets the full LOGIN_BY_CODE_TIMEOUT.

    A number without an account has no user in the process: its code is
    checked against the pending sign-up code, and the account is created only
    when that code is right. Every verification attempt counts against the
    per-phone limit verify_login_code (ACCOUNT_RATE_LIMITS), on top of
    allauth's attempts per sent code: a 6-digit code cannot be guessed by
    starting over in new sessions."""

    def _pending_phone(self) -> str | None:
        """The phone of a process without an account yet (None when it has one)."""
        if self._process.user is not None:
            return None
        return self._process.state.get("phone") or None

    def get_form_kwargs(self) -> dict:
        kwargs = super().get_form_kwargs()
        if self._action != "resend":
            pending = self._pending_phone()
            if pending:
                kwargs["pending_phone"] = pending
        return kwargs

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        phone = self._process.state.get("phone") or ""
        if (
            self._action == "verify"
            and phone
            and not ratelimit.consume(request, action="verify_login_code", key=phone.lower())
        ):
            self._process.abort()
            get_adapter(request).add_message(
                request,
                messages.ERROR,
                message=_("Too many wrong codes for this number. Please try again in an hour."),
            )
            return HttpResponseRedirect(reverse("account_request_login_code"))
        return super().post(request, *args, **kwargs)

    def _resend_form_valid(self, form) -> HttpResponse:
        phone = self._process.state.get("phone") or ""
        if not ratelimit.consume(self.request, action="request_login_code", key=phone.lower()):
            get_adapter(self.request).add_message(
                self.request,
                messages.ERROR,
                message=_("Codes were requested too often. Please wait a minute and try again."),
            )
            return HttpResponseRedirect(
                self.passthrough_next_url(reverse("account_confirm_login_code"))
            )
        self._process.state["at"] = time.time()
        if self._pending_phone():
            # allauth's resend makes codes for accounts only; a new number's
            # next code goes through the adapter's pending sign-up again.
            self._process.send(skip_enumeration_mails=False)
            self._process.record_resend()
            self._process.persist()
            return HttpResponseRedirect(
                self.passthrough_next_url(reverse("account_confirm_login_code"))
            )
        return super()._resend_form_valid(form)

    def _verify_form_valid(self, form) -> HttpResponse:
        pending = self._pending_phone()
        if pending:
            # The code was right: now the number becomes an account.
            from .services import create_shopper_for_verified_phone

            user = create_shopper_for_verified_phone(phone=pending)
            self._process._user = user
            self._process.state["user_id"] = user_id_to_str(user)
            self.stage.login.user = user
        # allauth signs the shopper in through AccountAdapter.login and
        # post_login, which bind a pending WeChat and, on a first sign-in,
        # hand out the welcome (after_sign_in below).
        return super()._verify_form_valid(form)


confirm_login_code = SmsConfirmLoginCodeView.as_view()


class SmsSignUpView(RequestLoginCodeView):
    """注册 is the sign-in's phone + code step on its own page: allauth's signup
    would create the account before the phone is verified (anyone could fill
    the user table with numbers that are not theirs)."""

    template_name = "account/signup.html"


sign_up = SmsSignUpView.as_view()


def after_sign_in(request: HttpRequest, *, first: bool) -> None:
    """Every sign-in, whatever the channel (SMS code, WeChat, a WeChat bound to
    a phone's account, a password): AccountAdapter.post_login calls it after
    Django's login and allauth's 登录成功 message. The one place where a first
    sign-in brings the 老带新 invitation and the 新人券 (`first` is decided by
    the adapter, once per account even when two devices sign in at once).

    A WeChat waiting for the code of a taken phone joins that account first,
    so the referral copies the WeChat's unionid (a fraud key) at once."""
    _bind_pending_wechat(request)
    user = request.user
    if not first or not user.is_authenticated or user.is_staff:
        return  # staff are not shoppers: no welcome, no referral
    _record_invitation(request)
    _welcome_gifts(request)


def _welcome_gifts(request: HttpRequest) -> None:
    """A shopper's first sign-in: the 新人券 (marketing; once per shopper ever)."""
    from marketing.services.coupons import issue_new_user_coupons

    if issue_new_user_coupons(user=request.user):
        messages.success(request, _("Welcome! Your new-shopper coupons are in My coupons."))


def _record_invitation(request: HttpRequest) -> None:
    """A first sign-in through a friend's invite link: the referral (老带新, marketing)."""
    from marketing.views.referrals import record_invitation_after_sign_in

    record_invitation_after_sign_in(request)


@require_POST
def change_login_phone(request: HttpRequest) -> HttpResponse:
    """更换手机号: drop the pending code, back to the phone form (allauth would
    otherwise send every visit of that form back to the code page)."""
    clear_login(request)
    request.session.pop(PENDING_WECHAT_KEY, None)
    return HttpResponseRedirect(reverse("account_request_login_code"))


# --- 绑定手机号 after a first WeChat sign-in -------------------------------------

PENDING_WECHAT_KEY = "tuangou_pending_wechat"


class WechatBindPhoneView(SignupView):
    """allauth's social signup (a new WeChat user gives a phone). A phone that
    already has an account would stop there without a code (allauth keeps it
    secret that the number is taken); here the number's owner gets a sign-in
    code instead, and the WeChat is bound to that account once it is entered."""

    def form_valid(self, form) -> HttpResponse:
        phone = form.cleaned_data.get("phone")
        owner = get_adapter(self.request).get_user_by_phone(phone) if phone else None
        if owner is None:
            return super().form_valid(form)
        if not ratelimit.consume(self.request, action="request_login_code", key=phone.lower()):
            form.add_error(
                "phone", _("Codes were requested too often. Please wait a minute and try again.")
            )
            return self.form_invalid(form)
        self.request.session[PENDING_WECHAT_KEY] = {
            "user_id": owner.pk,
            "sociallogin": self.sociallogin.serialize(),
        }
        LoginCodeVerificationProcess.initiate(request=self.request, user=owner, phone=phone)
        return HttpResponseRedirect(
            passthrough_next_redirect_url(
                self.request, reverse("account_confirm_login_code"), "next"
            )
        )


wechat_bind_phone = WechatBindPhoneView.as_view()


def _bind_pending_wechat(request: HttpRequest) -> None:
    """After the code of a taken phone: the WeChat joins that account (only if
    it is the account that just signed in, and it has no WeChat yet)."""
    pending = request.session.pop(PENDING_WECHAT_KEY, None)
    user = request.user
    if not pending or not user.is_authenticated or pending["user_id"] != user.pk:
        return
    sociallogin = SocialLogin.deserialize(pending["sociallogin"])
    account = sociallogin.account
    if SocialAccount.objects.filter(provider=account.provider, uid=account.uid).exists():
        return
    if SocialAccount.objects.filter(user=user, provider=account.provider).exists():
        messages.warning(
            request, _("This account is already bound to another WeChat; nothing was changed.")
        )
        return
    sociallogin.connect(request, user)
    request.session.pop("socialaccount_sociallogin", None)
    messages.success(request, _("Your WeChat is now bound to this account."))
