"""Order events carry a short note written by the code that moved the order
("placed", "signed", "paid <transaction>", "group <code> failed", …). The
note stays as written (it is history, and English in the database); pages
and the admin show it in the reader's language through describe_note.
A note typed by a person (an operator's refund note) is shown as typed.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from .notices import CANCEL_REASONS

FIXED = {
    "placed": _("Order placed"),
    "confirmed": _("Order confirmed"),
    "dispatched": _("Left the warehouse"),
    "arrived": _("Arrived at the pickup point"),
    "signed": _("Signed for at the pickup point"),
    "all lines handed out": _("Everything picked up"),
    "fully refunded": _("Refunded in full"),
    "waiting for the group": _("Paid; waiting for the group to fill"),
    "cancelled": _("Cancelled"),
    "paid after cancellation": _("Paid after it was cancelled; refunded"),
    "cancelled by the shopper before the cutoff": _("Cancelled by the shopper before the cutoff"),
    "operator refund in the admin": _("Refunded by an operator in the admin"),
    "community deal reached": _("The community deal reached its threshold"),
    "community threshold not reached": _("The community deal did not reach its threshold"),
}

PATTERNS = [
    (re.compile(r"^paid (?P<ref>\S+)$"), _("Paid (transaction %(ref)s)")),
    (re.compile(r"^refund (?P<ref>\S+)$"), _("Refund %(ref)s")),
    (re.compile(r"^group (?P<ref>\S+) succeeded$"), _("Group %(ref)s filled")),
    (re.compile(r"^group (?P<ref>\S+) failed$"), _("Group %(ref)s did not fill")),
    (re.compile(r"^short delivery (?P<ref>\d{4}-\d{2}-\d{2})$"), _("Short delivery of %(ref)s")),
    (re.compile(r"^claim (?P<ref>\d+)$"), _("After-sale claim %(ref)s")),
    # logistics' late-order roll-over (logistics/services/wave.py)
    (
        re.compile(r"^moved to the next day: confirmed after the cutoff wave (?P<ref>\d+)$"),
        _("Moved to the next delivery day: confirmed after cutoff wave %(ref)s had closed"),
    ),
]


def describe_note(note: str) -> str:
    """The note of an order event in the active language ("" stays "")."""
    note = (note or "").strip()
    if not note:
        return ""
    if note in FIXED:
        return str(FIXED[note])
    if note in CANCEL_REASONS:  # a cancel reason code (orders.notices)
        return str(_("Cancelled: %(reason)s") % {"reason": CANCEL_REASONS[note]})
    for pattern, text in PATTERNS:
        found = pattern.match(note)
        if found:
            return str(text % found.groupdict())
    return note
