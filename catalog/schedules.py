"""Periodic catalog work, merged into CELERY_BEAT_SCHEDULE (plain data only)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Just after midnight Shanghai (CELERY_TIMEZONE) open tomorrow and the day
    # after; the hourly catch-up only fills gaps (new SKUs, a missed night).
    "catalog-roll-stock-forward": {
        "task": "catalog.tasks.roll_stock_forward_task",
        "schedule": crontab(hour=0, minute=5),
    },
    "catalog-roll-stock-forward-catch-up": {
        "task": "catalog.tasks.roll_stock_forward_task",
        "schedule": crontab(minute=35),
    },
}
