"""Forms of the money pages: parse input only; services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import PayoutMethod


class WithdrawalForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        max_digits=12,
        decimal_places=2,
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    method = forms.ChoiceField(label=_("Paid to"), choices=PayoutMethod.choices, initial="bank")
    account_name = forms.CharField(label=_("Account holder"), max_length=40)
    bank_name = forms.CharField(label=_("Bank"), max_length=60, required=False)
    account_number = forms.CharField(
        label=_("Account number"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class RejectWithdrawalForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class PaidForm(forms.Form):
    reference = forms.CharField(label=_("Transfer reference"), max_length=64)
