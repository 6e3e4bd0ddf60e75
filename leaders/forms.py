"""Forms parse and check input; the services do the writing."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tuangou.accounts.phone import normalize_phone
from tuangou.timeutils import local_today

from .models import WEEKDAYS, Community, LeaderKind
from .services import clean_opening_hours

TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class OpeningHoursMixin:
    """Seven weekday rows of open/close times, cleaned into `opening_hours`."""

    def add_opening_hours_fields(self, initial: dict | None = None) -> None:
        initial = initial or {}
        self.weekday_rows = []
        for number, label in WEEKDAYS:
            value = initial.get(str(number)) or ["", ""]
            opens = forms.TimeField(
                label=_("%(day)s opens") % {"day": label}, required=False, widget=TIME_WIDGET
            )
            closes = forms.TimeField(
                label=_("%(day)s closes") % {"day": label}, required=False, widget=TIME_WIDGET
            )
            opens.initial, closes.initial = value[0] or None, value[1] or None
            self.fields[f"open_{number}"] = opens
            self.fields[f"close_{number}"] = closes
            self.weekday_rows.append((label, f"open_{number}", f"close_{number}"))

    def weekday_fields(self):
        return [(label, self[o], self[c]) for label, o, c in self.weekday_rows]

    def clean_opening_hours_fields(self, cleaned: dict) -> None:
        hours = {}
        for number, label in WEEKDAYS:
            opens, closes = cleaned.get(f"open_{number}"), cleaned.get(f"close_{number}")
            if (opens is None) != (closes is None):
                self.add_error(
                    f"close_{number}" if opens else f"open_{number}",
                    _("Give both an opening and a closing time for %(day)s, or neither.")
                    % {"day": label},
                )
                continue
            hours[number] = (opens, closes) if opens else None
        if self.errors:
            return
        try:
            cleaned["opening_hours"] = clean_opening_hours(hours)
        except ValidationError as exc:
            self.add_error(None, exc)


class LocationFields(forms.Form):
    latitude = forms.DecimalField(
        required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput
    )
    longitude = forms.DecimalField(
        required=False, max_digits=9, decimal_places=6, widget=forms.HiddenInput
    )


class ApplicationForm(OpeningHoursMixin, LocationFields):
    real_name = forms.CharField(label=_("Real name"), max_length=30)
    phone = forms.CharField(
        label=_("Phone"), max_length=20, widget=forms.TextInput(attrs={"type": "tel"})
    )
    community = forms.ModelChoiceField(
        label=_("Community"),
        queryset=Community.objects.filter(is_active=True),
        empty_label=_("Choose your community"),
    )
    kind = forms.ChoiceField(label=_("What describes you best"), choices=LeaderKind.choices)
    point_name = forms.CharField(
        label=_("Pickup point name"),
        max_length=60,
        help_text=_("For example the name of your shop, or “Building 3 entrance”."),
    )
    address = forms.CharField(label=_("Pickup address"), max_length=200)
    storefront_photo = forms.FileField(
        label=_("Storefront photo"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
        help_text=_("A photo of where shoppers will collect: JPG, PNG or WebP, at most 5 MB."),
    )

    field_order = [
        "real_name",
        "phone",
        "community",
        "kind",
        "point_name",
        "address",
        "storefront_photo",
    ]

    def __init__(self, *args, previous=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_opening_hours_fields(previous.opening_hours if previous else None)
        if previous is not None and previous.storefront_photo:
            # Editing a rejected application: the earlier photo may stay.
            self.fields["storefront_photo"].required = False

    def clean_phone(self):
        phone = normalize_phone(self.cleaned_data["phone"])
        if phone is None:
            raise ValidationError(_("Please enter an 11-digit mainland mobile number."))
        return phone

    def clean(self):
        cleaned = super().clean()
        self.clean_opening_hours_fields(cleaned)
        return cleaned


class PointSettingsForm(OpeningHoursMixin, forms.Form):
    name = forms.CharField(label=_("Pickup point name"), max_length=60)
    daily_capacity = forms.IntegerField(
        label=_("Orders per day"),
        min_value=1,
        max_value=5000,
        help_text=_("How many orders you can hand out in one day."),
    )

    def __init__(self, *args, point=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["daily_capacity"].initial = point.daily_capacity if point else 100
        if point is not None:
            self.fields["name"].initial = point.name
        self.add_opening_hours_fields(point.opening_hours if point else None)

    def clean(self):
        cleaned = super().clean()
        self.clean_opening_hours_fields(cleaned)
        return cleaned


class NewPointForm(PointSettingsForm, LocationFields):
    community = forms.ModelChoiceField(
        label=_("Community"),
        queryset=Community.objects.filter(is_active=True),
        empty_label=_("Choose the community"),
    )
    address = forms.CharField(label=_("Address"), max_length=200)

    field_order = ["name", "community", "address", "daily_capacity"]


class AddressChangeForm(LocationFields):
    address = forms.CharField(
        label=_("New address"),
        max_length=200,
        help_text=_("Operators check a new address before shoppers see it."),
    )

    field_order = ["address"]


class PhotoForm(forms.Form):
    image = forms.FileField(
        label=_("Photo"), widget=forms.ClearableFileInput(attrs={"accept": "image/*"})
    )


class PauseForm(forms.Form):
    day = forms.DateField(label=_("Day to pause"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason (shoppers see it)"), max_length=100, required=False)

    def clean_day(self):
        day = self.cleaned_data["day"]
        if day < local_today():
            raise ValidationError(_("You cannot pause a day in the past."))
        return day


class RejectForm(forms.Form):
    """The admin's intermediate page for a bulk rejection."""

    reason = forms.CharField(
        label=_("Reason (the applicant sees it)"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
