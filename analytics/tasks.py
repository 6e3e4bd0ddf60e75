"""Thin Celery tasks of the analytics app: each calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

# --- facts (the nightly job and a rebuild on demand) -----------------------------------


@shared_task
def refresh_facts_task() -> dict:
    """After the day closes (Shanghai): rebuild the trailing window of fact days. Idempotent."""
    from .facts import refresh_recent_facts

    return refresh_recent_facts()


@shared_task
def rebuild_facts_task(start: str, end: str) -> dict:
    """Rebuild the facts of start..end (ISO dates). Idempotent."""
    from datetime import date

    from .facts import rebuild_facts

    return rebuild_facts(start=date.fromisoformat(start), end=date.fromisoformat(end))


# --- report jobs and the daily summary (analytics.jobs, analytics.summary) ---------------


@shared_task
def run_report_job_task(job_id: int) -> str | None:
    """Make one report job's file. Delivered twice, the second sees the status and stops."""
    from .jobs import run_report_job

    job = run_report_job(job_id=job_id)
    return job.status if job is not None else None


@shared_task
def expire_report_jobs_task() -> int:
    """Delete the files of report jobs past their keeping time (they become expired)."""
    from .jobs import expire_report_jobs

    return expire_report_jobs()


@shared_task
def send_daily_summary_task(day: str | None = None) -> int:
    """08:00 Shanghai: yesterday's summary PDF mailed to operators (once per day)."""
    from datetime import date

    from .summary import send_daily_summary

    return send_daily_summary(day=date.fromisoformat(day) if day else None)
