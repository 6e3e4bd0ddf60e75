"""The suite's one clock (tests/conftest.py `clock`, moments in tests/clock.py)."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.clock import NOON_ISH, SHANGHAI, TODAY, TOMORROW, at
from tuangou import timeutils


def test_the_clock_stands_at_noon_ish_in_shanghai_and_moves_only_when_told(clock):
    assert timezone.now() == NOON_ISH
    assert timeutils.local_today() == TODAY == date(2026, 11, 25)
    assert timeutils.local_today() + timedelta(days=1) == TOMORROW == date(2026, 11, 26)
    assert timeutils.local_now().weekday() == 2  # a Wednesday, before the 23:00 cutoff
    time.sleep(0.01)
    assert timezone.now() == NOON_ISH  # not ticking
    clock.move_to(at(23, 30))
    assert timezone.now() == at(23, 30) == NOON_ISH.replace(hour=23, minute=30)
    clock.shift(timedelta(hours=1))
    assert timeutils.local_today() == TOMORROW
    assert at(9, 0, day=TOMORROW).tzinfo == SHANGHAI


@pytest.mark.ticking
def test_a_ticking_clock_starts_at_noon_ish_and_runs(clock):
    first = timezone.now()
    assert NOON_ISH <= first < NOON_ISH + timedelta(seconds=5)
    time.sleep(0.01)
    assert timezone.now() > first
