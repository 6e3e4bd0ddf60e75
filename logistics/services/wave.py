"""The cutoff wave (截单波次): one warehouse's orders for one delivery date,
frozen at the evening cutoff into the night's documents.

`run_wave(warehouse=…, delivery_date=D)` writes, in set-based SQL (INSERT …
SELECT … GROUP BY; no Python loop over lines, so memory stays flat at a
million lines):

- WaveLine: every order line of the warehouse's orders for D that are
  confirmed (or already on their way: a rerun on the morning still sees what
  left), with the quantity still wanted (ordered minus refunded), and the
  route of its pickup point (NULL when the point is on no active route of the
  warehouse: its goods are still in every document, packed under "no route").
- WaveDemand: per SKU, units, weight (units × Sku.weight_grams, 0 when the SKU
  has no weight) and storage class (Product.storage_class).
- PickItem: one picking list per storage class, in walking order: bin
  location (SKUs with no bin last), then product name, spec and SKU id;
  `sequence` is 1, 2, 3… within each list.
- PackItem: units per (route, pickup point, SKU).
- PickupCode (orders): one per shopper per point for D, issued now
  (orders.services.pickup.issue_day_pickup_codes) so the labels carry it; the
  leader's sign-off later finds and reuses the same code.
- WaveLabel: one bag label per shopper per point: masked phone
  (138****8000), pickup code, lines and units.
- DeliveryRun: one per route with goods: the route's vehicle and default
  driver, planned departure D at the route's departure time (Shanghai); and
  RunStop: one per point with goods, in the route's order, with its order
  count, weight and crates, due at the warehouse's pickup time on D. The
  run's crates and weight are its stops' sums.

Crates (周转筐): goods of different storage classes never share a crate, so a
stop needs, per storage class it receives, ceil(weight of that class /
crate capacity) crates and at least 1 (a class whose SKUs have no weight
still fills a crate). The capacity is LOGISTICS_CRATE_CAPACITY_GRAMS
(default CRATE_CAPACITY_GRAMS, 15 kg: a standard 600×400 mm turnover crate
loaded to what one person lifts).

Then routing.plan_run orders each run's stops, purchasing.draft_purchase_orders
writes the day's purchase orders, and the wave is DONE. Problems that do not
stop the wave (a point with orders on no route, a route without a vehicle or
driver, a run over its vehicle's capacity, a planner failure) are listed in
Wave.problems as {"kind", "point"|"route"|"order", "name", …}; problem_message
turns one into a sentence for staff (Chinese).

Rules:
- Idempotent: one wave per (warehouse, day). A rerun deletes the wave's
  derived rows and rebuilds them in one transaction, from the same orders:
  the same documents (the pickup codes already issued are kept). A rerun is
  refused once a run has left the warehouse, or once the 06:00 dispatch took
  the goods of points on no route off the stock (WaveLocked).
- One worker at a time: a PostgreSQL advisory lock on the wave; a second
  worker gets WaveBusy at once ("该仓库当天的截单波次正在生成，请稍后再试").
- Consistent: the build runs at REPEATABLE READ, so every document comes
  from one snapshot of the orders (taken after the lock, at `closed_at`).
  A write committed after the snapshot that the build meets (a sign-off's
  pickup code) is a serialization failure: the build runs again at once on a
  fresh snapshot (BUILD_ATTEMPTS in all) before the wave would be FAILED.
- Progress: Wave.progress goes 0 → 100 in steps, written on a connection of
  its own, so a page sees it while the build's transaction is still open.
- Late orders: an order for D confirmed after the wave froze it (a payment
  or a 拼团 that completed late) is never silently lost: roll_late_orders
  moves it to the next delivery day (orders.services.reschedule), called at
  the end of run_wave and by a beat task every few minutes.
"""

from __future__ import annotations

import copy
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.cutoff import delivery_date_for
from catalog.models import StorageClass, Warehouse
from orders.models import Order, OrderStatus
from orders.services.pickup import issue_day_pickup_codes
from orders.services.reschedule import RescheduleError, postpone_late_order
from tuangou.timeutils import local_datetime, local_today, now, to_local

from ..models import (
    WAVE_TRANSITIONS,
    DeliveryRun,
    Route,
    RunStatus,
    Wave,
    WaveLine,
    WaveStatus,
    guard,
)
from . import purchasing, routing

logger = logging.getLogger("tuangou.logistics.wave")

CRATE_CAPACITY_GRAMS = 15_000
# Memory for the wave's sorts and hashes (SET LOCAL, this transaction only):
# PostgreSQL's 4 MB default spills a million-line GROUP BY to disk.
WAVE_WORK_MEM = "256MB"
# The advisory lock's first key (the second is the wave's id): "WAVE".
_LOCK_NAMESPACE = 0x57415645 & 0x7FFFFFFF

