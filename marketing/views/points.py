"""我的积分: the balance, what expires next, and the history."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from .. import selectors
from ..rules import POINTS_PER_YUAN_VALUE


@login_required
@require_GET
def my_points(request):
    page = selectors.points_page(user=request.user)
    context = {
        "page": page,
        "points_per_yuan_value": POINTS_PER_YUAN_VALUE,
        "earn_rate": settings.MARKETING_POINTS_PER_YUAN,
        "max_share_percent": int(float(settings.MARKETING_POINTS_MAX_SHARE) * 100),
    }
    return render(request, "marketing/points/mine.html", context)


urlpatterns = [path("points/", my_points, name="my_points")]
