"""Report jobs: a heavy report or export made by a Celery worker, with progress,
cancellable by its owner, its file kept for ANALYTICS_JOB_RETENTION_HOURS.

    start_report_job(*, user, kind, file_format, params) -> ReportJob
    run_report_job(*, job_id) -> ReportJob | None          (the worker; idempotent)
    cancel_report_job(*, job, user) -> ReportJob           (IllegalTransition when finished)
    expire_report_jobs(*, now=None) -> int                  (the beat sweeper)

Every status change is a compare-and-set UPDATE on the current status (the
transition table is analytics.models.JOB_TRANSITIONS), so a task delivered
twice, a cancel racing the last chunk, and two sweepers never step on each
other: whoever loses the UPDATE does nothing. Bad input is refused before any
row exists (analytics.exports.check_request).

The worker writes the file to a temporary file first and stores it in private
storage only when the job is still running at the end; a cancel between two
chunks removes the partial file and stores nothing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tuangou.outbox import publish_on_commit

from .exports import ExportError, JobCancelled, check_request, get_export
from .models import JOB_TRANSITIONS, JobStatus, ReportJob, guard

logger = logging.getLogger(__name__)

START_PERMISSION = "analytics.add_reportjob"
PERSONAL_DATA_PERMISSION = "analytics.export_personal_data"
# A job still RUNNING this long after it started lost its worker (a crash that
# Celery did not redeliver): the sweeper marks it failed.
STALE_RUNNING = timedelta(hours=6)

REPORT_JOB = gettext_lazy("Report job")


class ReportJobError(ValueError):
    """A refused request: `message` is shown to the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def can_start_jobs(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(START_PERMISSION))


def start_report_job(*, user, kind: str, file_format: str, params: Mapping[str, Any]) -> ReportJob:
    """Check the request, create the job, queue its task after commit.

    Raises PermissionDenied for someone who may not run reports and
    ReportJobError (nothing created) for an unknown kind or format or bad dates.
    """
    if not can_start_jobs(user):
        raise PermissionDenied("analytics report jobs")
    try:
        clean = check_request(kind=kind, file_format=file_format, params=params)
    except ExportError as exc:
        raise ReportJobError(exc.message) from None
    from .tasks import run_report_job_task

    with transaction.atomic():
        job = ReportJob.objects.create(
            kind=kind, file_format=file_format, params=clean, requested_by=user
        )
        publish_on_commit(run_report_job_task, job.pk)
    return job


