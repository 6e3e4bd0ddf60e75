"""Logistics pages: driver (配送员), on a phone.

今天的配送任务 lists the signed-in driver's runs of the day (Shanghai); a run's
page shows its stops in driving order with the buttons 出发 / 到达 / 交接 /
异常上报. Only users with an active Driver profile get in (others: the sign-in
page, or 403). Runs and stops are fetched through getters that filter by the
driver, so another driver's id is a 404 on every URL. State changes are POST
only (CSRF) and go through logistics.services.runs; the page then shows what
happened in Chinese.

A stop's photo is served by stop_photo after a check: the run's driver, the
point's leader, or staff with the logistics view permission; anyone else 404.
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tuangou.private_files import serve_private_file
from tuangou.statemachine import IllegalTransition
from tuangou.timeutils import local_today

from .. import driver_selectors as selectors
from ..forms_driver import HandOverForm, StopExceptionForm
from ..models import RunStatus, RunStop, StopException, StopStatus
from ..services.runs import (
    FAILING_EXCEPTIONS,
    RunError,
    arrive_at_stop,
    depart_run,
    hand_over_stop,
    report_stop_exception,
)

SMS_LOGIN_URL_NAME = "account_request_login_code"
STOP_PHOTO_STAFF_PERMISSION = "logistics.view_runstop"


def driver_required(view):
    """Signed-in users with an active driver profile; others sign in or get a 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse(SMS_LOGIN_URL_NAME))
        driver = selectors.driver_for_user(user=request.user)
        if driver is None:
            return render(request, "logistics/driver/not_driver.html", status=403)
        request.driver = driver
        return view(request, *args, **kwargs)

    return wrapper


def _get_run_for_driver(request: HttpRequest, pk: int):
    run = selectors.run_for_driver(driver=request.driver, pk=pk)
    if run is None:
        raise Http404("no such run")
    return run


def _get_stop_for_driver(request: HttpRequest, pk: int) -> RunStop:
    stop = selectors.stop_for_driver(driver=request.driver, pk=pk)
    if stop is None:
        raise Http404("no such stop")
    return stop


def _back_to(stop: RunStop) -> HttpResponse:
    return redirect(f"{reverse('logistics:driver_run', args=[stop.run_id])}#stop-{stop.pk}")


def _refused(request: HttpRequest, exc: RunError | IllegalTransition) -> None:
    messages.error(request, exc.message)


# --- pages ----------------------------------------------------------------------------


@driver_required
@require_GET
def today(request: HttpRequest) -> HttpResponse:
    day = local_today()
    cards = selectors.runs_for_driver(driver=request.driver, day=day)
    return render(
        request,
        "logistics/driver/today.html",
        {"day": day, "cards": cards, "driver": request.driver},
    )


@driver_required
@require_GET
def run_page(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run_for_driver(request, pk)
    rows = selectors.stops_of_run(run=run)
    return render(
        request,
        "logistics/driver/run.html",
        {
            "run": run,
            "rows": rows,
            "driver": request.driver,
            "is_planned": run.status == RunStatus.PLANNED,
            "is_on_the_road": run.status == RunStatus.DEPARTED,
            "done_count": sum(1 for r in rows if not r.is_open),
            "exception_choices": StopException.choices,
        },
    )


# --- actions (POST) -------------------------------------------------------------------


@driver_required
@require_POST
def depart(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run_for_driver(request, pk)
    was_planned = run.status == RunStatus.PLANNED
    try:
        run = depart_run(run=run, driver=request.driver)
    except (RunError, IllegalTransition) as exc:
        _refused(request, exc)
    else:
        if was_planned and run.dispatched_count:
            messages.success(
                request,
                _("Departed: %(n)d orders are on the way.") % {"n": run.dispatched_count},
            )
        else:
            messages.success(request, _("Departed."))
    return redirect("logistics:driver_run", pk=run.pk)


@driver_required
@require_POST
def arrive(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _get_stop_for_driver(request, pk)
    try:
        stop = arrive_at_stop(stop=stop, driver=request.driver)
    except (RunError, IllegalTransition) as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("Arrived at %(point)s.") % {"point": stop.pickup_point.name})
    return _back_to(stop)


@driver_required
@require_POST
def hand_over(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _get_stop_for_driver(request, pk)
    form = HandOverForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back_to(stop)
    already = stop.status == StopStatus.HANDED_OVER
    try:
        stop = hand_over_stop(
            stop=stop,
            driver=request.driver,
            photo=form.cleaned_data["photo"],
            note=form.cleaned_data["note"],
        )
    except (RunError, IllegalTransition) as exc:
        _refused(request, exc)
        return _back_to(stop)
    if already:
        messages.info(request, _("Already handed over."))
    else:
        messages.success(
            request,
            _("Handed over at %(point)s: the leader has been asked to sign.")
            % {"point": stop.pickup_point.name},
        )
    _tell_if_finished(request, stop)
    return _back_to(stop)


@driver_required
@require_POST
def report_exception(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _get_stop_for_driver(request, pk)
    form = StopExceptionForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back_to(stop)
    kind = form.cleaned_data["kind"]
    try:
        stop = report_stop_exception(
            stop=stop,
            driver=request.driver,
            kind=kind,
            note=form.cleaned_data["note"],
            photo=form.cleaned_data["photo"],
        )
    except (RunError, IllegalTransition) as exc:
        _refused(request, exc)
        return _back_to(stop)
    label = StopException(kind).label
    if kind in FAILING_EXCEPTIONS:
        messages.warning(
            request,
            _("Reported: %(kind)s. The goods of this stop go back to the warehouse.")
            % {"kind": label},
        )
    else:
        messages.success(
            request, _("Reported: %(kind)s. You can still hand over.") % {"kind": label}
        )
    _tell_if_finished(request, stop)
    return _back_to(stop)


def _first_error(form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("Please check the form.")  # pragma: no cover


def _tell_if_finished(request: HttpRequest, stop: RunStop) -> None:
    stop.run.refresh_from_db(fields=["status"])
    if stop.run.status == RunStatus.FINISHED:
        messages.success(request, _("All stops are done: the run is finished."))


# --- the stop's photo -----------------------------------------------------------------


def _get_stop_photo_for_user(request: HttpRequest, pk: int) -> RunStop:
    """The stop, if the signed-in user may see its photo; else 404 (one query)."""
    user = request.user
    if not user.is_authenticated:
        raise Http404("no such photo")
    stop = (
        RunStop.objects.select_related("run__driver", "pickup_point__leader")
        .filter(pk=pk)
        .exclude(photo="")
        .first()
    )
    if stop is None:
        raise Http404("no such photo")
    driver = stop.run.driver
    leader = stop.pickup_point.leader
    allowed = (
        (driver is not None and driver.user_id == user.pk and driver.is_active)
        or (leader.user_id == user.pk and leader.is_active)
        or (user.is_staff and user.has_perm(STOP_PHOTO_STAFF_PERMISSION))
    )
    if not allowed:
        raise Http404("no such photo")
    return stop


@require_GET
def stop_photo(request: HttpRequest, pk: int) -> HttpResponse:
    stop = _get_stop_photo_for_user(request, pk)
    return serve_private_file(stop.photo, content_type="image/jpeg")
