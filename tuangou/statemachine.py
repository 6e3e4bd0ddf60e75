"""The one guard every status change in the project goes through.

Each app keeps its statuses as TextChoices and its moves as a transition
table {status: {allowed next statuses}}; services call `guard` before they
write, and write with a compare-and-set on the current status.

The refusal is shown to operators (admin actions print it), so its message is
translated: `what` should be a translatable name (gettext_lazy), and the
statuses are shown by their labels, found in the table itself when its keys
and values are TextChoices members (they are in every app's table).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext


class IllegalTransition(ValueError):
    """A status change that its transition table does not allow.

    `what`, `current` and `new` are kept for code; `str()` is the translated
    sentence for people (in the language active when it was raised).
    """

    def __init__(self, message: str, *, what: str = "", current: str = "", new: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.what = what
        self.current = current
        self.new = new


def can_move(table: Mapping[str, set[str]], current: str, new: str) -> bool:
    return new in table.get(current, set())


def status_label(table: Mapping[str, set[str]], value: str) -> str:
    """The human label of a status of `table` (its TextChoices label), else the value."""
    for status in (*table, *(s for allowed in table.values() for s in allowed)):
        if status == value and hasattr(status, "label"):
            return str(status.label)
    label = getattr(value, "label", None)
    return str(label) if label is not None else str(value)


def guard(table: Mapping[str, set[str]], current: str, new: str, what: str) -> None:
    if not can_move(table, current, new):
        message = gettext("%(what)s: cannot go from “%(current)s” to “%(new)s”.") % {
            "what": what,
            "current": status_label(table, current),
            "new": status_label(table, new),
        }
        raise IllegalTransition(message, what=str(what), current=str(current), new=str(new))
