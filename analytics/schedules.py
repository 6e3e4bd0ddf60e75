"""Periodic work of the analytics app (merged into CELERY_BEAT_SCHEDULE)."""

from datetime import timedelta

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # Facts: after the day closes in Shanghai (CELERY_TIMEZONE), once the
    # night's commission settlement (02:00) has run; rebuilds the trailing
    # window so late refunds, pickups and claims land. Idempotent.
    "analytics-refresh-facts": {
        "task": "analytics.tasks.refresh_facts_task",
        "schedule": crontab(hour=3, minute=30),
    },
    # Report jobs' files past ANALYTICS_JOB_RETENTION_HOURS are deleted (expired).
    "analytics-expire-report-jobs": {
        "task": "analytics.tasks.expire_report_jobs_task",
        "schedule": timedelta(minutes=15),
    },
    # 08:00 Shanghai: yesterday's summary (PDF) mailed to operators, after the facts.
    "analytics-daily-summary": {
        "task": "analytics.tasks.send_daily_summary_task",
        "schedule": crontab(hour=8, minute=0),
    },
}