# Orders a wave takes: confirmed, or already moved on (a rerun after the
# dispatch or a sign-off must still see the goods).
FROZEN_STATUSES = [
    OrderStatus.CONFIRMED,
    OrderStatus.IN_DELIVERY,
    OrderStatus.READY_FOR_PICKUP,
    OrderStatus.COMPLETED,
]

# run_wave's own late-order check looks at orders confirmed from this long
# before the freeze (a confirmation commits a moment after its timestamp).
LATE_MARGIN = timedelta(minutes=10)

# Progress steps (percent), in build order.
STEP_STARTED = 0
STEP_LINES = 15
STEP_DEMAND = 25
STEP_PICKING = 35
STEP_PACKING = 50
STEP_CODES = 60
STEP_LABELS = 70
STEP_RUNS = 85
STEP_PLANNED = 95
STEP_DONE = 100


def crate_capacity_grams() -> int:
    """LOGISTICS_CRATE_CAPACITY_GRAMS, else CRATE_CAPACITY_GRAMS (whole grams, > 0)."""
    value = getattr(settings, "LOGISTICS_CRATE_CAPACITY_GRAMS", CRATE_CAPACITY_GRAMS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"LOGISTICS_CRATE_CAPACITY_GRAMS must be whole grams above 0, not {value!r}"
        )
    return value


# --- errors and problems ----------------------------------------------------------------


class WaveError(Exception):
    """A wave that cannot run now; the message is for staff (Chinese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class WaveBusy(WaveError):
    """Another worker is building this wave right now."""


class WaveLocked(WaveError):
    """A run of this wave has left the warehouse: its documents are final."""


class Problem:
    """Kinds of Wave.problems entries."""

    POINT_WITHOUT_ROUTE = "point_without_route"  # {"point", "name"}
    ROUTE_WITHOUT_VEHICLE = "route_without_vehicle"  # {"route", "name"}
    ROUTE_WITHOUT_DRIVER = "route_without_driver"  # {"route", "name"}
    RUN_OVER_CAPACITY = "run_over_capacity"  # {"route", "name", "weight_kg", "crates"}
    PLANNING_FAILED = "planning_failed"  # {"route", "name"}
    PURCHASING_FAILED = "purchasing_failed"  # {"name": ""}
    LATE_ORDER_STUCK = "late_order_stuck"  # {"order", "name", "reason"}


PROBLEM_TEXTS = {
    Problem.POINT_WITHOUT_ROUTE: gettext_lazy(
        "Pickup point %(name)s has orders but is on no route: its goods are packed "
        "under “no route”. Put it on a route and run the wave again."
    ),
    Problem.ROUTE_WITHOUT_VEHICLE: gettext_lazy(
        "Route %(name)s has no vehicle: assign one and run the wave again."
    ),
    Problem.ROUTE_WITHOUT_DRIVER: gettext_lazy(
        "Route %(name)s has no driver: assign one to its run before it leaves."
    ),
    Problem.RUN_OVER_CAPACITY: gettext_lazy(
        "The run of route %(name)s carries %(weight_kg)s kg in %(crates)s crates, "
        "more than its vehicle holds: split the route or use a bigger vehicle."
    ),
    Problem.PLANNING_FAILED: gettext_lazy(
        "The stops of route %(name)s could not be planned: they stay in the route's order."
    ),
    Problem.PURCHASING_FAILED: gettext_lazy(
        "The purchase orders could not be drafted: draft them again from the purchasing page."
    ),
    Problem.LATE_ORDER_STUCK: gettext_lazy(
        "Order %(name)s was confirmed after the wave but cannot move to the next day "
        "(%(reason)s): refund it or add stock."
    ),
}


def problem_message(problem: dict) -> str:
    """One Wave.problems entry as a sentence for staff, in the active language."""
    text = PROBLEM_TEXTS.get(problem.get("kind", ""))
    if text is None:
        return str(problem.get("kind", ""))
    params = {"name": "", "weight_kg": "", "crates": "", "reason": ""} | problem
    return str(text) % params


def problem_messages(wave: Wave) -> list[str]:
    """Every problem of a wave as sentences (for the warehouse page and the admin)."""
    return [problem_message(p) for p in wave.problems or []]


# --- progress -------------------------------------------------------------------------


class _Progress:
    """Writes Wave.progress (and the RUNNING status) on a connection of its own.

    The build is one long transaction; what it writes to the wave row inside
    it is invisible to the warehouse page until COMMIT. These small
    autocommitted UPDATEs are visible at once. The build's transaction never
    locks the wave row until its final UPDATE (mutual exclusion is the
    advisory lock), so these never wait on it; a lock_timeout guards anyway.
    Best effort: a failure here is logged and progress stops being shown,
    the wave goes on. Off when run_wave is called inside a caller's
    transaction (the wave row may not even be committed then).
    """

    def __init__(self, wave_id: int, *, enabled: bool):
        self.wave_id = wave_id
        self.conn = None
        if enabled:
            default = connections[DEFAULT_DB_ALIAS]
            params = copy.deepcopy(default.settings_dict)
            params.get("OPTIONS", {}).pop("pool", None)
            # Its own wrapper (not registered in `connections`), under the
            # default alias: connection_created receivers look the alias up.
            self.conn = type(default)(params, alias=DEFAULT_DB_ALIAS)

    def _write(self, sql: str, args: list) -> None:
        if self.conn is None:
            return
        try:
            with self.conn.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
                cursor.execute(sql, args)
        except DatabaseError as exc:  # pragma: no cover - a broken side connection
            logger.warning("wave %s: progress not written (%s)", self.wave_id, exc)
            self.close()

    def start(self, *, started_at: datetime, actor_id: int | None) -> None:
        self._write(
            "UPDATE logistics_wave SET status = %s, progress = %s, started_at = %s,"
            " started_by_id = %s, finished_at = NULL, error = '' WHERE id = %s",
            [WaveStatus.RUNNING, STEP_STARTED, started_at, actor_id, self.wave_id],
        )

    def __call__(self, percent: int) -> None:
        self._write(
            "UPDATE logistics_wave SET progress = %s WHERE id = %s", [percent, self.wave_id]
        )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- the build, statement by statement ----------------------------------------------------

_DELETE_DERIVED_SQL = """
WITH lines AS (DELETE FROM logistics_waveline WHERE wave_id = %(wave)s),
     demand AS (DELETE FROM logistics_wavedemand WHERE wave_id = %(wave)s),
     picks AS (DELETE FROM logistics_pickitem WHERE wave_id = %(wave)s),
     packs AS (DELETE FROM logistics_packitem WHERE wave_id = %(wave)s)
