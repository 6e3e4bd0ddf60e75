"""The leader's side of orders: the day's orders at their points, signing for
the delivery (签收), the pickup counter (by code, QR scan or phone digits,
with undo) and the uncollected list. Thin: parse, call a selector or a
service, render. Another leader's point, line or code is never found (404).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leaders import selectors as leader_selectors
from leaders.views import leader_required
from tuangou.timeutils import local_today

from .. import pickup_selectors as selectors
from ..services.delivery import sign_for_delivery
from ..services.pickup import PickupError, hand_out, hand_out_everything, undo_handout

CODE_RE = re.compile(r"^\d{6}$")
LAST4_RE = re.compile(r"^\d{4}$")
MAX_UNITS = 9999


def _points(request: HttpRequest) -> list:
    points = selectors.points_of_leader(leader=request.leader)
    if not points:
        raise Http404("no pickup point")
    return points


def _chosen_point(request: HttpRequest, points: list, raw: str | None):
    """?point=<pk> among the leader's own points (404 otherwise), or the first."""
    if raw in (None, ""):
        return points[0]
    try:
        pk = int(raw)
    except ValueError:
        raise Http404("bad point") from None
    for point in points:
        if point.pk == pk:
            return point
    raise Http404("no such pickup point")


def _own_point(request: HttpRequest, raw: str | None):
    try:
        pk = int(raw or "")
    except ValueError:
        raise Http404("bad point") from None
    point = leader_selectors.point_for_leader(leader=request.leader, pk=pk)
    if point is None:
        raise Http404("no such pickup point")
    return point


def _day(raw: str | None) -> date:
    today = local_today()
    if not raw:
        return today
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise Http404("bad day") from None
    if abs((day - today).days) > 60:
        raise Http404("day out of range")
    return day


def _url(name: str, **params) -> str:
    params = {k: v for k, v in params.items() if v not in (None, "")}
    return reverse(name) + (f"?{urlencode(params)}" if params else "")


# --- pages ----------------------------------------------------------------------------


@leader_required
def today(request: HttpRequest) -> HttpResponse:
    points = _points(request)
    point = _chosen_point(request, points, request.GET.get("point"))
    day = _day(request.GET.get("day"))
    today_ = local_today()
    board = selectors.day_board(pickup_point=point, day=day)
    return render(
        request,
        "orders/leader/today.html",
        {
            "points": points,
            "point": point,
            "day": day,
            "board": board,
            "days": [
                (today_ - timedelta(days=1), _("Yesterday")),
                (today_, _("Today")),
                (today_ + timedelta(days=1), _("Tomorrow")),
            ],
        },
    )


@leader_required
def signoff(request: HttpRequest) -> HttpResponse:
    points = _points(request)
    source = request.POST if request.method == "POST" else request.GET
    point = _chosen_point(request, points, source.get("point"))
    day = _day(source.get("day"))
    skus = selectors.arriving_skus(pickup_point=point, day=day)
    errors: list[str] = []
    if request.method == "POST":
        shortages: dict[int, int] = {}
        known = {s.sku_id for s in skus}
        for key, value in request.POST.items():
            if not key.startswith("short_"):
                continue
            try:
                sku_id, missing = int(key[6:]), int(value or 0)
            except ValueError:
                errors.append(_("A missing quantity must be a whole number, 0 or more."))
                continue
            if sku_id not in known:
                raise Http404("no such product in this delivery")
            if missing < 0 or missing > MAX_UNITS:
                errors.append(_("A missing quantity must be a whole number, 0 or more."))
                continue
            shortages[sku_id] = missing
        if not errors:
            try:
                result = sign_for_delivery(
                    pickup_point=point, delivery_date=day, actor=request.user, shortages=shortages
                )
            except PickupError as exc:
                errors.append(exc.message)
            else:
                text = _("Signed. %(n)d orders are ready for pickup.") % {"n": len(result.ready)}
                if result.shortage_refunds:
                    text += " " + _("¥%(amount)s refunded for missing goods.") % {
                        "amount": result.refunded_total
                    }
                messages.success(request, text)
                return redirect(_url("orders:leader_today", point=point.pk, day=day.isoformat()))
    return render(
        request,
        "orders/leader/signoff.html",
        {
            "points": points,
            "point": point,
            "day": day,
            "skus": skus,
            "signoff": selectors.signoff_for(pickup_point=point, day=day),
            "arrived": selectors.delivery_has_arrived(day),
            "errors": errors,
            "posted": request.POST if request.method == "POST" else {},
        },
        status=400 if errors else 200,
    )


