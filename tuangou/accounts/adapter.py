"""allauth adapters: where allauth stores phones, sends SMS, and links WeChat users."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib.auth import get_user_model
from django.utils import timezone
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

    FIRST_SIGN_IN_ATTR = "_tuangou_first_sign_in"

    def login(self, request, user) -> None:
        """Every sign-in of every channel passes here and then through
        post_login (allauth's resume_login): SMS codes, WeChat (social login
        and 绑定手机号), passwords. The first sign-in of an account is claimed
        with a compare-and-set on last_login before Django's login stamps it,
        so exactly one sign-in is the first even when two devices sign in at
        the same moment."""
        first = False
        if user.pk is not None and user.last_login is None:
            first = bool(
                get_user_model()
                .objects.filter(pk=user.pk, last_login__isnull=True)
                .update(last_login=timezone.now())
            )
        super().login(request, user)
        setattr(request, self.FIRST_SIGN_IN_ATTR, first)

    def post_login(self, request, user, **kwargs: Any):
        """After allauth's 登录成功 message: sign_in.after_sign_in binds a
        pending WeChat and, on the first sign-in, records the 老带新 invitation
        and issues the 新人券 (the one place for every channel)."""
        response = super().post_login(request, user, **kwargs)
        from .sign_in import after_sign_in

        after_sign_in(request, first=getattr(request, self.FIRST_SIGN_IN_ATTR, False))
        return response

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