DELETE FROM logistics_wavelabel WHERE wave_id = %(wave)s
"""

_FREEZE_LINES_SQL = """
WITH frozen AS (
    INSERT INTO logistics_waveline
        (wave_id, order_line_id, order_id, user_id, pickup_point_id, route_id, sku_id, quantity)
    SELECT %(wave)s, l.id, o.id, o.user_id, o.pickup_point_id, r.id, l.sku_id,
           l.quantity - l.refunded_quantity
    FROM orders_order o
    JOIN orders_orderline l ON l.order_id = o.id
    LEFT JOIN logistics_routestop rs ON rs.pickup_point_id = o.pickup_point_id
    LEFT JOIN logistics_route r
           ON r.id = rs.route_id AND r.is_active AND r.warehouse_id = o.warehouse_id
    WHERE o.warehouse_id = %(warehouse)s
      AND o.delivery_date = %(day)s
      AND o.status = ANY(%(statuses)s)
      AND l.quantity > l.refunded_quantity
    -- In (wave, order line) order: the unique index is filled from left to right.
    ORDER BY l.id
    RETURNING order_id, quantity
)
SELECT count(DISTINCT order_id), count(*), coalesce(sum(quantity), 0) FROM frozen
"""

_DEMAND_SQL = """
INSERT INTO logistics_wavedemand (wave_id, sku_id, storage_class, quantity, weight_grams)
SELECT %(wave)s, d.sku_id, p.storage_class, d.quantity,
       d.quantity * coalesce(s.weight_grams, 0)
FROM (
    SELECT sku_id, sum(quantity)::bigint AS quantity
    FROM logistics_waveline WHERE wave_id = %(wave)s
    GROUP BY sku_id
) d
JOIN catalog_sku s ON s.id = d.sku_id
JOIN catalog_product p ON p.id = s.product_id
"""

_PICKING_SQL = """
INSERT INTO logistics_pickitem
    (wave_id, storage_class, sequence, sku_id, bin_location, quantity, picked_quantity)
SELECT %(wave)s, d.storage_class,
       row_number() OVER (
           PARTITION BY d.storage_class
           ORDER BY (s.bin_location = ''), s.bin_location COLLATE "C",
                    p.name COLLATE "C", s.spec COLLATE "C", s.id
       ),
       d.sku_id, s.bin_location, d.quantity, NULL
FROM logistics_wavedemand d
JOIN catalog_sku s ON s.id = d.sku_id
JOIN catalog_product p ON p.id = s.product_id
WHERE d.wave_id = %(wave)s
"""

_PACKING_SQL = """
INSERT INTO logistics_packitem (wave_id, route_id, pickup_point_id, sku_id, quantity, is_packed)
SELECT %(wave)s, route_id, pickup_point_id, sku_id, sum(quantity), false
FROM logistics_waveline
WHERE wave_id = %(wave)s
GROUP BY route_id, pickup_point_id, sku_id
"""

# The phone is stored in E.164 (+8613800138000): shown as 138****8000, like
# tuangou.accounts.phone.mask_phone; anything else (none, not mainland) as ''.
_LABELS_SQL = r"""
INSERT INTO logistics_wavelabel
    (wave_id, route_id, pickup_point_id, user_id, pickup_code, masked_phone,
     line_count, unit_count)
