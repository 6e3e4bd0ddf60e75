"""Periodic work of the marketing app (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # Unused coupons past their end (every 10 minutes: a coupon shows expired soon after).
    "marketing-expire-coupons": {
        "task": "marketing.tasks.expire_coupons_task",
        "schedule": timedelta(minutes=10),
    },
    # Points expire at the end of the year after they were earned; the daily run
    # at 00:20 Shanghai writes the EXPIRED entries (FIFO).
    "marketing-expire-points": {
        "task": "marketing.tasks.expire_points_task",
        "schedule": crontab(hour=0, minute=20),
    },
    # 秒杀 (M2): the Redis gate reconciled with PostgreSQL and the cached board
    # rewritten, every minute (expired holds go back within a minute of expiry).
    "marketing-flash-upkeep": {
        "task": "marketing.tasks.flash_upkeep_task",
        "schedule": timedelta(minutes=1),
    },
}
