"""Report pages: 销售报表, 团长业绩, 用户行为, 拼团统计, 物流数据, and a leader's 我的业绩.

Thin: a form checks the range and filters (a bad one is a 400 page with the
form and a Chinese message, nothing computed), a selector reads the facts, the
view shapes the chart JSON (drawn by static/js/analytics-charts.js).

Who sees what: staff with analytics.view_reports (operators, finance) see
every report; a leader sees only their own numbers (我的业绩, and their own
leader page: another leader's id is a 404); anyone else gets a 403.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tuangou.date_range import DateRangeForm, form_errors
from tuangou.timeutils import local_today

from .. import selectors

DEFAULT_DAYS = 30
MAX_DAYS = 731  # two years
REPORT_PERMISSION = "analytics.view_reports"


def can_see_reports(user) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm(REPORT_PERMISSION))


def reports_required(view):
    """Staff with analytics.view_reports; anyone else signed in gets a 403, others log in."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not can_see_reports(request.user):
            raise PermissionDenied("analytics reports only")
        return view(request, *args, **kwargs)

    return wrapper


# --- the range form ---------------------------------------------------------------------


class ReportForm(DateRangeForm):
    """start..end (inclusive, up to today, two years at most) and optional filters; from GET."""

    max_days = MAX_DAYS
    up_to_today = True

    def __init__(self, *args, filters: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        for name in filters:
            self.fields[name] = FILTERS[name]()


def _warehouse_field():
    from catalog.models import Warehouse

    return forms.ModelChoiceField(
        label=gettext_lazy("Warehouse"),
        queryset=Warehouse.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("All warehouses"),
        error_messages={"invalid_choice": gettext_lazy("There is no such warehouse.")},
    )


def _community_field():
    from leaders.models import Community

    return forms.ModelChoiceField(
        label=gettext_lazy("Community"),
        queryset=Community.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("All communities"),
        error_messages={"invalid_choice": gettext_lazy("There is no such community.")},
    )


FILTERS = {"warehouse": _warehouse_field, "community": _community_field}


def _form(request: HttpRequest, filters: tuple[str, ...] = ()) -> ReportForm:
    """The range asked for; the last 30 closed days (up to yesterday) when a date is left out."""
    return ReportForm.from_request(
        request,
        default_days=DEFAULT_DAYS,
        default_end=local_today() - timedelta(days=1),
        extra=filters,
        filters=filters,
    )


_errors = form_errors


def _locale() -> str:
    return "ZH" if (get_language() or "").startswith("zh") else "EN"


def _chart(kind: str, labels: list, series: list[dict], *, unit: str = "count") -> dict:
    """The JSON the chart script reads: kind line|bar, x labels, series, the value unit."""
    return {
        "kind": kind,
        "labels": [str(label) for label in labels],
        "series": series,
        "unit": unit,  # yuan | count | percent
        "locale": _locale(),
    }


def _num(value) -> float | None:
    # Chart data only (never shown as money text): numbers for ECharts.
    return None if value is None else float(value)


def _render(request, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    return render(request, template, context, status=status)


def _bad(request, template: str, form: ReportForm, extra: dict | None = None) -> HttpResponse:
    context = {"form": form, "errors": _errors(form), "report": None, **(extra or {})}
    return _render(request, template, context, status=400)


def _day_label(day: date) -> str:
    return day.strftime("%m-%d")


# --- 销售报表 -----------------------------------------------------------------------------


@require_GET
@reports_required
def sales(request: HttpRequest) -> HttpResponse:
    template = "analytics/reports/sales.html"
    form = _form(request, ("warehouse", "community"))
    if not form.is_valid():
        return _bad(request, template, form)
    data = form.cleaned_data
    report = selectors.sales_report(
        start=data["start"],
        end=data["end"],
        warehouse_id=data["warehouse"].pk if data.get("warehouse") else None,
        community_id=data["community"].pk if data.get("community") else None,
    )
    chart = _chart(
        "line",
        [_day_label(day) for day, _t in report.by_day],
        [
            {"name": _("GMV"), "data": [_num(t.gmv) for _d, t in report.by_day]},
            {"name": _("Refunds"), "data": [_num(t.refunds) for _d, t in report.by_day]},
        ],
        unit="yuan",
    )
    return _render(request, template, {"form": form, "report": report, "chart": chart})


# --- 团长业绩 -----------------------------------------------------------------------------


@require_GET
@reports_required
def leaders(request: HttpRequest) -> HttpResponse:
    template = "analytics/reports/leaders.html"
    form = _form(request)
    if not form.is_valid():
        return _bad(request, template, form)
    rows = selectors.leader_board(start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    top = rows[: selectors.TOP]
    chart = _chart(
        "bar",
        [r.name for r in top],
        [
            {"name": _("GMV"), "data": [_num(r.gmv) for r in top]},
            {"name": _("Commission"), "data": [_num(r.commission) for r in top]},
        ],
        unit="yuan",
    )
    return _render(request, template, {"form": form, "report": rows, "chart": chart})


def _trend_chart(trend) -> dict:
    return _chart(
        "line",
        [_day_label(r.day) for r in trend.days],
        [
            {"name": _("GMV"), "data": [_num(r.gmv) for r in trend.days]},
            {"name": _("Commission"), "data": [_num(r.commission) for r in trend.days]},
        ],
        unit="yuan",
    )


def _leader_page(request: HttpRequest, leader, *, own: bool) -> HttpResponse:
    yesterday = local_today() - timedelta(days=1)
    trend = selectors.leader_trend(leader_id=leader.pk, end=yesterday, days=30)
    return _render(
        request,
        "analytics/reports/leader.html",
        {"leader": leader, "trend": trend, "chart": _trend_chart(trend), "own": own},
    )


@require_GET
def leader(request: HttpRequest, leader_id: int) -> HttpResponse:
    """One leader's 30-day trend: staff with reports see any; a leader only their own (404)."""
    from leaders.models import Leader
    from leaders.selectors import leader_for_user

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if can_see_reports(request.user):
        found = Leader.objects.filter(pk=leader_id).only("pk", "real_name").first()
        if found is None:
            raise Http404("no such leader")
        return _leader_page(request, found, own=False)
    mine = leader_for_user(user=request.user)
    if mine is None:
        raise PermissionDenied("leaders and report staff only")
    if mine.pk != leader_id:
        # Another leader's numbers are never found, not "forbidden".
        raise Http404("not your leader page")
    return _leader_page(request, mine, own=True)


@require_GET
def my_performance(request: HttpRequest) -> HttpResponse:
    """我的业绩: the signed-in leader's own 30-day trend, from the facts."""
    from leaders.selectors import leader_for_user

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    mine = leader_for_user(user=request.user)
    if mine is None:
        raise PermissionDenied("leaders only")
    return _leader_page(request, mine, own=True)


# --- 用户行为 -----------------------------------------------------------------------------


SEGMENT_LABELS = {
    "champions": gettext_lazy("Loyal and recent"),
    "new_or_promising": gettext_lazy("New or promising"),
    "at_risk": gettext_lazy("Loyal, slipping away"),
    "hibernating": gettext_lazy("Dormant"),
}


@require_GET
@reports_required
def behaviour(request: HttpRequest) -> HttpResponse:
    template = "analytics/reports/behaviour.html"
    form = _form(request)
    if not form.is_valid():
        return _bad(request, template, form)
    report = selectors.shopper_behaviour(
        start=form.cleaned_data["start"], end=form.cleaned_data["end"]
    )
    chart = _chart(
        "bar",
        [b.label for b in report.frequency],
        [{"name": pgettext("report", "Shoppers"), "data": [b.shoppers for b in report.frequency]}],
    )
    segments = [(SEGMENT_LABELS[s.key], s) for s in report.segments]
    return _render(
        request,
        template,
        {
            "form": form,
            "report": report,
            "chart": chart,
            "segments": segments,
            "offsets": list(range(report.cohort_width)),
            "recent_days": selectors.RECENT_DAYS,
            "frequent_orders": selectors.FREQUENT_ORDERS,
        },
    )


# --- 拼团统计 -----------------------------------------------------------------------------


@require_GET
@reports_required
def groupbuy(request: HttpRequest) -> HttpResponse:
    template = "analytics/reports/groupbuy.html"
    form = _form(request)
    if not form.is_valid():
        return _bad(request, template, form)
    report = selectors.groupbuy_report(
        start=form.cleaned_data["start"], end=form.cleaned_data["end"]
    )
    chart = _chart(
        "bar",
        [_day_label(d) for d, _r in report.by_day],
        [
            {"name": _("Groups started"), "data": [r.started for _d, r in report.by_day]},
            {"name": _("Groups filled"), "data": [r.filled for _d, r in report.by_day]},
            {"name": _("Groups failed"), "data": [r.failed for _d, r in report.by_day]},
        ],
    )
    return _render(request, template, {"form": form, "report": report, "chart": chart})


# --- 物流数据 -----------------------------------------------------------------------------


@require_GET
@reports_required
def delivery(request: HttpRequest) -> HttpResponse:
    template = "analytics/reports/delivery.html"
    form = _form(request, ("warehouse",))
    if not form.is_valid():
        return _bad(request, template, form)
    data = form.cleaned_data
    report = selectors.delivery_report(
        start=data["start"],
        end=data["end"],
        warehouse_id=data["warehouse"].pk if data.get("warehouse") else None,
    )
    chart = _chart(
        "line",
        [_day_label(r.key) for r in report.by_day],
        [
            {
                "name": _("On-time rate"),
                "data": [
                    None if r.on_time_rate is None else round(float(r.on_time_rate) * 100, 1)
                    for r in report.by_day
                ],
            }
        ],
        unit="percent",
    )
    return _render(request, template, {"form": form, "report": report, "chart": chart})
