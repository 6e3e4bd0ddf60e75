"""Delivery runs on the road (配送员): depart, arrive, hand over, report a problem.

Every function here is one transaction that locks the run first and then the
stop (always in that order, so two taps on two stops of one run never
deadlock), checks the move with `guard` against RUN_TRANSITIONS /
STOP_TRANSITIONS, and writes with a compare-and-set on the current status.
They are idempotent: a second tap on 出发 or 交接 (a retried POST, a double
click) returns the run or stop as it is and writes nothing.

- depart_run: PLANNED → DEPARTED; the run's orders (confirmed, of the run's day,
  at its stops' points, from the route's warehouse) move to in_delivery through
  orders' dispatch_selected_orders, which also tells the shoppers.
- arrive_at_stop: PENDING → ARRIVED.
- hand_over_stop: ARRIVED → HANDED_OVER (a stop still PENDING records its
  arrival in the same tap: the driver is standing there). The point's leader
  gets an SMS after commit (tell_leader_of_handover_task) asking them to sign
  (签收); their sign-off (orders.services.delivery.sign_for_delivery) makes
  the orders ready for pickup. Uncollected goods returned to stock that wait
  at the point go back with the driver: the hand-over records them as
  collected by this stop (uncollected.collect_returns, once).
- report_stop_exception: the problems a driver really meets. "Point closed" and
  "leader not there" fail the stop (FAILED): the goods go back to the
  warehouse and the point's orders stay in_delivery for an operator to
  redeliver or refund. "Goods damaged" and "other" are recorded on the stop
  (kind, note, photo) and the hand-over can still happen: the leader reports
  the missing units when signing and those are refunded as a shortage.
  Every report is written to the admin's history of the run (LogEntry) and
  to the "tuangou.logistics" log, where operators see it.
- When every stop of a run is handed over or failed, the run is FINISHED.

dispatch_unrouted_orders replaces orders' 06:00 move for points that are on no
route: routed orders leave when their van departs. It also takes the goods
packed for those points off the warehouse's stock, once per wave
(issue_unrouted_stock), as a departing run does for its own.

Photos are checked with Pillow by catalog.images (at most 5 MB, JPG/PNG/WebP,
re-encoded without metadata) before anything is written, and stored in
private storage; one photo per stop (a later one replaces an earlier one).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.images import ImageRejected, process_upload
from orders.models import Order, OrderStatus
from orders.services.delivery import dispatch_selected_orders
from tuangou import timeutils
from tuangou.accounts.sms import send_sms
from tuangou.outbox import publish_on_commit
from tuangou.private_files import new_private_name, private_storage

from ..models import (
    RUN_TRANSITIONS,
    STOP_TRANSITIONS,
    DeliveryRun,
    Driver,
    RunStatus,
    RunStop,
    StopException,
    StopStatus,
    Wave,
    WaveStatus,
    guard,
)
from .purchasing import issue_packed_stock, issue_run_stock
from .uncollected import collect_returns
from .wave import _LOCK_NAMESPACE as WAVE_LOCK_NAMESPACE

logger = logging.getLogger("tuangou.logistics")

RUN = gettext_lazy("Delivery run")
STOP = gettext_lazy("Stop")

# Exceptions after which nothing is unloaded at the point: the stop fails.
FAILING_EXCEPTIONS = frozenset({StopException.POINT_CLOSED, StopException.LEADER_ABSENT})
NOTE_MAX = 200
# How long the "leader told" mark lives: a redelivered task days later stays quiet.
TOLD_MARK_SECONDS = 3 * 24 * 3600


class RunError(ValueError):
    """A driver's action that cannot happen now; `message` says why, in Chinese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- helpers --------------------------------------------------------------------------


def _lock_run(run_id: int) -> DeliveryRun:
    run = DeliveryRun.objects.select_for_update().select_related("route").filter(pk=run_id).first()
    if run is None:
        # A rerun of the wave rebuilt the day's runs while the page was open.
        raise RunError(_("This run was planned again: open today's deliveries again."))
    return run


def _lock_stop(stop_id: int) -> RunStop:
    # The run is locked first and still there, so its stop is too.
    return RunStop.objects.select_for_update().select_related("pickup_point").get(pk=stop_id)


def _check_driver(run: DeliveryRun, driver: Driver | None) -> None:
    if driver is None or run.driver_id != driver.pk:
        raise RunError(_("This delivery run is not yours."))


def _check_on_the_road(run: DeliveryRun) -> None:
    if run.status == RunStatus.PLANNED:
        raise RunError(_("Depart first, then arrive at the stops."))
    if run.status != RunStatus.DEPARTED:
        raise RunError(_("This delivery run is over: nothing more can be recorded."))


def _clean_note(note: str | None) -> str:
    return " ".join((note or "").split())[:NOTE_MAX]