SELECT %(wave)s, g.route_id, g.pickup_point_id, g.user_id, c.code,
       CASE WHEN u.phone ~ '^\+861[3-9][0-9]{9}$'
            THEN substr(u.phone, 4, 3) || '****' || right(u.phone, 4)
            ELSE '' END,
       g.line_count, g.unit_count
FROM (
    SELECT route_id, pickup_point_id, user_id,
           count(*) AS line_count, sum(quantity) AS unit_count
    FROM logistics_waveline
    WHERE wave_id = %(wave)s
    GROUP BY route_id, pickup_point_id, user_id
) g
JOIN accounts_user u ON u.id = g.user_id
JOIN orders_pickupcode c
  ON c.user_id = g.user_id AND c.pickup_point_id = g.pickup_point_id
 AND c.delivery_date = %(day)s
"""

# Points with goods but on no route, and the ids of the routes with goods.
_POINTS_AND_ROUTES_SQL = """
SELECT k.route_id, pp.id, pp.name
FROM (
    SELECT DISTINCT route_id, CASE WHEN route_id IS NULL THEN pickup_point_id END AS point_id
    FROM logistics_packitem
    WHERE wave_id = %(wave)s
) k
LEFT JOIN leaders_pickuppoint pp ON pp.id = k.point_id
ORDER BY k.route_id, pp.id
"""


# Crates of one storage class at a stop: at least one when it has goods of
# that class, else ceil(weight / capacity). Summed over the classes (and any
# other value found in the data, counted as one more class).
def _crates_sql() -> str:
    weight = "wl.quantity::bigint * coalesce(s.weight_grams, 0)"
    classes = [f"p.storage_class = '{value}'" for value in StorageClass.values]
    classes.append(f"p.storage_class NOT IN ({', '.join(repr(v) for v in StorageClass.values)})")
    terms = [
        f"CASE WHEN bool_or({cond}) THEN greatest(1, ceil("
        f"coalesce(sum({weight}) FILTER (WHERE {cond}), 0) / %(crate)s::numeric)) ELSE 0 END"
        for cond in classes
    ]
    return " + ".join(terms)


# Stops per run in the route's order, their loads, and each run's totals. One
# aggregate over the wave's lines, MATERIALIZED: the wave's fresh rows have no
# statistics, the planner guesses a row or two, and would otherwise nest-loop
# the runs over a re-run of the aggregate (50 runs × a million lines).
_STOPS_SQL = f"""
WITH per_point AS MATERIALIZED (
    SELECT wl.route_id, wl.pickup_point_id,
           count(DISTINCT wl.order_id) AS order_count,
           sum(wl.quantity::bigint * coalesce(s.weight_grams, 0))::bigint AS weight,
           ({_crates_sql()})::int AS crates
    FROM logistics_waveline wl
    JOIN catalog_sku s ON s.id = wl.sku_id
    JOIN catalog_product p ON p.id = s.product_id
    WHERE wl.wave_id = %(wave)s AND wl.route_id IS NOT NULL
    GROUP BY wl.route_id, wl.pickup_point_id
), stops AS (
    INSERT INTO logistics_runstop
        (run_id, pickup_point_id, position, status, order_count, crates, weight_grams,
         planned_arrival, due_at, arrived_at, handed_over_at, exception, note, photo)
    SELECT r.id, pp.pickup_point_id,
           row_number() OVER (PARTITION BY r.id ORDER BY rs.position, rs.id),
           %(pending)s, pp.order_count, pp.crates, pp.weight,
           NULL, %(due)s, NULL, NULL, '', '', ''
    FROM per_point pp
    JOIN logistics_deliveryrun r ON r.wave_id = %(wave)s AND r.route_id = pp.route_id
    JOIN logistics_routestop rs ON rs.pickup_point_id = pp.pickup_point_id
    RETURNING run_id, crates, weight_grams
)
UPDATE logistics_deliveryrun r
SET crates = t.crates, weight_grams = t.weight
FROM (
    SELECT run_id, sum(crates)::int AS crates, sum(weight_grams)::bigint AS weight
    FROM stops GROUP BY run_id
) t
WHERE r.id = t.run_id
RETURNING r.id, r.crates, r.weight_grams
"""  # noqa: S608 - built from code constants only; values are bound parameters


@contextmanager
def _timed(wave_id: int, label: str):
    """Log a step's duration at DEBUG (bench_wave prints them)."""
    started = time.perf_counter()
    yield
    logger.debug("wave %s: %s %.2f s", wave_id, label, time.perf_counter() - started)


