"""Time helpers: stored in UTC, shown and cut off in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
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


def after_sale_deadline(*, completed_at: datetime) -> datetime:
    """When the after-sale window of an order completed at `completed_at` ends.

    The one rule for claims (orders) and the commission freeze (leaders):
    AFTER_SALE_WINDOW_DAYS calendar days in Shanghai after the day of
    completion, through the end of the last one. Completed on 26 Nov at any
    hour with 2 days → claims until 28 Nov 23:59:59, deadline 29 Nov 00:00.
    Open while now < deadline.
    """
    from django.conf import settings

    last_day = to_local(completed_at).date() + timedelta(days=settings.AFTER_SALE_WINDOW_DAYS)
    return local_datetime(last_day + timedelta(days=1), time(0, 0))
