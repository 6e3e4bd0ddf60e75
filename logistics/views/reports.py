"""Logistics pages: reports (物流数据, delivery efficiency) for operators.

Staff with logistics.view_deliveryrun only. Thin: the date range is checked
by a form, the numbers come from logistics.selectors.delivery_efficiency.
"""

from __future__ import annotations

import csv
import functools
import io
from decimal import Decimal

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tuangou.date_range import DateRangeForm, form_errors
from tuangou.timeutils import local_today, to_local

from ..selectors import Efficiency, EfficiencyReport, RunEfficiency, delivery_efficiency

DEFAULT_DAYS = 14
MAX_DAYS = 366
EXPORT_FORMATS = {"csv", "xlsx"}
FORMULA_STARTS = ("=", "+", "-", "@")


def reports_required(view):
    """Staff who may view delivery runs (operators, warehouse); anyone else is refused."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not (request.user.is_staff and request.user.has_perm("logistics.view_deliveryrun")):
            raise PermissionDenied("logistics reports only")
        return view(request, *args, **kwargs)

    return wrapper


class RangeForm(DateRangeForm):
    """start..end (inclusive), a year at most."""

    max_days = MAX_DAYS
    too_long = gettext_lazy("Choose a range of at most one year.")


def _range_form(request: HttpRequest) -> RangeForm:
    """The range asked for; the last 14 days (today included) when a date is left out."""
    return RangeForm.from_request(request, default_days=DEFAULT_DAYS, default_end=local_today())


_errors = form_errors


@reports_required
@require_GET
def efficiency(request: HttpRequest) -> HttpResponse:
    form = _range_form(request)
    if not form.is_valid():
        return render(
            request,
            "logistics/reports/efficiency.html",
            {"form": form, "errors": _errors(form), "report": None},
            status=400,
        )
    report = delivery_efficiency(start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    chart = report.chart()
    chart["locale"] = "ZH" if (get_language() or "").startswith("zh") else "EN"
    chart["text"] = {"rate": _("On-time rate (%)"), "none": _("No runs in this range.")}
    return render(
        request,
        "logistics/reports/efficiency.html",
        {
            "form": form,
            "errors": [],
            "report": report,
            "chart": chart,
            "query": f"start={report.start.isoformat()}&end={report.end.isoformat()}",
        },
    )


# --- exports ----------------------------------------------------------------------------


def _headers() -> list[str]:
    return [
        _("Runs"),
        _("Stops"),
        _("Arrivals with a pickup time"),
        _("On time"),
        _("On-time rate (%)"),
        _("Average minutes late"),
        _("Most minutes late"),
        _("Stops per hour"),
        _("Short at sign-off (units)"),
        _("Cut after short delivery (units)"),
        _("Damage reports"),
        _("Orders delivered"),
        _("Cost per order (¥)"),
    ]


def _numbers(n: Efficiency) -> list:
    return [
        n.runs,
        n.stops,
        n.measured,
        n.on_time,
        n.on_time_rate,
        n.average_late_minutes,
        n.max_late,
        n.stops_per_hour,
        n.shortage_units,
        n.cut_units,
        n.damaged,
        n.orders_delivered,
        n.cost_per_order,
    ]


def _local(value) -> str:
    return f"{to_local(value):%Y-%m-%d %H:%M}" if value else ""


def _run_headers() -> list[str]:
    return [
        _("Delivery date"),
        _("Route"),
        _("Driver"),
        *_headers()[1:],
        _("Planned departure"),
        _("Departed at"),
        _("Finished at"),
        _("Planned distance (km)"),
        _("Actual distance (km)"),
    ]


def _run_row(run: RunEfficiency) -> list:
    return [
        run.day,
        f"{run.route_code} {run.route_name}",
        run.driver_name,
        *_numbers(run)[1:],
        _local(run.planned_departure),
        _local(run.departed_at),
        _local(run.finished_at),
        run.planned_distance_km,
        run.actual_distance_km,
    ]


def _sheets(report: EfficiencyReport) -> list[tuple[str, list[str], list[list]]]:
    """(title, header, rows) for each table of the export."""
    total = [_("Total"), *_numbers(report.total)]
    return [
        (_("Runs"), _run_headers(), [_run_row(r) for r in report.runs]),
        (
            _("By route"),
            [_("Route"), *_headers()],
            [[g.label, *_numbers(g.numbers)] for g in report.by_route] + [total],
        ),
        (
            _("By driver"),
            [_("Driver"), *_headers()],
            [[g.label, *_numbers(g.numbers)] for g in report.by_driver] + [total],
        ),
        (
            _("By day"),
            [_("Delivery date"), *_headers()],
            [[g.key, *_numbers(g.numbers)] for g in report.by_day] + [total],
        ),
    ]


def _csv(report: EfficiencyReport) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 Chinese correctly with a BOM
    writer = csv.writer(out)
    for i, (title, header, rows) in enumerate(_sheets(report)):
        if i:
            writer.writerow([])
        writer.writerow([title])
        writer.writerow(header)
        writer.writerows(["" if v is None else _quoted(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


def _xlsx(report: EfficiencyReport) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in _sheets(report):
        sheet = book.create_sheet(title=title[:31])
        sheet.append(header)
        for row in rows:
            sheet.append([_cell(v) for v in row])
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _quoted(value):
    """A name typed by staff that starts like a formula (=, +, -, @) is quoted,
    so a spreadsheet shows it and never runs it."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def _cell(value):
    """Numbers stay numbers in the sheet (Decimal → float); names are quoted."""
    return float(value) if isinstance(value, Decimal) else _quoted(value)


@reports_required
@require_GET
def efficiency_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in EXPORT_FORMATS:
        raise Http404("unknown export format")
    form = _range_form(request)
    if not form.is_valid():
        return HttpResponse(
            " ".join(_errors(form)), status=400, content_type="text/plain; charset=utf-8"
        )
    report = delivery_efficiency(start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    name = f"delivery-efficiency-{report.start:%Y%m%d}-{report.end:%Y%m%d}.{fmt}"
    if fmt == "csv":
        response = HttpResponse(_csv(report), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            _xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