@leader_required
def pickup(request: HttpRequest) -> HttpResponse:
    """The counter: a typed or scanned code (?code=123456), or ?phone=last 4 digits."""
    points = _points(request)
    if request.GET.get("point"):
        points = [_chosen_point(request, points, request.GET.get("point"))]
    code = request.GET.get("code", "").strip()
    last4 = request.GET.get("phone", "").strip()
    error = ""
    matches: list = []
    status = 200
    if code:
        if not CODE_RE.match(code):
            error, status = _("A pickup code has 6 digits."), 400
        else:
            matches = selectors.pickup_matches(points=points, today=local_today(), code=code)
            if not matches:
                error, status = _("No pickup code %(code)s at your point.") % {"code": code}, 404
    elif last4:
        if not LAST4_RE.match(last4):
            error, status = _("Enter the last 4 digits of the phone number."), 400
        else:
            matches = selectors.pickup_matches(points=points, today=local_today(), last4=last4)
            if not matches:
                error = _("Nobody with a phone ending in %(digits)s has goods waiting.") % {
                    "digits": last4
                }
    return render(
        request,
        "orders/leader/pickup.html",
        {"matches": matches, "code": code, "last4": last4, "error": error, "points": points},
        status=status,
    )


def _back_to_counter(request: HttpRequest, point, code: str) -> HttpResponse:
    return redirect(_url("orders:leader_pickup", point=point.pk, code=code))


@leader_required
@require_POST
def handout(request: HttpRequest) -> HttpResponse:
    point = _own_point(request, request.POST.get("point"))
    code = request.POST.get("code", "")
    if not CODE_RE.match(code):
        raise Http404("bad code")
    matches = selectors.pickup_matches(points=[point], today=local_today(), code=code)
    if not matches:
        raise Http404("no such code")
    try:
        if request.POST.get("all"):
            orders = [o for m in matches for o in m.orders]
            result = hand_out_everything(pickup_point=point, orders=orders, actor=request.user)
        else:
            allowed = {li.pk for m in matches for o in m.orders for li in o.lines.all()}
            quantities: dict[int, int] = {}
            for key, value in request.POST.items():
                if not key.startswith("line_") or not value.strip():
                    continue
                try:
                    line_id, units = int(key[5:]), int(value)
                except ValueError:
                    raise PickupError(_("The quantity must be at least 1.")) from None
                if line_id not in allowed:
                    raise Http404("no such line")
                if units:
                    quantities[line_id] = units
            result = hand_out(pickup_point=point, quantities=quantities, actor=request.user)
    except PickupError as exc:
        messages.error(request, exc.message)
    else:
        text = _("Handed out %(n)d items.") % {"n": result.units}
        if result.completed:
            text += " " + _("%(n)d orders complete.") % {"n": len(result.completed)}
        messages.success(request, text)
    return _back_to_counter(request, point, code)


@leader_required
@require_POST
def undo(request: HttpRequest) -> HttpResponse:
    point = _own_point(request, request.POST.get("point"))
    code = request.POST.get("code", "")
    if not CODE_RE.match(code):
        raise Http404("bad code")
    matches = selectors.pickup_matches(points=[point], today=local_today(), code=code)
    try:
        line_id = int(request.POST.get("line", ""))
        units = int(request.POST.get("quantity", ""))
    except ValueError:
        raise Http404("bad line") from None
    if line_id not in {li.pk for m in matches for o in m.orders for li in o.lines.all()}:
        raise Http404("no such line")
    try:
        undo_handout(pickup_point=point, order_line_id=line_id, quantity=units, actor=request.user)
    except PickupError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Undone: %(n)d items are waiting again.") % {"n": units})
    return _back_to_counter(request, point, code)


@leader_required
def uncollected(request: HttpRequest) -> HttpResponse:
    points = _points(request)
    return render(
        request,
        "orders/leader/uncollected.html",
        {"orders": selectors.uncollected_orders(points=points), "points": points},
    )


urlpatterns = [
    path("leader/", today, name="leader_today"),
    path("leader/signoff/", signoff, name="leader_signoff"),
    path("leader/pickup/", pickup, name="leader_pickup"),
    path("leader/pickup/hand-out/", handout, name="leader_handout"),
    path("leader/pickup/undo/", undo, name="leader_undo"),
    path("leader/uncollected/", uncollected, name="leader_uncollected"),
]