def _photo_bytes(photo) -> bytes | None:
    """The checked, re-encoded photo (CPU work, done before the transaction)."""
    if not photo:
        return None
    try:
        return process_upload(photo).files["original.jpg"]
    except ImageRejected as exc:
        raise RunError(exc.message) from exc


def _save_photo(data: bytes | None, saved: list[str]) -> str | None:
    if data is None:
        return None
    name = private_storage().save(new_private_name("logistics/handover", ".jpg"), ContentFile(data))
    saved.append(name)
    return name


def _replace_old_photo_after_commit(old: str) -> None:
    if old:
        transaction.on_commit(lambda: private_storage().delete(old))


def _with_note(existing: str, note: str) -> str:
    if not note or note == existing:
        return existing
    return f"{existing}; {note}"[:NOTE_MAX] if existing else note


def _finish_if_done(run: DeliveryRun, now: datetime) -> bool:
    """The run (locked by the caller) is FINISHED once no stop is left to do."""
    left = run.stops.exclude(status__in=[StopStatus.HANDED_OVER, StopStatus.FAILED]).exists()
    if left or run.status != RunStatus.DEPARTED:
        return False
    guard(RUN_TRANSITIONS, run.status, RunStatus.FINISHED, RUN)
    if DeliveryRun.objects.filter(pk=run.pk, status=RunStatus.DEPARTED).update(
        status=RunStatus.FINISHED, finished_at=now
    ):
        run.status = RunStatus.FINISHED
        run.finished_at = now
        # The distance really driven, along the arrivals (planned vs actual).
        from .routing import actual_distance_km

        run.actual_distance_km = actual_distance_km(run=run)
        logger.info("run %s finished", run.pk)
        return True
    return False  # pragma: no cover - the run row is locked


def run_orders(*, run: DeliveryRun):
    """The orders a run carries: its day, its stops' points, its route's warehouse."""
    return Order.objects.filter(
        delivery_date=run.delivery_date,
        warehouse_id=run.route.warehouse_id,
        pickup_point_id__in=run.stops.values("pickup_point_id"),
    )


# --- depart ---------------------------------------------------------------------------


def depart_run(*, run: DeliveryRun, driver: Driver, now: datetime | None = None) -> DeliveryRun:
    """The van leaves the warehouse: PLANNED → DEPARTED, and its orders go in_delivery.

    Only on the run's day or later (Shanghai): a run departed the evening
    before would tell shoppers their goods left before they were packed.
    Departing twice changes nothing.
    """
    now = now or timeutils.now()
    with transaction.atomic():
        run = _lock_run(run.pk)
        _check_driver(run, driver)
        if run.status in (RunStatus.DEPARTED, RunStatus.FINISHED):
            run.dispatched_count = 0
            return run
        guard(RUN_TRANSITIONS, run.status, RunStatus.DEPARTED, RUN)
        if run.delivery_date > timeutils.to_local(now).date():
            raise RunError(
                _("This run is for %(day)s: depart on that day.")
                % {"day": f"{run.delivery_date:%m-%d}"}
            )
        DeliveryRun.objects.filter(pk=run.pk, status=RunStatus.PLANNED).update(
            status=RunStatus.DEPARTED, departed_at=now
        )
        run.status = RunStatus.DEPARTED
        run.departed_at = now
        # The packed goods leave the warehouse floor; the compare-and-set above
        # makes this run once per departure (issue_run_stock is not idempotent).
        issue_run_stock(run=run, now=now)
        orders = list(run_orders(run=run).filter(status=OrderStatus.CONFIRMED).order_by("pk"))
        moved = dispatch_selected_orders(orders=orders, actor=driver.user)
        logger.info("run %s departed with %d orders", run.pk, len(moved))
        # What the driver's page says ("N orders on the way"); 0 on a repeat.
        run.dispatched_count = len(moved)
    return run


# --- arrive ---------------------------------------------------------------------------


def _arrive(stop: RunStop, now: datetime) -> None:
    guard(STOP_TRANSITIONS, stop.status, StopStatus.ARRIVED, STOP)
    RunStop.objects.filter(pk=stop.pk, status=StopStatus.PENDING).update(
        status=StopStatus.ARRIVED, arrived_at=now
    )
    stop.status = StopStatus.ARRIVED
    stop.arrived_at = now


def arrive_at_stop(*, stop: RunStop, driver: Driver, now: datetime | None = None) -> RunStop:
    """The van is at the point: PENDING → ARRIVED. Arriving twice changes nothing."""
    now = now or timeutils.now()
    with transaction.atomic():
        run = _lock_run(stop.run_id)
        _check_driver(run, driver)
        stop = _lock_stop(stop.pk)
        if stop.status != StopStatus.PENDING:
            if stop.status == StopStatus.FAILED:
                raise RunError(_("This stop was reported as not delivered."))
            return stop  # arrived or handed over already
        _check_on_the_road(run)
        _arrive(stop, now)
    return stop


