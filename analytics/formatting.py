"""Numbers the Chinese way: ¥ with two decimals, 万 for large amounts and counts.

Pure functions (no database), used by the report templates through the
`analytics_format` filters and by the chart JSON (static/js/analytics-charts.js
formats its axes the same way).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

WAN = Decimal(10000)
TWO = Decimal("0.01")
ONE = Decimal("0.1")


def _dec(value) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, float):
        # Rates and averages may arrive as floats from the database: never money.
        return Decimal(str(value))
    return Decimal(value)


def yuan(value) -> str:
    """¥1,234.56: always two decimals, half-up."""
    amount = _dec(value).quantize(TWO, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


def yuan_wan(value) -> str:
    """¥1,234.56 below 10,000; ¥12.35万 from 10,000 on (two decimals of 万)."""
    amount = _dec(value)
    if abs(amount) < WAN:
        return yuan(amount)
    wan = (amount / WAN).quantize(TWO, rounding=ROUND_HALF_UP)
    sign = "-" if wan < 0 else ""
    return f"{sign}¥{abs(wan):,.2f}万"


def count_wan(value) -> str:
    """1,234 below 10,000; 1.23万 from 10,000 on."""
    number = _dec(value)
    if abs(number) < WAN:
        return f"{int(number):,}"
    return f"{(number / WAN).quantize(TWO, rounding=ROUND_HALF_UP):,.2f}万"


def percent(value) -> str:
    """A rate (0.1234) as 12.3%; None as —."""
    if value is None:
        return "—"
    return f"{(_dec(value) * 100).quantize(ONE, rounding=ROUND_HALF_UP)}%"


def change(value) -> str:
    """A relative change (0.05) as +5.0%, (-0.1) as -10.0%; None (no base) as —."""
    if value is None:
        return "—"
    pct = (_dec(value) * 100).quantize(ONE, rounding=ROUND_HALF_UP)
    return f"+{pct}%" if pct > 0 else f"{pct}%"


def ratio(part, whole) -> Decimal | None:
    """part / whole as a Decimal rate, None when whole is 0 (no base, not 0%)."""
    whole = _dec(whole)
    if not whole:
        return None
    return _dec(part) / whole
