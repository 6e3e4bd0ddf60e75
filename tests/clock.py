"""The suite's one clock: the moment every test that involves a day or an hour runs at.

The `clock` fixture (tests/conftest.py) freezes time at NOON_ISH, not
ticking; a test that needs another moment moves from there
(`clock.move_to(at(23, 30))`, `clock.shift(timedelta(days=3))`) or travels
with time_machine to a moment written relative to these constants. No test
picks its data from the real date (date.today(), timezone.now() unfrozen):
`make test-faketime` runs the suite on other days to prove it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Wednesday 2026-11-25, 15:00 in Shanghai: before the 23:00 cutoff, so an
# order placed now is delivered tomorrow.
TODAY = date(2026, 11, 25)
NOON_ISH = datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI)
TOMORROW = TODAY + timedelta(days=1)


def at(hour: int, minute: int = 0, *, day: date = TODAY) -> datetime:
    """A wall-clock moment in Shanghai, on the clock's day unless told."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def browser_clock(context) -> None:
    """Start a Playwright browser context's clock where the server's clock is now
    (a page's countdowns read the browser's clock, the deadlines the server's)."""
    from django.utils import timezone

    context.clock.install(time=timezone.now())