# --- hand over ------------------------------------------------------------------------


def hand_over_stop(
    *,
    stop: RunStop,
    driver: Driver,
    photo=None,
    note: str = "",
    now: datetime | None = None,
) -> RunStop:
    """The goods are handed to the point: ARRIVED → HANDED_OVER, the leader is told.

    A stop still PENDING records its arrival first (the driver is there). A
    bad photo refuses everything before anything is written. Handing over
    twice changes nothing (a second photo is not stored).
    """
    now = now or timeutils.now()
    note = _clean_note(note)
    data = _photo_bytes(photo)
    saved: list[str] = []
    try:
        with transaction.atomic():
            run = _lock_run(stop.run_id)
            _check_driver(run, driver)
            stop = _lock_stop(stop.pk)
            if stop.status == StopStatus.HANDED_OVER:
                return stop
            if stop.status == StopStatus.FAILED:
                raise RunError(_("This stop was reported as not delivered."))
            _check_on_the_road(run)
            if stop.status == StopStatus.PENDING:
                _arrive(stop, now)
            guard(STOP_TRANSITIONS, stop.status, StopStatus.HANDED_OVER, STOP)
            fields: dict = {
                "status": StopStatus.HANDED_OVER,
                "handed_over_at": now,
                "note": _with_note(stop.note, note),
            }
            name = _save_photo(data, saved)
            if name:
                _replace_old_photo_after_commit(stop.photo.name)
                fields["photo"] = name
            RunStop.objects.filter(pk=stop.pk, status=StopStatus.ARRIVED).update(**fields)
            for key, value in fields.items():
                setattr(stop, key, value)
            # Uncollected goods returned to stock go back with the driver (once).
            stop.collected_count = collect_returns(
                stop=stop, warehouse_id=run.route.warehouse_id, now=now
            )
            _finish_if_done(run, now)
            stop_id = stop.pk
            from ..tasks import tell_leader_of_handover_task

            publish_on_commit(tell_leader_of_handover_task, stop_id)
            logger.info("run %s stop %s handed over", run.pk, stop.pk)
    except BaseException:
        for name in saved:
            private_storage().delete(name)
        raise
    return stop


def tell_leader_of_handover(*, stop_id: int) -> bool:
    """SMS the point's leader that the goods are there and to sign (签收). Once per stop.

    True when a message went out. Called by tell_leader_of_handover_task after
    the hand-over committed; a task delivered twice finds the mark and stays quiet.
    """
    stop = (
        RunStop.objects.select_related("pickup_point__leader", "run")
        .filter(pk=stop_id, status=StopStatus.HANDED_OVER)
        .first()
    )
    if stop is None:
        return False
    mark = f"logistics:leader-told:{stop.pk}"
    if cache.get(mark):
        return False
    leader = stop.pickup_point.leader
    if leader.phone:
        send_sms(
            phone=leader.phone,
            template="delivery_arrived",
            params={
                "point": stop.pickup_point.name,
                "day": f"{stop.run.delivery_date:%m-%d}",
                "orders": str(stop.order_count),
                "crates": str(stop.crates),
            },
        )
    cache.set(mark, 1, TOLD_MARK_SECONDS)
    return bool(leader.phone)


# --- exceptions -----------------------------------------------------------------------


def report_stop_exception(
    *,
    stop: RunStop,
    driver: Driver,
    kind: str,
    note: str = "",
    photo=None,
    now: datetime | None = None,
) -> RunStop:
    """Record what went wrong at a stop (see the module's docstring for each kind).

    "Other" needs a note saying what. Reporting the same failure twice
    changes nothing; a handed-over or failed stop takes no new report.
    """
    now = now or timeutils.now()
    if kind not in StopException.values:
        raise RunError(_("Please choose what happened at the stop."))
    note = _clean_note(note)
    if kind == StopException.OTHER and not note:
        raise RunError(_("Please describe what happened."))
    data = _photo_bytes(photo)
    saved: list[str] = []
    try:
        with transaction.atomic():
            run = _lock_run(stop.run_id)
            _check_driver(run, driver)
            stop = _lock_stop(stop.pk)
            if stop.status == StopStatus.FAILED:
                if stop.exception == kind:
                    return stop
                raise RunError(_("This stop was reported as not delivered."))
            if stop.status == StopStatus.HANDED_OVER:
                raise RunError(
                    _(
                        "The goods were handed over here already: the leader reports "
                        "missing or damaged goods when signing."
                    )
                )
            if run.status == RunStatus.PLANNED:
                raise RunError(_("Depart first, then report a problem at a stop."))
            _check_on_the_road(run)
            fields: dict = {"exception": kind, "note": _with_note(stop.note, note)}
            if kind in FAILING_EXCEPTIONS:
                guard(STOP_TRANSITIONS, stop.status, StopStatus.FAILED, STOP)
                fields["status"] = StopStatus.FAILED
            name = _save_photo(data, saved)
            if name:
                _replace_old_photo_after_commit(stop.photo.name)
                fields["photo"] = name
            RunStop.objects.filter(pk=stop.pk, status=stop.status).update(**fields)
            for key, value in fields.items():
                setattr(stop, key, value)
            _record_for_operators(stop=stop, run=run, driver=driver, kind=kind, note=note)
            _finish_if_done(run, now)
    except BaseException:
        for name in saved:
            private_storage().delete(name)
        raise
    return stop


