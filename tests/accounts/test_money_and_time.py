from datetime import date, time
from decimal import Decimal

import pytest

from tuangou.money import from_fen, to_fen, to_money
from tuangou.timeutils import local_datetime


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.005", "1.01"), ("1.004", "1.00"), ("2.675", "2.68"), ("-1.005", "-1.01"), (3, "3.00")],
)
def test_money_rounds_half_up_to_the_fen(raw, expected):
    assert to_money(Decimal(raw) if isinstance(raw, str) else raw) == Decimal(expected)


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        to_money(0.1)


def test_fen_round_trip():
    assert to_fen(Decimal("12.34")) == 1234
    assert from_fen(1234) == Decimal("12.34")


def test_local_datetime_is_aware_in_shanghai():
    moment = local_datetime(date(2026, 11, 25), time(23, 0))
    assert moment.utcoffset().total_seconds() == 8 * 3600
    assert moment.isoformat() == "2026-11-25T23:00:00+08:00"
