"""Logistics pages: warehouse (仓库). The day's cutoff wave, its progress, picking and
packing ticks, and the documents to print. Thin: parse input, call a selector or a
service, render.

Who: staff who may view waves (the warehouse role has every logistics
permission; operators too). Starting a wave needs change_wave; ticking needs
change_pickitem / change_packitem. Anyone else gets 403 (anonymous: the login
page). Bad input (an unknown warehouse or wave, a malformed or far-away date)
is a 404 or a page with the reason, never a 500.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.models import StorageClass, Warehouse
from tuangou.outbox import publish_on_commit
from tuangou.timeutils import local_today

from .. import documents
from ..documents import data
from ..models import DeliveryRun, PackItem, PickItem, Route, RunStatus, Wave, WaveStatus
from ..services import floor

VIEW_PERMISSION = "logistics.view_wave"
RUN_PERMISSION = "logistics.change_wave"
PICK_PERMISSION = "logistics.change_pickitem"
PACK_PERMISSION = "logistics.change_packitem"

# The page looks this far around today (Shanghai): tomorrow's wave is the one
# that matters; a week back is for reprinting; further is a typo.
DAYS_AHEAD = 3
DAYS_BACK = 7


def warehouse_staff_required(view):
    """Staff who may view waves (or superusers); anyone else is refused."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not (request.user.is_staff and request.user.has_perm(VIEW_PERMISSION)):
            raise PermissionDenied("warehouse staff only")
        return view(request, *args, **kwargs)

    return wrapper


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(permission)


class BadDay(ValueError):
    """A delivery date the page refuses: the message says why."""


def _parse_day(raw: str | None) -> date:
    today = local_today()
    if not raw:
        return today + timedelta(days=1)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadDay(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw[:20]}) from None
    if day > today + timedelta(days=DAYS_AHEAD):
        raise BadDay(
            _("Waves can be looked at up to %(n)d days ahead; %(day)s is too far.")
            % {"n": DAYS_AHEAD, "day": day.isoformat()}
        )
    if day < today - timedelta(days=DAYS_BACK):
        raise BadDay(
            _("Waves older than %(n)d days are in the admin; %(day)s is too far back.")
            % {"n": DAYS_BACK, "day": day.isoformat()}
        )
    return day


