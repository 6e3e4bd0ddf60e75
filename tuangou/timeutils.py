"""Time helpers: stored in UTC, shown and cut off in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return timezone.now()


def local_now() -> datetime:
    return timezone.now().astimezone(SHANGHAI)


def local_today() -> date:
    return local_now().date()


def local_datetime(day: date, at: time) -> datetime:
    """An aware datetime for a wall-clock time on a day in Shanghai."""
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def to_local(value: datetime) -> datetime:
    return value.astimezone(SHANGHAI)
