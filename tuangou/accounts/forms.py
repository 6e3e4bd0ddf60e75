from __future__ import annotations

from allauth.account.forms import (
    ConfirmLoginCodeForm,
    LoginForm,
    RequestLoginCodeForm,
    VerifyPhoneForm,
)
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = _("Phone or email")
        login.widget.attrs.update({"placeholder": _("Phone or email"), "autocomplete": "username"})


class SmsCodeRequestForm(RequestLoginCodeForm):
    """allauth's code request, as Chinese shops do it: one phone + code step
    signs a shopper in, and a number we have not seen yet becomes an account
    (未注册的手机号验证后自动注册) once its code is entered — asking for a code
    creates no account (the adapter keeps the new number's code pending, see
    services.issue_pending_code). Rate limits come first, with an SMS-specific
    message.

    Shoppers sign in by phone only: allauth adds an optional email field when
    email is a login method (it is, for staff passwords) and then lets both be
    empty, which it cannot handle. Here the phone is the one required field.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("email", None)
        phone = self.fields["phone"]
        phone.required = True
        phone.error_messages["required"] = _("Enter your phone number.")
        self._user = None

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
        return phone


class _SmsCodeField:
    """allauth's code field, worded as Chinese apps word it (验证码, not 代码)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        code = self.fields["code"]
        code.label = _("Verification code")
        code.error_messages["required"] = _("Enter the verification code.")
        code.widget.attrs.update(
            {
                "placeholder": _("6-digit code"),
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "maxlength": "6",
                "autofocus": True,
            }
        )


class SmsLoginCodeForm(_SmsCodeField, ConfirmLoginCodeForm):
    """The code entry. For a number without an account yet (pending_phone) the
    code is checked against the pending sign-up code's hash instead."""

    def __init__(self, *args, pending_phone: str | None = None, **kwargs) -> None:
        self.pending_phone = pending_phone
        super().__init__(*args, **kwargs)

    def clean_code(self) -> str:
        if self.pending_phone is None:
            return super().clean_code()
        from allauth.account.adapter import get_adapter

        from .services import pending_code_matches

        code = self.cleaned_data["code"]
        if not pending_code_matches(phone=self.pending_phone, code=code):
            raise get_adapter().validation_error("incorrect_code")
        return code


class SmsVerifyPhoneForm(_SmsCodeField, VerifyPhoneForm):
    pass
