"""Periodic work of the outbox (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta

BEAT_SCHEDULE = {
    # Tasks whose publish failed after their transaction committed (broker
    # down) or whose process died in between: published again, oldest first.
    "outbox-relay": {
        "task": "tuangou.outbox.tasks.relay_outbox_task",
        "schedule": timedelta(minutes=1),
    },
}