@dataclass
class _Build:
    wave: Wave
    cursor: object
    progress: _Progress
    params: dict = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)

    def execute(self, sql: str, step: int | None = None, *, label: str = ""):
        started = time.perf_counter()
        self.cursor.execute(sql, self.params)
        logger.debug(
            "wave %s: %s %.2f s",
            self.wave.pk,
            label or sql.split()[0],
            time.perf_counter() - started,
        )
        if step is not None:
            self.progress(step)
        return self.cursor


def _lock(cursor, wave: Wave, *, session: bool) -> str:
    """Take the wave's advisory lock (or raise WaveBusy) and return its status.

    Standalone, a session lock taken before the build's transaction begins,
    so the REPEATABLE READ snapshot is taken after it (a worker that waited
    for nothing but lost the race sees the winner's committed rows). Inside a
    caller's transaction, a transaction lock.
    """
    function = "pg_try_advisory_lock" if session else "pg_try_advisory_xact_lock"
    cursor.execute(f"SELECT {function}(%s, %s)", [_LOCK_NAMESPACE, wave.pk])
    if not cursor.fetchone()[0]:
        raise WaveBusy(
            _(
                "The cutoff wave of this warehouse for that day is being built: "
                "try again in a moment."
            )
        )
    return wave.status


def _session_locks_work() -> bool:
    """Whether a session advisory lock stays with this worker's connection.

    Not behind PgBouncer's transaction pooling (DATABASE_PGBOUNCER, which
    sets DISABLE_SERVER_SIDE_CURSORS): there each transaction may run on
    another server connection. The wave then takes the transaction's lock as
    its first statement; its snapshot may then be a moment older than the
    lock, so a worker that got the lock just as another committed could
    rebuild from the older state and fail on the unique lines (the wave is
    FAILED and the next beat rebuilds it): a narrow window, never wrong rows.
    """
    return not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")


def _unlock(wave: Wave) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, wave.pk])


def _check_can_start(cursor, wave: Wave) -> None:
    """The wave's current status (re-read under the lock) may move to RUNNING,
    and none of its runs has left the warehouse."""
    cursor.execute(
        "SELECT w.status, EXISTS (SELECT 1 FROM logistics_deliveryrun r"
        " WHERE r.wave_id = w.id AND r.status <> %s), w.unrouted_issued_at IS NOT NULL"
        " FROM logistics_wave w WHERE w.id = %s",
        [RunStatus.PLANNED, wave.pk],
    )
    status, departed, unrouted_left = cursor.fetchone()
    if departed:
        raise WaveLocked(
            _(
                "A delivery run of this wave has already left: "
                "its documents can no longer be rebuilt."
            )
        )
    if unrouted_left:
        # The 06:00 dispatch took the goods of points on no route off the
        # stock: a rebuild would pack (and later take) them again.
        raise WaveLocked(
            _(
                "The goods of this wave's points on no route have already left: "
                "its documents can no longer be rebuilt."
            )
        )
    # A RUNNING row under a free lock is a worker that died mid-build: take over.
    if status != WaveStatus.RUNNING:
        guard(WAVE_TRANSITIONS, status, WaveStatus.RUNNING, gettext_lazy("Cutoff wave"))


def _route_problems(routes: list[Route]) -> list[dict]:
    problems = []
    for route in routes:
        name = str(route)
        if route.vehicle is None or not route.vehicle.is_active:
            problems.append(
                {"kind": Problem.ROUTE_WITHOUT_VEHICLE, "route": route.pk, "name": name}
            )
        if route.default_driver is None or not route.default_driver.is_active:
            problems.append({"kind": Problem.ROUTE_WITHOUT_DRIVER, "route": route.pk, "name": name})
    return problems


def _capacity_problems(runs: list[DeliveryRun], totals: dict[int, tuple[int, int]]) -> list[dict]:
    problems = []
    for run in runs:
        crates, weight = totals.get(run.pk, (0, 0))
        run.crates, run.weight_grams = crates, weight
        vehicle = run.vehicle
        if vehicle is None:
            continue
        if weight > vehicle.capacity_kg * 1000 or crates > vehicle.capacity_crates:
            problems.append(
                {
                    "kind": Problem.RUN_OVER_CAPACITY,
                    "route": run.route_id,
                    "name": str(run.route),
                    "weight_kg": f"{weight / 1000:.1f}",
                    "crates": crates,
                }
            )
    return problems


