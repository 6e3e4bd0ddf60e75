"""Periodic work of the analytics app (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta  # noqa: F401

from celery.schedules import crontab  # noqa: F401

BEAT_SCHEDULE: dict[str, dict] = {}
