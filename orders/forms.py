"""Forms of the shopper's pages: they parse input; services decide.

None of them has a price field: prices are computed on the server only, and
whatever the browser sends for one is never read.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.services import MAX_LINE_QUANTITY

from .services.claims import MAX_CLAIM_PHOTOS


class AddToCartForm(forms.Form):
    """The product page's form: POST sku=<sku code>, quantity, action=cart|buy."""

    sku = forms.SlugField(max_length=40)
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_LINE_QUANTITY,
        initial=1,
        error_messages={
            "min_value": _("The quantity must be at least 1."),
            "max_value": _("At most %(limit_value)s of one item."),
            "invalid": _("Please enter a whole number of items."),
        },
    )
    action = forms.ChoiceField(
        choices=[("cart", "cart"), ("buy", "buy")], required=False, initial="cart"
    )


class QuantityForm(forms.Form):
    """A cart line's new quantity (0 removes the line)."""

    quantity = forms.IntegerField(
        min_value=0,
        max_value=MAX_LINE_QUANTITY,
        error_messages={
            "min_value": _("The quantity must be at least 1."),
            "max_value": _("At most %(limit_value)s of one item."),
            "invalid": _("Please enter a whole number of items."),
            "required": _("Please enter a whole number of items."),
        },
    )
    # The − and + buttons send a step; the typed quantity is the base.
    step = forms.TypedChoiceField(
        choices=[("-1", "-1"), ("1", "1")], coerce=int, required=False, empty_value=0
    )

    @property
    def new_quantity(self) -> int:
        return max(0, self.cleaned_data["quantity"] + self.cleaned_data["step"])


class CheckoutForm(forms.Form):
    """Checkout: the shopper's note, and for 立即购买 the one SKU and quantity."""

    note = forms.CharField(label=_("Note for the leader"), max_length=100, required=False)
    sku = forms.SlugField(max_length=40, required=False)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, required=False)


CLAIM_REASONS = [
    ("quality", _("Poor quality")),
    ("spoiled", _("Spoiled or rotten")),
    ("missing", _("Missing items")),
    ("damaged", _("Damaged in delivery")),
    ("not_as_described", _("Not as described")),
    ("other", _("Other")),
]


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several photos in one input; catalog's image checks run in the service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleImageField, self).clean(f, initial) for f in files]


class ClaimForm(forms.Form):
    """An after-sale claim: what is wrong, which items, photos.

    One quantity field per claimable line is added by the view's lines.
    """

    reason = forms.ChoiceField(label=_("What is wrong"), choices=CLAIM_REASONS)
    detail = forms.CharField(
        label=_("Details"),
        max_length=150,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = MultipleImageField(
        label=_("Photos"),
        required=False,
        help_text=_("Up to %(n)d photos of the goods.") % {"n": MAX_CLAIM_PHOTOS},
    )

    def __init__(self, *args, lines=(), claimable=None, **kwargs):
        super().__init__(*args, **kwargs)
        claimable = claimable or {}
        self.claim_lines = []
        for line in lines:
            most = claimable.get(line.pk, 0)
            if most <= 0:
                continue
            name = f"line_{line.pk}"
            self.fields[name] = forms.IntegerField(
                label=f"{line.product_name} {line.spec}",
                min_value=0,
                max_value=most,
                initial=0,
                required=False,
                error_messages={
                    "max_value": _("At most %(limit_value)s."),
                    "min_value": _("The quantity must be at least 1."),
                },
            )
            self.claim_lines.append((line, name, most))

    def bound_lines(self):
        return [(line, self[name], most) for line, name, most in self.claim_lines]

    def clean_photos(self):
        photos = self.cleaned_data.get("photos") or []
        if len(photos) > MAX_CLAIM_PHOTOS:
            raise forms.ValidationError(_("At most %(n)d photos.") % {"n": MAX_CLAIM_PHOTOS})
        return photos

    def clean(self):
        cleaned = super().clean()
        quantities = {
            line.pk: cleaned.get(name) or 0
            for line, name, _most in self.claim_lines
            if cleaned.get(name)
        }
        if not quantities and not self.errors:
            raise forms.ValidationError(
                _("Please choose the items and quantities you are claiming for.")
            )
        cleaned["quantities"] = quantities
        return cleaned

    @property
    def reason_text(self) -> str:
        label = dict(CLAIM_REASONS).get(self.cleaned_data["reason"], "")
        detail = (self.cleaned_data.get("detail") or "").strip()
        return f"{label}: {detail}" if detail else str(label)
