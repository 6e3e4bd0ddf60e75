"""The one guard every status change in the project goes through.

Each app keeps its statuses as TextChoices and its moves as a transition
table {status: {allowed next statuses}}; services call `guard` before they
write, and write with a compare-and-set on the current status.
"""

from __future__ import annotations

from collections.abc import Mapping


class IllegalTransition(ValueError):
    """A status change that its transition table does not allow."""


def can_move(table: Mapping[str, set[str]], current: str, new: str) -> bool:
    return new in table.get(current, set())


def guard(table: Mapping[str, set[str]], current: str, new: str, what: str) -> None:
    if not can_move(table, current, new):
        raise IllegalTransition(f"{what}: {current} → {new} is not allowed")