def cancel_report_job(*, job: ReportJob, user) -> ReportJob:
    """The owner (or a superuser) stops a waiting or running job.

    The worker sees the status between two chunks, stops and removes its
    partial file. A finished job raises IllegalTransition (its translated
    message says why).
    """
    if job.requested_by_id != user.pk and not user.is_superuser:
        raise PermissionDenied("not your job")
    guard(JOB_TRANSITIONS, job.status, JobStatus.CANCELLED, REPORT_JOB)
    updated = ReportJob.objects.filter(
        pk=job.pk, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
    ).update(status=JobStatus.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    if not updated:
        # It finished (or failed) between the page's read and this click.
        guard(JOB_TRANSITIONS, job.status, JobStatus.CANCELLED, REPORT_JOB)
    return job


def _progress(job_id: int):
    """The writers' callback: saves the percentage (at most 99 until the file is
    stored) and raises JobCancelled once the job is no longer RUNNING. One
    UPDATE per chunk does both."""
    last = {"percent": -1}

    def report(done: int, total: int) -> None:
        percent = min(99, done * 100 // total) if total else 0
        fields = {"row_count": done}
        if percent != last["percent"]:
            fields["progress"] = percent
        if not ReportJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(**fields):
            raise JobCancelled
        last["percent"] = percent

    return report


@contextmanager
def _runner_lock(job_id: int) -> Iterator[bool]:
    """A PostgreSQL session lock held by the worker that runs the job. A second
    delivery waits here while that worker lives; one that gets the lock while
    the job is RUNNING knows its worker died (PostgreSQL released the lock with
    the dead worker's session) and may start the job again. Yields whether the
    lock is held: behind PgBouncer's transaction pooling (server-side cursors
    off, settings.DATABASE_PGBOUNCER) a session lock cannot be kept, and a job
    whose worker died stays RUNNING until expire_report_jobs fails it."""
    if connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        yield False
        return
    key = f"analytics.report_job:{job_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
    try:
        yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def run_report_job(*, job_id: int) -> ReportJob | None:
    """Make the job's file. Safe to deliver twice: only one delivery at a time
    works on a job (the runner's lock), and only on a PENDING job, or on a
    RUNNING one whose worker died (a SIGKILLed worker's message comes back, see
    _runner_lock); any other sees the status and returns."""
    with _runner_lock(job_id) as locked:
        return _run_report_job(job_id=job_id, take_over=locked)


def _run_report_job(*, job_id: int, take_over: bool) -> ReportJob | None:
    now = timezone.now()
    claimable = [JobStatus.PENDING, JobStatus.RUNNING] if take_over else [JobStatus.PENDING]
    claimed = ReportJob.objects.filter(pk=job_id, status__in=claimable).update(
        status=JobStatus.RUNNING, started_at=now, progress=0, row_count=0
    )
    job = ReportJob.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or not claimed:
        return job
    personal = job.requested_by.has_perm(PERSONAL_DATA_PERMISSION)
    fd, tmp_path = tempfile.mkstemp(prefix="report-", suffix="." + job.file_format)
    try:
        with os.fdopen(fd, "w+b") as out:
            export = get_export(job.kind)  # a kind since removed fails the job, not the worker
            rows = export.write(
                out=out,
                file_format=job.file_format,
                params=job.params,
                personal=personal,
                progress=_progress(job.pk),
            )
            out.flush()
            out.seek(0)
            return _store(job, out, rows=rows)
    except JobCancelled:
        logger.info("report job %s cancelled; partial file removed", job.code)
        return ReportJob.objects.get(pk=job.pk)
    except Exception:
        # The page shows a plain reason; the log has the traceback. A bug is
        # not retried: the owner may start the job again.
        logger.exception("report job %s failed", job.code)
        ReportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            error=_("The report could not be made. Try again, or tell the developers."),
        )
        return ReportJob.objects.get(pk=job.pk)
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)


def _store(job: ReportJob, out, *, rows: int) -> ReportJob:
    """Keep the file (private storage) and mark the job DONE, unless it was
    cancelled after the last chunk: then the stored file is removed again."""
    field = job.file
    name = field.field.generate_filename(job, f"{job.kind}.{job.file_format}")
    name = field.storage.save(name, File(out), max_length=field.field.max_length)
    finished = timezone.now()
    updated = ReportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.DONE,
        file=name,
        progress=100,
        row_count=rows,
        finished_at=finished,
        expires_at=finished + timedelta(hours=settings.ANALYTICS_JOB_RETENTION_HOURS),
    )
    if not updated:
        field.storage.delete(name)
    return ReportJob.objects.get(pk=job.pk)


def expire_report_jobs(*, now: datetime | None = None) -> int:
    """Delete the files of jobs past their keeping time (DONE → EXPIRED); mark
    jobs whose worker vanished as FAILED. Returns the number expired."""
    now = now or timezone.now()
    expired = 0
    due = ReportJob.objects.filter(status=JobStatus.DONE, expires_at__lte=now)
    for job in due.order_by("pk").iterator():
        # Status first: a download that starts now gets a 404, never half a file.
        if ReportJob.objects.filter(pk=job.pk, status=JobStatus.DONE).update(
            status=JobStatus.EXPIRED, file=""
        ):
            if job.file.name:
                job.file.storage.delete(job.file.name)
            expired += 1
    ReportJob.objects.filter(status=JobStatus.RUNNING, started_at__lte=now - STALE_RUNNING).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error=_("The worker stopped before the report was finished. Start it again."),
    )
    return expired
