"""Periodic work of groupbuy (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "groupbuy-sweep-groups": {
        "task": "groupbuy.tasks.sweep_groups_task",
        "schedule": timedelta(minutes=1),
    },
    # After catalog-roll-stock-forward (00:05 and :35 every hour) opened the days;
    # hourly, so a day's leftover hold goes back to general sale soon after its cutoff.
    "groupbuy-hold-campaign-stock": {
        "task": "groupbuy.tasks.hold_campaign_stock_task",
        "schedule": crontab(minute=40),
    },
}
