"""Forms for operators (admin): parse input, leave the writing to services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .images import ImageRejected, process_upload
from .models import ProductImage, Sku, Warehouse
from .services import MAX_STOCK_QUANTITY


class ProductImageForm(forms.ModelForm):
    upload = forms.FileField(label=_("picture"), required=False)

    class Meta:
        model = ProductImage
        fields = ["alt", "position"]

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload:
            try:
                process_upload(upload)  # the same checks the service runs on save
            except ImageRejected as exc:
                raise forms.ValidationError(exc.message) from None
            upload.seek(0)
        elif not self.instance.pk and self.has_changed():
            raise forms.ValidationError(_("Please choose a picture."))
        return upload


class StockChangeForm(forms.Form):
    """One row of the stock view: the new quantity left to sell, and why."""

    sku = forms.ModelChoiceField(queryset=Sku.objects.all(), widget=forms.HiddenInput)
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.all(), widget=forms.HiddenInput)
    delivery_date = forms.DateField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(label=_("available"), min_value=0, max_value=MAX_STOCK_QUANTITY)
    note = forms.CharField(label=_("reason"), max_length=200)
