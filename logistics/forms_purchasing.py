"""Forms of the purchasing pages: the list's filters, receiving (one number per line)
and cancelling. They only parse input; the services decide and write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import Supplier, Warehouse

from .models import PurchaseOrderLine, PurchaseStatus


class PurchaseOrderFilterForm(forms.Form):
    date = forms.DateField(
        label=_("Delivery date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date such as 2026-11-26.")},
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), *PurchaseStatus.choices],
        error_messages={"invalid_choice": _("Choose a status from the list.")},
    )
    supplier = forms.ModelChoiceField(
        label=_("Supplier"),
        required=False,
        queryset=Supplier.objects.order_by("name"),
        empty_label=_("All suppliers"),
        error_messages={"invalid_choice": _("Choose a supplier from the list.")},
    )
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"),
        required=False,
        queryset=Warehouse.objects.filter(is_active=True).order_by("name"),
        empty_label=_("All warehouses"),
        error_messages={"invalid_choice": _("Choose a warehouse from the list.")},
    )


def line_field_name(line: PurchaseOrderLine) -> str:
    return f"line_{line.pk}"


class ReceiveForm(forms.Form):
    """One number per line still expected: what really arrived. Blank = not yet."""

    def __init__(self, *args, lines: list[PurchaseOrderLine], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.received_quantity is None]
        for line in self.lines:
            self.fields[line_field_name(line)] = forms.IntegerField(
                label=str(line.sku),
                required=False,
                min_value=0,
                max_value=line.quantity,
                widget=forms.NumberInput(
                    attrs={"inputmode": "numeric", "min": 0, "max": line.quantity, "step": 1}
                ),
                error_messages={
                    "invalid": _("Enter a whole number of units."),
                    "min_value": _("A received quantity cannot be negative."),
                    "max_value": _("At most %(limit_value)s were ordered."),
                },
            )

    def clean(self):
        data = super().clean()
        if not self.errors and not any(
            data.get(line_field_name(li)) is not None for li in self.lines
        ):
            raise forms.ValidationError(_("Enter what arrived for at least one line."))
        return data

    def received(self) -> dict[int, int]:
        """{line id: units} of the lines filled in (call after is_valid())."""
        return {
            line.pk: self.cleaned_data[line_field_name(line)]
            for line in self.lines
            if self.cleaned_data.get(line_field_name(line)) is not None
        }


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=100)
