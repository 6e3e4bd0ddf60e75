"""Report jobs (报表任务): start an export, watch its progress bar (htmx polls the
job every 2 s; without JavaScript a plain link reloads the page), cancel it,
download its file while it is kept.

Staff with analytics.add_reportjob (operators, finance) only; a job is seen by
its requester (or a superuser): anyone else's code is a 404. Bad input never
creates a job: the form says why in Chinese with a 400.
"""

from __future__ import annotations

import functools

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tuangou.private_files import serve_private_file
from tuangou.statemachine import IllegalTransition
from tuangou.timeutils import local_today

from ..exports import CONTENT_TYPES, EXPORTS, get_export
from ..jobs import ReportJobError, can_start_jobs, cancel_report_job, start_report_job
from ..models import JobStatus, ReportJob

RECENT_JOBS = 20
RUNNING = {JobStatus.PENDING, JobStatus.RUNNING}


def jobs_required(view):
    """Staff who may run report jobs; anonymous people go to the staff sign-in."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not can_start_jobs(request.user):
            raise PermissionDenied("analytics report jobs only")
        return view(request, *args, **kwargs)

    return wrapper


def _get_job_for_user(request: HttpRequest, code: str) -> ReportJob:
    """The job with this code, if the person asking requested it (or is a superuser)."""
    jobs = ReportJob.objects.filter(code=code)
    if not request.user.is_superuser:
        jobs = jobs.filter(requested_by=request.user)
    job = jobs.first()
    if job is None:
        raise Http404("no such job")
    return job


class JobForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Report"),
        choices=[(e.kind, e.label) for e in EXPORTS.values()],
        error_messages={"invalid_choice": gettext_lazy("Unknown report.")},
    )
    file_format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[("xlsx", "Excel (XLSX)"), ("csv", "CSV"), ("pdf", "PDF")],
        error_messages={"invalid_choice": gettext_lazy("Unknown file format.")},
    )
    start = forms.CharField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.CharField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    day = forms.CharField(
        label=gettext_lazy("Day (daily summary)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _initial() -> dict:
    today = local_today()
    return {
        "kind": "orders",
        "file_format": "xlsx",
        "start": today.replace(day=1).isoformat(),
        "end": today.isoformat(),
    }


@jobs_required
@require_http_methods(["GET", "POST"])
def jobs(request: HttpRequest) -> HttpResponse:
    """报表任务: start an export; the person's recent jobs."""
    form = JobForm(request.POST or None, initial=_initial())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind = data["kind"]
        params = {"day": data["day"]} if kind == "daily_summary" else data
        try:
            job = start_report_job(
                user=request.user,
                kind=kind,
                file_format=data["file_format"],
                params={k: params.get(k) for k in ("start", "end", "day") if params.get(k)},
            )
        except ReportJobError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The report is being made; this page shows its progress."))
            return redirect("analytics:job", code=job.code)
    recent = ReportJob.objects.filter(requested_by=request.user).order_by("-created_at", "-pk")[
        :RECENT_JOBS
    ]
    return render(
        request,
        "analytics/jobs/list.html",
        {
            "form": form,
            "jobs": [_row(job) for job in recent],
            "exports": list(EXPORTS.values()),
        },
        status=400 if request.method == "POST" else 200,
    )


def _row(job: ReportJob) -> dict:
    export = EXPORTS.get(job.kind)
    return {
        "job": job,
        "label": export.label if export else job.kind,
        "running": job.status in RUNNING,
        "can_download": job.status == JobStatus.DONE and bool(job.file),
    }


@jobs_required
@require_GET
def job(request: HttpRequest, code: str) -> HttpResponse:
    """One job: its progress (htmx swaps the card every 2 s while it runs)."""
    row = _row(_get_job_for_user(request, code))
    template = "analytics/jobs/_progress.html" if request.htmx else "analytics/jobs/detail.html"
    return render(request, template, row)


@jobs_required
@require_POST
def job_cancel(request: HttpRequest, code: str) -> HttpResponse:
    found = _get_job_for_user(request, code)
    try:
        cancel_report_job(job=found, user=request.user)
    except IllegalTransition:
        messages.error(request, _("This job has already finished; there is nothing to cancel."))
    else:
        messages.success(request, _("The job was cancelled."))
    return redirect("analytics:job", code=found.code)


@jobs_required
@require_GET
def job_download(request: HttpRequest, code: str) -> HttpResponse:
    found = _get_job_for_user(request, code)
    if found.status != JobStatus.DONE or not found.file:
        raise Http404("no file (not ready, cancelled or expired)")
    export = get_export(found.kind)
    return serve_private_file(
        found.file,
        content_type=CONTENT_TYPES[found.file_format],
        filename=export.filename(file_format=found.file_format, params=found.params),
        as_attachment=True,
    )