def _build(b: _Build, *, warehouse: Warehouse, delivery_date: date) -> list[DeliveryRun]:
    """Every derived row of the wave, in order; returns the runs (stops written)."""
    wave = b.wave
    b.cursor.execute(f"SET LOCAL work_mem = '{WAVE_WORK_MEM}'")
    # Runs go through the ORM: others' tables may point at runs and stops, and
    # Django's collector handles them (a handful of rows).
    DeliveryRun.objects.filter(wave=wave).delete()
    b.execute(_DELETE_DERIVED_SQL, label="delete derived rows")
    wave.order_count, wave.line_count, wave.unit_count = b.execute(
        _FREEZE_LINES_SQL, STEP_LINES, label="freeze lines"
    ).fetchone()
    b.execute(_DEMAND_SQL, STEP_DEMAND, label="demand")
    b.execute(_PICKING_SQL, STEP_PICKING, label="picking lists")
    b.execute(_PACKING_SQL, STEP_PACKING, label="packing lists")
    with _timed(wave.pk, "pickup codes"):
        issue_day_pickup_codes(
            warehouse_id=warehouse.pk, delivery_date=delivery_date, statuses=FROZEN_STATUSES
        )
    b.progress(STEP_CODES)
    b.execute(_LABELS_SQL, STEP_LABELS, label="labels")

    route_ids = []
    for route_id, point_id, point_name in b.execute(
        _POINTS_AND_ROUTES_SQL, label="points and routes"
    ).fetchall():
        if route_id is not None:
            route_ids.append(route_id)
        else:
            b.problems.append(
                {"kind": Problem.POINT_WITHOUT_ROUTE, "point": point_id, "name": point_name}
            )
    routes = list(
        Route.objects.filter(pk__in=route_ids)
        .select_related("vehicle", "default_driver")
        .order_by("code", "pk")
    )
    b.problems.extend(_route_problems(routes))
    runs = DeliveryRun.objects.bulk_create(
        [
            DeliveryRun(
                wave=wave,
                route=route,
                delivery_date=delivery_date,
                vehicle=route.vehicle if route.vehicle and route.vehicle.is_active else None,
                driver=(
                    route.default_driver
                    if route.default_driver and route.default_driver.is_active
                    else None
                ),
                status=RunStatus.PLANNED,
                planned_departure=local_datetime(delivery_date, route.departure_time),
            )
            for route in routes
        ]
    )
    totals = {
        run_id: (crates, weight)
        for run_id, crates, weight in b.execute(_STOPS_SQL, STEP_RUNS, label="stops").fetchall()
    }
    b.problems.extend(_capacity_problems(runs, totals))
    return runs


def _plan(runs: list[DeliveryRun], problems: list[dict]) -> None:
    """routing.plan_run for each run; a failure keeps that run in route order."""
    for run in runs:
        try:
            with transaction.atomic():
                routing.plan_run(run=run)
        except Exception:  # the solver must never cost the night its documents
            logger.exception("wave: planning run %s failed", run.pk)
            problems.append(
                {"kind": Problem.PLANNING_FAILED, "route": run.route_id, "name": str(run.route)}
            )


def _draft_purchase_orders(wave: Wave) -> None:
    try:
        with transaction.atomic():
            purchasing.draft_purchase_orders(wave=wave)
    except Exception:  # purchasing can be drafted again on its own page
        logger.exception("wave %s: drafting purchase orders failed", wave.pk)
        wave.problems = [*wave.problems, {"kind": Problem.PURCHASING_FAILED, "name": ""}]
        Wave.objects.filter(pk=wave.pk).update(problems=wave.problems)


