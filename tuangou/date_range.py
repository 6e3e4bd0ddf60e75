"""The report pages' date range (analytics' reports, logistics' delivery efficiency): one
form for start..end (inclusive, YYYY-MM-DD, from GET) and its checks.

A subclass sets how long a range may be (`max_days`, and the message `too_long`) and
whether it must end by today (`up_to_today`); extra fields (filters) are added by the
subclass. Bad input is a form error with a Chinese message (the page answers 400 and
reads nothing): an end before the start, a range too long, a date that is not a date.

    form = ReportForm.from_request(request, default_days=30, default_end=yesterday)
    if not form.is_valid(): ... errors(form) ...
"""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext_lazy, pgettext_lazy

from .timeutils import local_today


def _date_field(label, invalid):
    return forms.DateField(
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": invalid},
    )


class DateRangeForm(forms.Form):
    """start..end (inclusive); at most `max_days` days; up to today if `up_to_today`."""

    max_days = 731  # two years
    too_long = gettext_lazy("Choose a range of at most two years.")
    up_to_today = False

    start = _date_field(
        pgettext_lazy("date range", "From"), gettext_lazy("Enter the start date as YYYY-MM-DD.")
    )
    end = _date_field(
        pgettext_lazy("date range", "To"), gettext_lazy("Enter the end date as YYYY-MM-DD.")
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(gettext_lazy("The end date is before the start date."))
            if self.up_to_today and end > local_today():
                # Facts describe days that happened (and dates far ahead would overflow).
                raise forms.ValidationError(gettext_lazy("Choose dates up to today."))
            if (end - start).days + 1 > self.max_days:
                raise forms.ValidationError(self.too_long)
        return data

    @classmethod
    def from_request(
        cls,
        request: HttpRequest,
        *,
        default_days: int,
        default_end: date,
        extra: tuple[str, ...] = (),
        **kwargs,
    ) -> DateRangeForm:
        """The range asked for in the query string; the `default_days` days up to
        `default_end` when a date is left out. `extra`: other GET fields to bind."""
        data = {
            "start": request.GET.get("start") or (default_end - timedelta(days=default_days - 1)),
            "end": request.GET.get("end") or default_end,
        }
        for name in extra:
            data[name] = request.GET.get(name, "")
        return cls(data, **kwargs)


def form_errors(form: forms.Form) -> list[str]:
    """Every message of a bound form, as text (for the 400 page)."""
    return [str(message) for messages in form.errors.values() for message in messages]
