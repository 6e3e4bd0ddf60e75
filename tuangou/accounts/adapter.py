"""allauth adapters: where allauth stores phones, sends SMS, and links WeChat users."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .forms import MainlandPhoneField
from .phone import normalize_phone
from .sms import record_code_sent, send_sms
from .weixin.config import is_sandbox


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # allauth's own words read like a machine translation in Chinese
        # (错误代码): these are the ones shoppers meet on the SMS pages.
        "incorrect_code": _("Wrong or expired verification code."),
        "rate_limited": _("Too many requests. Please wait a minute and try again."),
    }

    def pre_authenticate(self, request, **credentials: Any) -> None:
        """A locked-out account or IP (django-axes, lockout.py) gets the lockout
        page before allauth's own failed-login limit answers with a form error."""
        from axes.handlers.proxy import AxesProxyHandler

        if not AxesProxyHandler.is_allowed(request, credentials):
            request.axes_locked_out = True
            raise self.validation_error("too_many_login_attempts")
        super().pre_authenticate(request, **credentials)

    def phone_form_field(self, **kwargs: Any) -> Any:
        return MainlandPhoneField(**kwargs)

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs: Any) -> None:
        send_sms(phone=phone, template="verification_code", params={"code": code})
        record_code_sent(phone=phone)

    def send_unknown_account_sms(self, phone: str, **kwargs: Any) -> None:
        """A code for a number without an account: 未注册的手机号验证后自动注册.
        The account is made only once this code is entered (sign_in.py); until
        then only the number and the code's hash wait in the cache."""
        from .services import issue_pending_code

        code = issue_pending_code(phone=phone)
        send_sms(phone=phone, template="verification_code", params={"code": code})
        record_code_sent(phone=phone)

    def set_phone(self, user, phone: str, verified: bool) -> None:
        user.phone = phone
        user.phone_verified = verified
        user.save(update_fields=["phone", "phone_verified"])

    def get_phone(self, user) -> tuple[str, bool] | None:
        if not user.phone:
            return None
        return user.phone, user.phone_verified

    def set_phone_verified(self, user, phone: str) -> None:
        get_user_model().objects.filter(pk=user.pk, phone=phone).update(phone_verified=True)
        user.phone_verified = True

    def get_user_by_phone(self, phone: str):
        # The password login form passes what was typed; codes pass E.164.
        normalized = normalize_phone(phone)
        if normalized is None:
            return None
        return get_user_model().objects.filter(phone=normalized, is_active=True).first()

    def populate_username(self, request, user) -> None:
        # Usernames are internal; people see their nickname or masked phone.
        if not user.username:
            from allauth.account.utils import user_username
            from django.utils.crypto import get_random_string

            user_username(user, f"u{get_random_string(10).lower()}")


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_requests_session(self):
        session = super().get_requests_session()
        if is_sandbox():
            # The demo's WeChat API answers in-process (weixin/sandbox.py).
            from .weixin.sandbox import SANDBOX_API, SandboxWechatTransport

            session.mount(SANDBOX_API, SandboxWechatTransport())
        return session

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        nickname = sociallogin.account.extra_data.get("nickname") or ""
        user.nickname = nickname[:40]
        user.username = ""  # filled by populate_username with a random id
        return user