# A build that meets a serialization failure or a deadlock is run again at
# once, at most this many times in all (then the wave is FAILED as before).
BUILD_ATTEMPTS = 3
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def _is_conflict(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in _CONFLICT_SQLSTATES


def run_wave(*, warehouse: Warehouse, delivery_date: date, actor=None) -> Wave:
    """Build (or rebuild) the cutoff wave of `warehouse` for `delivery_date`.

    See the module docstring for what is written. Raises WaveBusy when another
    worker holds the wave, WaveLocked when a run has left; any other failure
    rolls the build back, marks the wave FAILED with the error and re-raises.
    A date with no orders gives an empty DONE wave.

    Two transactions: the build (every derived row, the runs planned) at
    REPEATABLE READ, which never writes the wave row (the progress connection
    does, and a write of ours to a row changed after our snapshot would fail
    the build); then the wave row is marked DONE with its counts and problems
    and the purchase orders are drafted. A worker that dies in between leaves
    a RUNNING wave with complete rows, which the next run rebuilds.

    Query budget: a constant number of statements on the default connection
    whatever the number of lines, orders, shoppers or points (pinned in
    tests/logistics/test_wave.py), plus a savepoint pair and
    routing.plan_run's own statements per run, and
    purchasing.draft_purchase_orders'. Progress UPDATEs go over a side
    connection (not counted).
    """
    wave, _created = Wave.objects.get_or_create(warehouse=warehouse, delivery_date=delivery_date)
    standalone = not connection.in_atomic_block
    session_lock = standalone and _session_locks_work()
    started_at = now()
    if not standalone or session_lock:
        with connection.cursor() as cursor:
            _lock(cursor, wave, session=session_lock)
    progress = None
    runs: list[DeliveryRun] = []
    try:
        progress = _Progress(wave.pk, enabled=standalone)

        def build_once() -> tuple[list[DeliveryRun], _Build, datetime]:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    if standalone:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    if standalone and not session_lock:
                        # Behind PgBouncer: the transaction's lock, first thing
                        # (see _session_locks_work).
                        _lock(cursor, wave, session=False)
                    _check_can_start(cursor, wave)
                    progress.start(started_at=started_at, actor_id=getattr(actor, "pk", None))
                    closed_at = now()
                    build = _Build(
                        wave=wave,
                        cursor=cursor,
                        progress=progress,
                        params={
                            "wave": wave.pk,
                            "warehouse": warehouse.pk,
                            "day": delivery_date,
                            "statuses": [str(s) for s in FROZEN_STATUSES],
                            "crate": crate_capacity_grams(),
                            "pending": "pending",
                            "due": local_datetime(delivery_date, warehouse.pickup_time),
                        },
                    )
                    runs = _build(build, warehouse=warehouse, delivery_date=delivery_date)
                with _timed(wave.pk, f"planning {len(runs)} runs"):
                    _plan(runs, build.problems)
                progress(STEP_PLANNED)
            return runs, build, closed_at

        attempt = 1
        while True:
            try:
                runs, build, closed_at = build_once()
                break
            except OperationalError as exc:
                # A write committed after the snapshot (a leader's sign-off
                # making a pickup code, an edit of a planned run): build again
                # at once on a fresh snapshot, which sees it. Only standalone:
                # a caller's transaction cannot be rolled back from here.
                if not (standalone and attempt < BUILD_ATTEMPTS and _is_conflict(exc)):
                    raise
                logger.warning(
                    "wave %s: the build met a concurrent write (%s); building again",
                    wave.pk,
                    str(exc).splitlines()[0],
                )
                attempt += 1
        with transaction.atomic():
            wave.status = WaveStatus.DONE
            wave.progress = STEP_DONE
            wave.started_at = started_at
            wave.started_by = actor
            wave.closed_at = closed_at
            wave.finished_at = now()
            wave.problems = build.problems
            wave.error = ""
            wave.save(
                update_fields=[
                    "status",
                    "progress",
                    "started_at",
                    "started_by",
                    "closed_at",
                    "finished_at",
                    "problems",
                    "error",
                    "order_count",
                    "line_count",
                    "unit_count",
                ]
            )
            with _timed(wave.pk, "purchase orders"):
                _draft_purchase_orders(wave)
    except WaveError:
        raise
    except Exception as exc:
        logger.exception("wave %s failed", wave.pk)
        _mark_failed(wave, exc)
        raise
    finally:
        if progress is not None:
            progress.close()
        if session_lock:
            _unlock(wave)
    logger.info(
        "wave %s (%s %s): %d orders, %d lines, %d units, %d runs, %d problems",
        wave.pk,
        warehouse.pk,
        delivery_date,
        wave.order_count,
        wave.line_count,
        wave.unit_count,
        len(runs),
        len(wave.problems),
    )
    with _timed(wave.pk, "late orders"):
        # Orders confirmed while the build ran (a margin for commits that
        # landed after their confirmed_at); the beat's sweep checks them all.
        roll_late_orders(wave=wave, confirmed_since=closed_at - LATE_MARGIN)
    return wave


def _mark_failed(wave: Wave, exc: Exception) -> None:
    """After the build rolled back: FAILED with the error, so a rerun is offered."""
    wave.status = WaveStatus.FAILED
    wave.error = f"{type(exc).__name__}: {exc}"[:300]
    wave.finished_at = now()
    Wave.objects.filter(pk=wave.pk).update(
        status=wave.status, error=wave.error, finished_at=wave.finished_at
    )


# --- late orders ------------------------------------------------------------------------


@dataclass
class LateOrders:
    moved: list[Order] = field(default_factory=list)
    stuck: list[tuple[Order, str]] = field(default_factory=list)


def late_orders(*, wave: Wave, confirmed_since: datetime | None = None):
    """Confirmed orders of the wave's warehouse and day that the wave does not
    hold: confirmed after it froze the orders (none unless the wave is DONE).

    `confirmed_since` narrows the search to orders confirmed from then on (the
    check right after a build); without it every confirmed order of the day
    is checked, which also finds one moved into the day after its wave.
    """
    if wave.status != WaveStatus.DONE:
        return Order.objects.none()
    orders = Order.objects.filter(
        warehouse_id=wave.warehouse_id,
        delivery_date=wave.delivery_date,
        status=OrderStatus.CONFIRMED,
    )
    if confirmed_since is not None:
        orders = orders.filter(confirmed_at__gte=confirmed_since)
    return (
        orders
        # Through the order's lines: WaveLine is indexed by (wave, order line).
        .filter(
            ~Exists(WaveLine.objects.filter(wave_id=wave.pk, order_line__order=OuterRef("pk")))
        ).order_by("pk")
    )


def roll_late_orders(
    *, wave: Wave, actor=None, confirmed_since: datetime | None = None
) -> LateOrders:
    """Move the wave's late orders to their next delivery day (each in its own
    transaction, through orders.services.reschedule.postpone_late_order).

    One that cannot move (no stock that day, the product off the shelf, the
    point closed all week) stays on its day and is listed in the wave's
    problems until it moves or an operator refunds it. Idempotent: a moved
    order is no longer late; a second call finds nothing. `confirmed_since`:
    see late_orders (run_wave's own check uses it; the beat's sweep does not).
    """
    result = LateOrders()
    session_lock = not connection.in_atomic_block and _session_locks_work()
    # Under the wave's lock: a rebuild running now would freeze an order this
    # sweep is moving, and deliver it twice. Busy: the next sweep.
    try:
        if session_lock:
            with connection.cursor() as cursor:
                _lock(cursor, wave, session=True)
            try:
                _roll(wave, result, actor, confirmed_since)
            finally:
                _unlock(wave)
        else:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    _lock(cursor, wave, session=False)
                _roll(wave, result, actor, confirmed_since)
    except WaveBusy:
        return LateOrders()
    return result


def _roll(wave: Wave, result: LateOrders, actor, confirmed_since) -> None:
    late = late_orders(wave=wave, confirmed_since=confirmed_since)
    for order in late.select_related("pickup_point", "warehouse"):
        try:
            moved = postpone_late_order(
                order=order,
                from_date=wave.delivery_date,
                actor=actor,
                note=f"moved to the next day: confirmed after the cutoff wave {wave.pk}",
            )
        except RescheduleError as exc:
            result.stuck.append((order, exc.message))
            continue
        if moved is not None:
            result.moved.append(moved)
    _record_stuck(wave, result.stuck)
    if result.moved or result.stuck:
        logger.info(
            "wave %s: %d late orders moved, %d stuck", wave.pk, len(result.moved), len(result.stuck)
        )


def _record_stuck(wave: Wave, stuck: list[tuple[Order, str]]) -> None:
    """Wave.problems lists exactly the late orders still stuck (written only on change)."""
    if not stuck and not any(p.get("kind") == Problem.LATE_ORDER_STUCK for p in wave.problems):
        return
    with transaction.atomic():
        current = Wave.objects.select_for_update().filter(pk=wave.pk).first()
        if current is None or current.status != WaveStatus.DONE:
            return
        kept = [p for p in current.problems if p.get("kind") != Problem.LATE_ORDER_STUCK]
        problems = kept + [
            {"kind": Problem.LATE_ORDER_STUCK, "order": o.pk, "name": o.number, "reason": reason}
            for o, reason in stuck
        ]
        if problems != current.problems:
            Wave.objects.filter(pk=wave.pk).update(problems=problems)
        wave.problems = problems


# --- what the beat starts ---------------------------------------------------------------


def waves_due(*, at: datetime | None = None) -> list[tuple[Warehouse, date]]:
    """The waves the beat should start now, (warehouse, delivery date) each,
    for the active warehouses whose wave for that day is not DONE:

    - tomorrow's, once its cutoff has passed (catalog's rule: an order
      placed now would be delivered after tomorrow);
    - today's, as a catch-up, until the warehouse's pickup time: a night
      when no worker ran at the cutoff (an outage past midnight) still gets
      its documents. Normally it was built yesterday evening and is DONE.
    """
    moment = to_local(at or now())
    today = moment.date()
    tomorrow = today + timedelta(days=1)
    done = set(
        Wave.objects.filter(
            delivery_date__in=[today, tomorrow], status=WaveStatus.DONE
        ).values_list("warehouse_id", "delivery_date")
    )
    due = []
    for warehouse in Warehouse.objects.filter(is_active=True).order_by("pk"):
        if (warehouse.pk, today) not in done and moment.time() < warehouse.pickup_time:
            due.append((warehouse, today))
        if (warehouse.pk, tomorrow) not in done and (
            delivery_date_for(warehouse=warehouse, at=moment) > tomorrow
        ):
            due.append((warehouse, tomorrow))
    return due


def waves_with_late_orders_to_check(*, today: date | None = None) -> list[Wave]:
    """DONE waves whose delivery day has not passed: where late orders may appear."""
    day = today or local_today()
    return list(
        Wave.objects.filter(status=WaveStatus.DONE, delivery_date__gte=day).order_by(
            "delivery_date", "warehouse_id"
        )
    )
