"""Periodic work of groupbuy (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta

BEAT_SCHEDULE = {
    "groupbuy-sweep-groups": {
        "task": "groupbuy.tasks.sweep_groups_task",
        "schedule": timedelta(minutes=1),
    },
}
