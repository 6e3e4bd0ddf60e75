from __future__ import annotations

from allauth.account.forms import LoginForm, RequestLoginCodeForm
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .phone import normalize_phone


class MainlandPhoneField(forms.CharField):
    """Accepts '13800138000' (or +86...) and cleans to E.164 for allauth."""

    default_error_messages = {
        "invalid_phone": _("Enter an 11-digit mainland mobile number, e.g. 13800138000."),
    }

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "placeholder": _("11-digit mobile number"),
                    "autocomplete": "tel",
                    "type": "tel",
                    "inputmode": "numeric",
                }
            ),
        )
        kwargs.setdefault("label", _("Phone"))
        kwargs.pop("validators", None)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        phone = normalize_phone(value)
        if phone is None:
            raise ValidationError(self.error_messages["invalid_phone"], code="invalid_phone")
        return phone


class StaffPasswordLoginForm(LoginForm):
    """allauth's login form, keeping the password field.

    Shoppers sign up without a password (phone + code), which makes allauth
    drop the password field; staff still sign in with phone or email and a
    password here, shoppers use the SMS-code page.
    """

    def _setup_password_field(self) -> None:
        self.fields["password"].required = True


class SmsCodeRequestForm(RequestLoginCodeForm):
    """allauth's code request, as Chinese shops do it: one phone + code step
    signs a shopper in, and a number we have not seen yet becomes an account
    (未注册的手机号验证后自动注册) — its phone counts as verified only once the
    code is entered. Rate limits come first, with an SMS-specific message.
    """

    def clean_phone(self) -> str:
        try:
            phone = super().clean_phone()
        except ValidationError as exc:
            if exc.code == "too_many_login_attempts":
                raise ValidationError(
                    _("Codes were requested too often. Please wait a minute and try again."),
                    code="sms_rate_limited",
                ) from exc
            raise
        if phone and self._user is None:
            from .services import create_shopper_for_phone

            self._user = create_shopper_for_phone(phone=phone)
        return phone
