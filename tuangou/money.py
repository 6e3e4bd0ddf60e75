"""Money: Decimal CNY with two places, rounded half-up to the fen. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import models

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DIGITS = 12
DECIMAL_PLACES = 2


def to_money(value: Decimal | int | str) -> Decimal:
    """Round a value to the fen, half-up. Floats are refused: they are not money."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def to_fen(value: Decimal) -> int:
    """Yuan as Decimal -> integer fen (what payment providers speak)."""
    return int(to_money(value) * 100)


def from_fen(fen: int) -> Decimal:
    return to_money(Decimal(fen) / 100)


def format_yuan(value: Decimal) -> str:
    return f"¥{to_money(value):,.2f}"


class MoneyField(models.DecimalField):
    """A DecimalField with the project's precision."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs
