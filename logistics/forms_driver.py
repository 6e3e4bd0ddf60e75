"""Forms of the driver's phone pages: a hand-over and a problem report.

Photos are plain file fields here; the service checks them with Pillow (size,
format, decompression bombs) and answers with the reason in Chinese.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import StopException

NOTE_MAX = 200


def _photo_field() -> forms.FileField:
    return forms.FileField(
        label=_("Photo (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )


def _note_field(label) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": NOTE_MAX}),
        error_messages={"max_length": _("At most %(limit_value)d characters.")},
    )


class HandOverForm(forms.Form):
    note = _note_field(_("Note (optional)"))
    photo = _photo_field()


class StopExceptionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What happened"),
        choices=StopException.choices,
        error_messages={
            "required": _("Please choose what happened at the stop."),
            "invalid_choice": _("Please choose what happened at the stop."),
        },
    )
    note = _note_field(_("Details"))
    photo = _photo_field()
