"""The operators' home dashboard: today so far vs the same time last week, orders per hour,
the cutoff countdown, stock running out for tomorrow, and yesterday from the facts.

Queries (pinned in tests/analytics/test_dashboard.py): the session and user,
the default warehouse, today's live aggregate (the only read of raw orders, see
analytics.selectors.today_so_far), yesterday's totals from the facts, and the
SKUs running out for the next delivery day.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tuangou.timeutils import local_today, now, to_local

from .. import selectors
from .reports import _chart, reports_required


@require_GET
@reports_required
def dashboard(request: HttpRequest) -> HttpResponse:
    from catalog.cutoff import order_deadline

    moment = now()
    so_far = selectors.today_so_far(now=moment)
    warehouse = selectors.dashboard_warehouse()
    deadline = order_deadline(warehouse=warehouse, at=moment) if warehouse else None
    low = (
        selectors.running_out(warehouse=warehouse, delivery_date=deadline.delivery_date)
        if deadline
        else []
    )
    yesterday = local_today() - timedelta(days=1)
    hour = to_local(moment).hour
    hours = list(range(24))
    chart = _chart(
        "bar",
        [f"{h:02d}" for h in hours],
        [
            {
                "name": _("Today"),
                "data": [so_far.today.hours[h] if h <= hour else None for h in hours],
            },
            {"name": _("Same day last week"), "data": so_far.last_week.hours},
        ],
    )
    yesterday_report = selectors.day_totals(day=yesterday)
    return render(
        request,
        "analytics/dashboard.html",
        {
            "so_far": so_far,
            "deadline": deadline,
            "warehouse": warehouse,
            "low_stock": low,
            "chart": chart,
            "yesterday": yesterday,
            "yesterday_totals": yesterday_report,
        },
    )
