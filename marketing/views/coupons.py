"""Coupon pages: 领券中心 (claim centre), 我的优惠券 (tabs), and the operators'
segment issue jobs with an htmx-polled progress bar."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from leaders.models import Community, PickupPoint

from .. import selectors
from ..models import CouponIssueJob, CouponTemplate, JobStatus, SegmentKind
from ..services.coupons import (
    CouponUnavailable,
    MarketingError,
    cancel_issue_job,
    claim_coupon,
    start_issue_job,
)


@require_GET
def claim_centre(request):
    """领券中心: everyone may look; claiming needs a sign-in."""
    cards = selectors.claim_centre(user=request.user)
    return render(request, "marketing/coupons/claim_centre.html", {"cards": cards})


@login_required
@require_POST
def claim(request, template_id: int):
    """领取: one coupon of a claim-centre template (htmx swaps the card)."""
    try:
        coupon = claim_coupon(template_id=template_id, user=request.user)
    except CouponUnavailable as exc:
        message, ok = exc.message, False
    else:
        message, ok = (
            _("Claimed! “%(name)s” is in My coupons.") % {"name": coupon.template.name},
            True,
        )
    if request.htmx:
        card = next(
            (c for c in selectors.claim_centre(user=request.user) if c.template.pk == template_id),
            None,
        )
        if card is None:
            raise Http404
        return render(
            request,
            "marketing/coupons/_claim_card.html",
            # 200 either way: htmx swaps only 2xx, and the card says why.
            {"card": card, "flash": message, "flash_ok": ok},
        )
    (messages.success if ok else messages.error)(request, message)
    return redirect("marketing:claim_centre")


TABS = [
    ("unused", pgettext_lazy("coupon status", "Unused")),
    ("used", pgettext_lazy("coupon status", "Used")),
    ("expired", pgettext_lazy("coupon status", "Expired")),
]


@login_required
@require_GET
def my_coupons(request):
    """我的优惠券 with tabs 未使用 / 已使用 / 已过期 (2 queries)."""
    tab = request.GET.get("tab", "unused")
    if tab not in selectors.WALLET_TABS:
        tab = "unused"
    counts = selectors.wallet_counts(user=request.user)
    context = {
        "tab": tab,
        "tabs": [
            {"key": key, "label": label, "count": counts[key], "is_current": key == tab}
            for key, label in TABS
        ],
        "coupons": selectors.wallet(user=request.user, tab=tab),
    }
    return render(request, "marketing/coupons/mine.html", context)


# --- operators: issue a template to a segment --------------------------------------


class IssueJobForm(forms.Form):
    template = forms.ModelChoiceField(
        label=gettext_lazy("Coupon template"),
        queryset=CouponTemplate.objects.filter(is_active=True).order_by("-created_at"),
    )
    segment = forms.ChoiceField(label=gettext_lazy("Shoppers"), choices=SegmentKind.choices)
    community = forms.ModelChoiceField(
        label=gettext_lazy("Community"), queryset=Community.objects.order_by("name"), required=False
    )
    pickup_point = forms.ModelChoiceField(
        label=gettext_lazy("Pickup point"),
        queryset=PickupPoint.objects.order_by("name"),
        required=False,
    )
    inactive_days = forms.IntegerField(
        label=gettext_lazy("Inactive for (days)"), min_value=1, max_value=3650, required=False
    )


def _operator(request) -> None:
    if not request.user.has_perm("marketing.add_couponissuejob"):
        raise PermissionDenied


@login_required
def issue_jobs(request):
    """批量发券: start a job, see the latest ones."""
    _operator(request)
    form = IssueJobForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = start_issue_job(
                template=data["template"],
                segment=data["segment"],
                community=data["community"],
                pickup_point=data["pickup_point"],
                inactive_days=data["inactive_days"],
                created_by=request.user,
            )
        except MarketingError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("marketing:issue_job", job_id=job.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "marketing/coupons/issue_jobs.html",
        {"form": form, "jobs": selectors.issue_jobs()},
        status=status,
    )


@login_required
@require_GET
def issue_job(request, job_id: int):
    """One job: the progress bar polls `issue_job_progress` while it runs."""
    _operator(request)
    job = get_object_or_404(CouponIssueJob.objects.select_related("template"), pk=job_id)
    template = (
        "marketing/coupons/_job_progress.html"
        if request.htmx
        else "marketing/coupons/issue_job.html"
    )
    return render(request, template, {"job": job, "running": _running(job)})


def _running(job: CouponIssueJob) -> bool:
    return job.status in {JobStatus.PENDING, JobStatus.RUNNING}


@login_required
@require_POST
def issue_job_cancel(request, job_id: int):
    _operator(request)
    job = get_object_or_404(CouponIssueJob, pk=job_id)
    if cancel_issue_job(job=job):
        messages.success(request, _("The job was cancelled."))
    else:
        messages.error(request, _("This job has already finished."))
    return redirect("marketing:issue_job", job_id=job.pk)


urlpatterns = [
    path("coupons/", claim_centre, name="claim_centre"),
    path("coupons/<int:template_id>/claim/", claim, name="claim"),
    path("coupons/mine/", my_coupons, name="my_coupons"),
    path("coupons/jobs/", issue_jobs, name="issue_jobs"),
    path("coupons/jobs/<int:job_id>/", issue_job, name="issue_job"),
    path("coupons/jobs/<int:job_id>/cancel/", issue_job_cancel, name="issue_job_cancel"),
]