def _int_or_404(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise Http404("not a number") from None


def _warehouse(raw: str | None) -> Warehouse:
    warehouses = Warehouse.objects.filter(is_active=True)
    pk = _int_or_404(raw)
    if pk is not None:
        return get_object_or_404(warehouses, pk=pk)
    found = warehouses.order_by("-is_default", "pk").first()
    if found is None:
        raise Http404("no warehouse")
    return found


def _wave_or_404(wave_id: int) -> Wave:
    return get_object_or_404(Wave.objects.select_related("warehouse"), pk=wave_id)


def _day_url(warehouse_id: int, day: date) -> str:
    return (
        reverse("logistics:warehouse_day")
        + "?"
        + urlencode({"warehouse": warehouse_id, "date": day.isoformat()})
    )


def describe_problem(problem) -> str:
    """A wave problem (the wave's JSON) as a sentence for staff (the wave service's words)."""
    from ..services.wave import problem_message

    if isinstance(problem, dict):
        return problem_message(problem)
    return str(problem)


# How long after a click the page keeps waiting for a worker to pick the wave up.
WAIT_FOR_WORKER = timedelta(minutes=10)


def _since(raw: str | None) -> datetime | None:
    """The moment a start was asked (?started=<epoch seconds>), if recent."""
    try:
        moment = datetime.fromtimestamp(int(raw or ""), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if not timezone.now() - WAIT_FOR_WORKER <= moment <= timezone.now():
        return None
    return moment


def _is_waiting(wave: Wave | None, since: datetime | None) -> bool:
    """A start was asked at `since` and no worker has begun it yet."""
    if since is None:
        return False
    if wave is None:
        return True
    return wave.status != WaveStatus.RUNNING and (
        wave.started_at is None or wave.started_at < since
    )


def _status_context(wave: Wave | None, *, warehouse=None, day=None, since=None) -> dict:
    waiting = _is_waiting(wave, since)
    return {
        "wave": wave,
        "is_running": wave is not None and wave.status == WaveStatus.RUNNING,
        "problems": [describe_problem(p) for p in (wave.problems if wave else [])],
        "waiting": waiting,
        "waiting_url": (
            reverse("logistics:day_status")
            + "?"
            + urlencode(
                {
                    "warehouse": warehouse.pk,
                    "date": day.isoformat(),
                    "since": int(since.timestamp()),
                }
            )
            if waiting
            else ""
        ),
    }


@warehouse_staff_required
@require_GET
def warehouse_day(request: HttpRequest) -> HttpResponse:
    """The warehouse's day: the wave of a delivery date, its progress and documents."""
    warehouse = _warehouse(request.GET.get("warehouse"))
    warehouses = list(Warehouse.objects.filter(is_active=True).order_by("-is_default", "pk"))
    context = {
        "warehouse": warehouse,
        "warehouses": warehouses,
        "today": local_today(),
        "can_run": request.user.has_perm(RUN_PERMISSION),
        "can_pick": request.user.has_perm(PICK_PERMISSION),
        "can_pack": request.user.has_perm(PACK_PERMISSION),
    }
    try:
        day = _parse_day(request.GET.get("date"))
    except BadDay as exc:
        context.update(day=local_today() + timedelta(days=1), error=str(exc), wave=None)
        return render(request, "logistics/warehouse/day.html", context, status=400)
    wave = Wave.objects.filter(warehouse=warehouse, delivery_date=day).first()
    since = _since(request.GET.get("started"))
    context.update(day=day, **_status_context(wave, warehouse=warehouse, day=day, since=since))
    if wave is not None and wave.status == WaveStatus.DONE:
        context.update(
            picking=data.picking_progress(wave=wave),
            packing=data.packing_progress(wave=wave),
            runs=list(
                DeliveryRun.objects.filter(wave=wave)
                .select_related("route", "vehicle", "driver")
                .order_by("route__code")
            ),
            storage_labels=dict(StorageClass.choices),
        )
    return render(request, "logistics/warehouse/day.html", context)


@warehouse_staff_required
@require_GET
def wave_status(request: HttpRequest, wave_id: int) -> HttpResponse:
    """The status card, polled by htmx while the wave runs; when it stops running
    the whole page reloads (the documents appear)."""
    wave = _wave_or_404(wave_id)
    response = render(request, "logistics/warehouse/_status.html", _status_context(wave))
    if request.GET.get("was") == "running" and wave.status != WaveStatus.RUNNING:
        response["HX-Refresh"] = "true"
    return response


@warehouse_staff_required
@require_GET
def day_status(request: HttpRequest) -> HttpResponse:
    """The status card while a start waits for a worker (?warehouse=&date=&since=):
    the page reloads as soon as the wave has begun."""
    warehouse = _warehouse(request.GET.get("warehouse"))
    try:
        day = _parse_day(request.GET.get("date"))
    except BadDay as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    wave = Wave.objects.filter(warehouse=warehouse, delivery_date=day).first()
    since = _since(request.GET.get("since"))
    context = _status_context(wave, warehouse=warehouse, day=day, since=since)
    response = render(request, "logistics/warehouse/_status.html", context)
    if not context["waiting"]:
        response["HX-Refresh"] = "true"
    return response


@warehouse_staff_required
@require_POST
def wave_start(request: HttpRequest) -> HttpResponse:
    """Start (or rerun) the cutoff wave of a warehouse and day, on a worker."""
    _require(request, RUN_PERMISSION)
    warehouse = _warehouse(request.POST.get("warehouse"))
    try:
        day = _parse_day(request.POST.get("date"))
    except BadDay as exc:
        messages.error(request, str(exc))
        return redirect(_day_url(warehouse.pk, local_today() + timedelta(days=1)))
    running = Wave.objects.filter(
        warehouse=warehouse, delivery_date=day, status=WaveStatus.RUNNING
    ).exists()
    if running:
        messages.warning(request, _("The wave is already running; wait for it to finish."))
        return redirect(_day_url(warehouse.pk, day))
    departed = (
        DeliveryRun.objects.filter(wave__warehouse=warehouse, wave__delivery_date=day)
        .exclude(status=RunStatus.PLANNED)
        .exists()
    )
    if departed:
        messages.error(
            request,
            _(
                "A delivery run of this day has left the warehouse: "
                "the wave can no longer be rebuilt."
            ),
        )
        return redirect(_day_url(warehouse.pk, day))
    if Wave.objects.filter(
        warehouse=warehouse, delivery_date=day, unrouted_issued_at__isnull=False
    ).exists():
        messages.error(
            request,
            _(
                "The goods of this wave's points on no route have already left: "
                "its documents can no longer be rebuilt."
            ),
        )
        return redirect(_day_url(warehouse.pk, day))
    from ..tasks import run_wave_task

    publish_on_commit(run_wave_task, warehouse.pk, day.isoformat())
    messages.success(
        request,
        _("The wave for %(day)s is starting; this page shows its progress.")
        % {"day": day.isoformat()},
    )
    started = int(timezone.now().timestamp())
    return redirect(f"{_day_url(warehouse.pk, day)}&{urlencode({'started': started})}")


# --- picking and packing on the floor ---------------------------------------------------


@warehouse_staff_required
@require_GET
def picking(request: HttpRequest, wave_id: int, storage_class: str) -> HttpResponse:
    wave = _wave_or_404(wave_id)
    if storage_class not in StorageClass.values:
        raise Http404("no such storage class")
    return render(
        request,
        "logistics/warehouse/picking.html",
        {
            "wave": wave,
            "storage_class": storage_class,
            "storage_label": StorageClass(storage_class).label,
            "rows": list(data.picking_rows(wave=wave, storage_class=storage_class)),
            "can_pick": request.user.has_perm(PICK_PERMISSION),
            "day_url": _day_url(wave.warehouse_id, wave.delivery_date),
        },
    )


def _floor_answer(request, wave: Wave, back: str, template: str, context: dict) -> HttpResponse:
    if request.htmx:
        return render(request, template, context)
    return redirect(back)


@warehouse_staff_required
@require_POST
def pick_item(request: HttpRequest, wave_id: int, item_id: int) -> HttpResponse:
    """Tick (action=pick, optional quantity) or untick (action=unpick) a picking line."""
    _require(request, PICK_PERMISSION)
    wave = _wave_or_404(wave_id)
    item = get_object_or_404(PickItem.objects.select_related("sku__product"), pk=item_id, wave=wave)
    back = reverse("logistics:picking", args=[wave.pk, item.storage_class])
    error = ""
    try:
        if request.POST.get("action") == "unpick":
            floor.unmark_picked(wave=wave, item_id=item.pk)
        else:
            raw = request.POST.get("quantity", "").strip()
            try:
                quantity = int(raw) if raw else None
            except ValueError:
                raise floor.FloorError(_("Enter a whole number.")) from None
            floor.mark_picked(wave=wave, item_id=item.pk, quantity=quantity)
    except floor.FloorError as exc:
        error = exc.message
        if not request.htmx:
            messages.error(request, error)
    row = next(
        r
        for r in data.picking_rows(wave=wave, storage_class=item.storage_class)
        if r.item_id == item.pk
    )
    response = _floor_answer(
        request,
        wave,
        back,
        "logistics/warehouse/_pick_row.html",
        {"wave": wave, "r": row, "error": error, "can_pick": True},
    )
    if error and request.htmx:
        response.status_code = 200  # the row shows the reason
    return response


@warehouse_staff_required
@require_GET
def packing(request: HttpRequest, wave_id: int) -> HttpResponse:
    """The packing lists of one route (?route=<id>, or ?route=none for unrouted points)."""
    wave = _wave_or_404(wave_id)
    raw = request.GET.get("route")
    route = None
    if raw != "none":
        route_id = _int_or_404(raw)
        if route_id is None:
            raise Http404("choose a route")
        route = get_object_or_404(Route, pk=route_id, warehouse_id=wave.warehouse_id)
    return render(
        request,
        "logistics/warehouse/packing.html",
        {
            "wave": wave,
            "route": route,
            "points": data.pack_points(wave=wave, route_id=route.pk if route else None),
            "can_pack": request.user.has_perm(PACK_PERMISSION),
            "day_url": _day_url(wave.warehouse_id, wave.delivery_date),
        },
    )


def _packing_url(wave: Wave, route_id: int | None) -> str:
    return (
        reverse("logistics:packing", args=[wave.pk])
        + "?"
        + urlencode({"route": route_id if route_id is not None else "none"})
    )


@warehouse_staff_required
@require_POST
def pack_item(request: HttpRequest, wave_id: int, item_id: int) -> HttpResponse:
    """Tick (action=pack) or untick (action=unpack) one packing line."""
    _require(request, PACK_PERMISSION)
    wave = _wave_or_404(wave_id)
    item = get_object_or_404(PackItem, pk=item_id, wave=wave)
    back = _packing_url(wave, item.route_id)
    try:
        floor.set_packed(
            wave=wave, item_id=item.pk, is_packed=request.POST.get("action") != "unpack"
        )
    except floor.FloorError as exc:
        messages.error(request, exc.message)
        if request.htmx:
            response = HttpResponse(status=409)
            response["HX-Refresh"] = "true"
            return response
    if request.htmx:
        [point] = data.packing_points(wave=wave, point_id=item.pickup_point_id)
        return render(
            request,
            "logistics/warehouse/_pack_point.html",
            {"wave": wave, "p": point, "can_pack": True},
        )
    return redirect(back)


@warehouse_staff_required
@require_POST
def pack_point(request: HttpRequest, wave_id: int, point_id: int) -> HttpResponse:
    """Tick every line of one pickup point."""
    _require(request, PACK_PERMISSION)
    wave = _wave_or_404(wave_id)
    route_id = (
        PackItem.objects.filter(wave=wave, pickup_point_id=point_id)
        .values_list("route_id", flat=True)
        .first()
    )
    try:
        floor.pack_point(wave=wave, point_id=point_id)
    except floor.FloorError as exc:
        if not PackItem.objects.filter(wave=wave, pickup_point_id=point_id).exists():
            raise Http404("no such point in this wave") from None
        messages.error(request, exc.message)
        return redirect(_packing_url(wave, route_id))
    if request.htmx:
        [point] = data.packing_points(wave=wave, point_id=point_id)
        return render(
            request,
            "logistics/warehouse/_pack_point.html",
            {"wave": wave, "p": point, "can_pack": True},
        )
    return redirect(_packing_url(wave, route_id))


# --- documents --------------------------------------------------------------------------


@warehouse_staff_required
@require_GET
def wave_document(request: HttpRequest, wave_id: int, kind: str, fmt: str) -> HttpResponse:
    """A wave document, made now from the wave tables: ?storage= (picking),
    ?route= / ?point= (packing, labels), ?run= (run sheet). Never stored."""
    wave = _wave_or_404(wave_id)
    if kind not in documents.KINDS or fmt not in documents.FORMATS:
        raise Http404("no such document")
    if wave.status != WaveStatus.DONE:
        return HttpResponseBadRequest(
            _("The wave is not finished: its documents are not ready."),
            content_type="text/plain; charset=utf-8",
        )
    try:
        document = documents.document_for(
            wave=wave,
            kind=kind,
            storage_class=request.GET.get("storage") or None,
            route_id=_int_or_404(request.GET.get("route")),
            point_id=_int_or_404(request.GET.get("point")),
            run_id=_int_or_404(request.GET.get("run")),
        )
    except documents.DocumentError as exc:
        return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
    filename = f"{document.filename}.{fmt}"
    if fmt == "csv":
        response: HttpResponse = StreamingHttpResponse(
            documents.csv_chunks(document), content_type=documents.FORMATS["csv"]
        )
    elif fmt == "xlsx":
        response = HttpResponse(
            documents.render_xlsx(document), content_type=documents.FORMATS[fmt]
        )
    else:
        if document.pdf_refusal:
            return HttpResponseBadRequest(
                document.pdf_refusal, content_type="text/plain; charset=utf-8"
            )
        response = HttpResponse(documents.render_pdf(document), content_type=documents.FORMATS[fmt])
    response["Content-Disposition"] = content_disposition_header(fmt != "pdf", filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
