"""Periodic work of the logistics app (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta  # noqa: F401

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # Points on no route: their confirmed orders leave at 06:00 Shanghai (this
    # replaced orders' own daily dispatch). Points on a route leave with their
    # van (logistics.services.runs.depart_run).
    "logistics-dispatch-unrouted": {
        "task": "logistics.tasks.dispatch_unrouted_orders_task",
        "schedule": crontab(hour=6, minute=0),
    },
    # Uncollected goods: an hour's sweep after orders flags them (minute 5);
    # the category decides refund or return (logistics.services.uncollected).
    "logistics-dispose-uncollected": {
        "task": "logistics.tasks.dispose_uncollected_task",
        "schedule": crontab(minute=20),
    },
    # The cutoff wave: every 5 minutes, each warehouse whose cutoff for
    # tomorrow has passed gets its wave (until it is DONE); late orders of
    # DONE waves move to the next day two minutes later.
    "logistics-start-due-waves": {
        "task": "logistics.tasks.start_due_waves_task",
        "schedule": crontab(minute="*/5"),
    },
    "logistics-roll-late-orders": {
        "task": "logistics.tasks.roll_late_orders_task",
        "schedule": crontab(minute="2-59/5"),
    },
}
