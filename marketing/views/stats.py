"""Campaign statistics for operators: one page, a table and a chart per kind."""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from .. import stats_selectors

VIEW_PERMISSIONS = (
    "marketing.view_coupontemplate",
    "marketing.view_flashsale",
    "marketing.view_promotion",
)


def stats_required(view):
    """Staff who may view a kind of campaign (operators); anyone else gets a 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not (request.user.is_staff and any(request.user.has_perm(p) for p in VIEW_PERMISSIONS)):
            raise PermissionDenied("marketing statistics only")
        return view(request, *args, **kwargs)

    return wrapper


@stats_required
@require_GET
def campaign_stats(request: HttpRequest) -> HttpResponse:
    """活动数据: issued, claimed, used, discount cost, GMV and new shoppers per
    coupon template, flash session and 满减 promotion (4 queries for the numbers)."""
    stats = stats_selectors.campaign_stats()
    chart = stats.chart()
    chart["locale"] = "ZH" if (get_language() or "").startswith("zh") else "EN"
    chart["text"] = {
        "cost": _("Discount cost"),
        "gmv": _("GMV"),
        "none": _("No campaign has been used by a paid order yet."),
    }
    return render(request, "marketing/stats/campaigns.html", {"stats": stats, "chart": chart})


urlpatterns = [path("stats/", campaign_stats, name="stats")]