def _record_for_operators(*, stop: RunStop, run: DeliveryRun, driver: Driver, kind, note) -> None:
    """Operators see the report in the run's admin history (and its stops
    inline), and in the log."""
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    failed = stop.status == StopStatus.FAILED
    what = _("Not delivered") if failed else _("Problem reported")
    detail = f" ({note})" if note else ""
    message = (
        f"{stop.pickup_point.name} · {what}: {StopException(kind).label}{detail} [{driver.name}]"
    )
    LogEntry.objects.create(
        user_id=driver.user_id,
        content_type=ContentType.objects.get_for_model(DeliveryRun),
        object_id=str(run.pk),
        object_repr=str(run)[:200],
        action_flag=CHANGE,
        change_message=message[:1000],
    )
    logger.warning(
        "run %s stop %s (%s): %s%s by driver %s",
        run.pk,
        stop.pk,
        stop.pickup_point.name,
        kind,
        " (failed)" if failed else "",
        driver.pk,
    )


# --- the scheduled dispatch of points on no route ------------------------------------


def dispatch_unrouted_orders(*, delivery_date, actor=None, now=None) -> list[Order]:
    """The day's confirmed orders at points on no route leave (in_delivery), and
    the goods packed for those points leave the warehouse's stock.

    Points on a route wait for their van: depart_run moves those and takes
    their packed goods off InventoryItem.on_hand. Here, in one transaction:
    each DONE wave of the day whose unrouted goods have not left yet takes
    its PackItems of route NULL off the stock (issue_unrouted_stock: once
    per wave), then the orders move. Idempotent: a rerun finds every wave
    issued and only confirmed orders move, each with a compare-and-set. A
    wave not DONE at 06:00 issues nothing; a later call (the task again)
    issues it once it is.
    """
    now = now or timeutils.now()
    with transaction.atomic():
        waves = list(
            Wave.objects.filter(
                delivery_date=delivery_date,
                status=WaveStatus.DONE,
                unrouted_issued_at__isnull=True,
            ).order_by("pk")
        )
        for wave in waves:
            issue_unrouted_stock(wave=wave, now=now)
        orders = list(
            Order.objects.filter(
                delivery_date=delivery_date,
                status=OrderStatus.CONFIRMED,
                pickup_point__route_stop__isnull=True,
            ).order_by("pk")
        )
        moved = dispatch_selected_orders(orders=orders, actor=actor)
    logger.info("dispatched %d orders on no route for %s", len(moved), delivery_date)
    return moved


def issue_unrouted_stock(*, wave: Wave, now: datetime | None = None) -> int | None:
    """The goods a wave packed for points on no route (PackItem route NULL)
    leave InventoryItem.on_hand, exactly once per wave.

    The record is Wave.unrouted_issued_at, set by a compare-and-set in the
    same transaction as the stock UPDATE (the same statement a departing run
    uses, purchasing.issue_packed_stock). It waits for a rebuild of the wave
    to finish (the wave's advisory lock in shared mode, as the floor ticks),
    and a wave so marked is never rebuilt (WaveLocked). Returns the units
    taken, or None when the wave's unrouted goods had already left (or the
    wave is not DONE).
    """
    now = now or timeutils.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, %s)", [WAVE_LOCK_NAMESPACE, wave.pk]
            )
        marked = Wave.objects.filter(
            pk=wave.pk, status=WaveStatus.DONE, unrouted_issued_at__isnull=True
        ).update(unrouted_issued_at=now)
        if not marked:
            return None
        units = issue_packed_stock(
            wave_id=wave.pk, route_id=None, warehouse_id=wave.warehouse_id, now=now
        )
    logger.info("wave %s: %d units for points on no route off the stock", wave.pk, units)
    return units


__all__ = [
    "FAILING_EXCEPTIONS",
    "RunError",
    "arrive_at_stop",
    "depart_run",
    "dispatch_unrouted_orders",
    "hand_over_stop",
    "issue_unrouted_stock",
    "report_stop_exception",
    "run_orders",
    "tell_leader_of_handover",
]
