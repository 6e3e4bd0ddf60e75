"""Opening hours in the admin: a row per weekday with an opening and a closing
time, never the stored JSON. Bad input (a time like 25:99, only one of the
two times, closing before opening, no day open at all) is a message under the
field, checked by the same rule as the leader's own pages
(services.clean_opening_hours)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from .models import WEEKDAYS
from .services import clean_opening_hours

NO_HOURS = _("A pickup point needs opening hours: give at least one day with a time to open.")


class OpeningHoursWidget(forms.MultiWidget):
    """14 time inputs (open, close) × weekday, laid out as one row per day."""

    template_name = "admin/leaders/opening_hours_widget.html"

    def __init__(self, attrs=None):
        time = {"type": "time", "step": 60}
        widgets = {}
        for number, _label in WEEKDAYS:
            widgets[f"open_{number}"] = forms.TimeInput(attrs=time, format="%H:%M")
            widgets[f"close_{number}"] = forms.TimeInput(attrs=time, format="%H:%M")
        super().__init__(widgets, attrs)

    def decompress(self, value):
        value = value if isinstance(value, dict) else {}
        out = []
        for number, _label in WEEKDAYS:
            day = value.get(str(number)) or [None, None]
            out += [day[0], day[1]]
        return out

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        subwidgets = context["widget"]["subwidgets"]
        context["widget"]["days"] = [
            (label, subwidgets[2 * i], subwidgets[2 * i + 1])
            for i, (_number, label) in enumerate(WEEKDAYS)
        ]
        return context


class OpeningHoursField(forms.MultiValueField):
    widget = OpeningHoursWidget

    def __init__(self, **kwargs):
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.pop("max_length", None)
        fields = []
        for _number, _label in WEEKDAYS:
            fields += [forms.TimeField(required=False), forms.TimeField(required=False)]
        super().__init__(
            fields=fields,
            require_all_fields=False,
            error_messages={"required": NO_HOURS, "incomplete": NO_HOURS},
            **kwargs,
        )

    def compress(self, data_list):
        if not data_list:
            raise ValidationError(NO_HOURS, code="required")
        hours: dict[int, tuple | None] = {}
        errors = []
        for i, (number, label) in enumerate(WEEKDAYS):
            opens, closes = data_list[2 * i], data_list[2 * i + 1]
            if (opens is None) != (closes is None):
                errors.append(
                    ValidationError(
                        gettext("Give both an opening and a closing time for %(day)s, or neither.")
                        % {"day": label}
                    )
                )
                continue
            if opens is not None and closes <= opens:
                errors.append(
                    ValidationError(
                        gettext("%(day)s: the closing time must be later than the opening time.")
                        % {"day": label}
                    )
                )
                continue
            hours[number] = (opens, closes) if opens is not None else None
        if errors:
            raise ValidationError(errors)
        return clean_opening_hours(hours)


def opening_hours_table(hours: dict | None):
    """Read-only opening hours (an application, a change log): a line per weekday."""
    hours = hours if isinstance(hours, dict) else {}
    rows = []
    for number, label in WEEKDAYS:
        value = hours.get(str(number))
        shown = f"{value[0]}–{value[1]}" if value else pgettext("opening hours", "closed")
        rows.append((label, shown))
    return format_html_join(mark_safe("<br>"), "{}: {}", rows)
