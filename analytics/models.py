"""Analytics: read models (daily facts) and report jobs.

The fact tables (added by the facts work) are small summaries filled by a
Celery beat job after each day closes, set-based and rebuildable for any date
range; reports read facts, never raw orders. A heavy report or export runs as
a ReportJob: a Celery task with progress, cancellable, whose file is private
and kept for a set time.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.private_files import PrivateName, private_storage

# The project's one status guard (re-exported: services import it from here).
from tuangou.statemachine import IllegalTransition, guard  # noqa: F401


def new_job_code() -> str:
    return secrets.token_urlsafe(12)


class JobStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("report job status", "Waiting")  # queued
    RUNNING = "running", pgettext_lazy("report job status", "Running")  # a worker has it
    DONE = "done", pgettext_lazy("report job status", "Ready")  # file ready to download
    FAILED = "failed", pgettext_lazy("report job status", "Failed")  # see error
    CANCELLED = "cancelled", pgettext_lazy("report job status", "Cancelled")  # by its owner
    EXPIRED = "expired", pgettext_lazy("report job status", "Expired")  # file deleted


JOB_TRANSITIONS = {
    JobStatus.PENDING: {JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED},
    JobStatus.RUNNING: {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED},
    JobStatus.DONE: {JobStatus.EXPIRED},
}


class ReportJob(models.Model):
    """One requested report or export, made by a worker, downloadable by its owner."""

    code = models.CharField(_("public code"), max_length=24, unique=True, default=new_job_code)
    kind = models.CharField(_("report"), max_length=40)  # a key of analytics' report registry
    file_format = models.CharField(_("format"), max_length=8)  # csv, xlsx, pdf
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.CASCADE,
        related_name="report_jobs",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(
        _("file"), storage=private_storage, upload_to=PrivateName("exports"), blank=True
    )
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True)

    class Meta:
        verbose_name = _("report job")
        verbose_name_plural = _("report jobs")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["requested_by", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} ({self.code})"
