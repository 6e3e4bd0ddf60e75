# ruff: noqa: F811 - the real-worker fixtures are imported from tests/workers.py
"""A real Celery worker: a report job's task delivered twice makes one file; the beat's
sweeper task expires it after the keeping time."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from celery.signals import task_postrun

from analytics.jobs import start_report_job
from analytics.models import JobStatus, ReportJob
from analytics.tasks import expire_report_jobs_task, run_report_job_task
from tests.clock import TODAY
from tests.workers import celery_worker, eager_celery  # noqa: F401 - fixtures

# The worker runs in a thread of this process: it reads the same (ticking) clock.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.ticking]


def _wait_for(name: str, count: int):
    done = threading.Event()
    seen: list = []

    def finished(task=None, retval=None, **_kwargs):
        if task.name.endswith(name):
            seen.append(retval)
            if len(seen) >= count:
                done.set()

    task_postrun.connect(finished, weak=False)
    return done, seen, lambda: task_postrun.disconnect(finished)


def test_a_job_delivered_twice_makes_one_file_and_expires_later(
    clock, history, celery_worker, operator, settings
):
    done, seen, stop = _wait_for("run_report_job_task", 2)
    try:
        job = start_report_job(
            user=operator,
            kind="orders",
            file_format="csv",
            params={"start": str(TODAY - timedelta(days=2)), "end": str(TODAY)},
        )  # queued after commit (autocommit here)
        run_report_job_task.delay(job.pk)  # the broker delivers it again
        assert done.wait(timeout=30), f"tasks did not finish: {seen}"
    finally:
        stop()
    assert seen == ["done", "done"]
    job.refresh_from_db()
    assert (job.status, job.row_count, job.progress) == (JobStatus.DONE, 10, 100)
    folder = settings.PRIVATE_MEDIA_ROOT / job.file.name.rsplit("/", 1)[0]
    assert [p.name for p in folder.iterdir()] == [job.file.name.rsplit("/", 1)[1]]

    clock.shift(timedelta(hours=settings.ANALYTICS_JOB_RETENTION_HOURS, minutes=1))
    done, seen, stop = _wait_for("expire_report_jobs_task", 1)
    try:
        expire_report_jobs_task.delay()
        assert done.wait(timeout=30), "the sweeper did not run"
    finally:
        stop()
    assert seen == [1]
    job = ReportJob.objects.get(pk=job.pk)
    assert (job.status, job.file.name) == (JobStatus.EXPIRED, "")
    assert list(folder.iterdir()) == []
