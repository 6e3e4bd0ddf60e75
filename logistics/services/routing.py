"""Route optimisation: the order of a run's stops, by the VROOM solver (pyvroom).

The wave writes each run's stops in the route's order and then calls
`plan_run(run=run)`. The problem handed to VROOM is one vehicle:

- capacity in two dimensions, grams and crates (the run's vehicle, else the
  route's); each stop delivers its weight and crates;
- it starts and ends at the warehouse's coordinates, its time window opens at
  the run's planned departure;
- each stop may be served from the departure until its `due_at` (the point's
  pickup time that day): a hard time window;
- a service time per stop (LOGISTICS_STOP_SERVICE_MINUTES, default 8);
- driving times from the distance provider (logistics/distances.py: haversine
  at an average city speed unless a road-distance provider is configured).

What is written: RunStop.position (the solver's order, from 1),
RunStop.planned_arrival, DeliveryRun.planned_distance_km (warehouse → stops →
back to the warehouse, from the provider's distances) and
DeliveryRun.optimised_by = "vroom".

Points without coordinates cannot be placed by a solver: they keep the
route's order *after* the solved ones, with no planned arrival, and the run's
plan_note says so. When there is nothing the solver can do (the warehouse has
no coordinates) or no feasible plan (the load is over the vehicle's capacity,
a pickup time cannot be met, the solver failed), the run keeps the route's
order, the arrivals and distance are worked out along that order, optimised_by
stays "" and plan_note says why. plan_run never raises for any of these: a
bad plan must not stop the nightly wave.

Actual distance: `actual_distance_km(run=run)` follows the stops in the order
the driver really arrived at them (RunStop.arrived_at), haversine, from the
warehouse and back, and stores DeliveryRun.actual_distance_km; the driver
service calls it when a run finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils.translation import gettext as _

from ..distances import KM, Coordinates, Matrix, get_distance_provider, path_km
from ..models import DeliveryRun, RunStop

logger = logging.getLogger("tuangou.logistics.routing")

SOLVER = "vroom"
DEFAULT_SERVICE_MINUTES = 8
DEFAULT_SOLVER_SECONDS = 2
# How hard VROOM searches, by the number of stops: a van's usual 10-30 stops
# get the deepest search in well under a second (0.04 s for 20 here); a long
# run gets a lighter one, and the timeout bounds every run whatever its size.
EXPLORATION_LEVELS = ((20, 5), (40, 3))
# The vehicle's own time window: a run is planned within a day of its departure.
HORIZON = timedelta(hours=24)


def service_seconds() -> int:
    """LOGISTICS_STOP_SERVICE_MINUTES: minutes spent unloading at a stop (0..120)."""
    value = getattr(settings, "LOGISTICS_STOP_SERVICE_MINUTES", DEFAULT_SERVICE_MINUTES)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 120:
        raise ImproperlyConfigured(
            f"LOGISTICS_STOP_SERVICE_MINUTES must be whole minutes 0..120, not {value!r}"
        )
    return value * 60


def solver_timeout() -> timedelta:
    value = getattr(settings, "LOGISTICS_SOLVER_SECONDS", DEFAULT_SOLVER_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ImproperlyConfigured(f"LOGISTICS_SOLVER_SECONDS must be above 0, not {value!r}")
    return timedelta(seconds=value)


def exploration_level(stops: int) -> int:
    """VROOM's exploration level (1..5) for a run of this many located stops."""
    for most, level in EXPLORATION_LEVELS:
        if stops <= most:
            return level
    return 1


@dataclass
class Plan:
    """A run's stops in driving order, with what to write on them."""

    order: list[RunStop]
    arrivals: dict[int, datetime | None] = field(default_factory=dict)
    distance_km: Decimal | None = None
    optimised_by: str = ""
    note: str = ""


class NoPlan(Exception):
    """The solver cannot order this run; the message says why (for the run's plan_note)."""


# --- planning ---------------------------------------------------------------------------


def plan_run(*, run: DeliveryRun) -> None:
    """Order the run's stops with VROOM and write the plan (see the module docstring).

    Two queries to read (the run, its stops with their points) and two to
    write; calling it again gives the same plan (it starts from the route's
    order each time, and the solver is deterministic on one thread).
    """
    run = DeliveryRun.objects.select_related("route__warehouse", "route__vehicle", "vehicle").get(
        pk=run.pk
    )
    # The route's own order (the wave wrote the stops in it; a second call must
    # not start from the first call's answer, or a symmetric loop may flip).
    stops = list(
        run.stops.select_related("pickup_point").order_by(
            "pickup_point__route_stop__position", "position", "pk"
        )
    )
    plan = make_plan(run=run, stops=stops)
    with transaction.atomic():
        for position, stop in enumerate(plan.order, start=1):
            stop.position = position
            stop.planned_arrival = plan.arrivals.get(stop.pk)
        RunStop.objects.bulk_update(plan.order, ["position", "planned_arrival"])
        DeliveryRun.objects.filter(pk=run.pk).update(
            planned_distance_km=plan.distance_km,
            optimised_by=plan.optimised_by,
            plan_note=plan.note[:300],
        )
    run.planned_distance_km = plan.distance_km
    run.optimised_by = plan.optimised_by
    run.plan_note = plan.note[:300]
    if plan.note:
        logger.info("run %s kept partly or wholly in route order: %s", run.pk, plan.note)


def make_plan(*, run: DeliveryRun, stops: list[RunStop]) -> Plan:
    """The plan of a run whose stops are given in route order. No writes."""
    warehouse = Coordinates.of(run.route.warehouse)
    located = [s for s in stops if Coordinates.of(s.pickup_point) is not None]
    unlocated = [s for s in stops if Coordinates.of(s.pickup_point) is None]
    if warehouse is None:
        return Plan(order=list(stops), note=_("The warehouse has no coordinates."))
    if not located:
        return Plan(order=list(stops), note=_("No stop has coordinates.") if stops else "")
    unlocated_note = ""
    if unlocated:
        unlocated_note = _("No coordinates, kept in route order at the end: %(points)s.") % {
            "points": "、".join(s.pickup_point.name for s in unlocated)
        }
    points = [warehouse] + [Coordinates.of(s.pickup_point) for s in located]
    try:
        matrix = get_distance_provider().matrix(points)
    except ImproperlyConfigured:
        raise
    except Exception as exc:  # a road provider's network error must not stop the wave
        logger.exception("distance matrix failed for run %s", run.pk)
        return Plan(order=list(stops), note=_("No distances: %(error)s") % {"error": exc})
    try:
        indices = _solve(run=run, stops=located, matrix=matrix)
        optimised_by, note = SOLVER, unlocated_note
    except NoPlan as exc:
        indices = list(range(len(located)))
        optimised_by, note = "", str(exc)
        if unlocated_note:
            note = f"{note} {unlocated_note}"
    ordered = [located[i] for i in indices]
    arrivals, metres = _timeline(run=run, indices=indices, located=located, matrix=matrix)
    distance = (Decimal(metres) / 1000).quantize(KM, rounding=ROUND_HALF_UP)
    return Plan(
        order=ordered + unlocated,
        arrivals=arrivals,
        distance_km=distance,
        optimised_by=optimised_by,
        note=note,
    )


def _vehicle_capacity(run: DeliveryRun) -> list[int] | None:
    vehicle = run.vehicle or run.route.vehicle
    if vehicle is None:
        return None
    return [vehicle.capacity_kg * 1000, vehicle.capacity_crates]


def _solve(*, run: DeliveryRun, stops: list[RunStop], matrix: Matrix) -> list[int]:
    """Indices into `stops` in the solver's order, or NoPlan with the reason."""
    import vroom

    capacity = _vehicle_capacity(run)
    if capacity is not None:
        grams = sum(s.weight_grams for s in stops)
        crates = sum(s.crates for s in stops)
        if grams > capacity[0] or crates > capacity[1]:
            raise NoPlan(
                _(
                    "No feasible plan: the load (%(kg)s kg, %(crates)d crates) is over the "
                    "vehicle's capacity (%(cap_kg)d kg, %(cap_crates)d crates)."
                )
                % {
                    "kg": (Decimal(grams) / 1000).quantize(KM),
                    "crates": crates,
                    "cap_kg": capacity[0] // 1000,
                    "cap_crates": capacity[1],
                }
            )
    departure = int(run.planned_departure.timestamp())
    late = [
        s.pickup_point.name
        for s in stops
        if s.due_at is not None and int(s.due_at.timestamp()) <= departure
    ]
    if late:
        raise NoPlan(
            _("No feasible plan: pickup time before the departure at %(points)s.")
            % {"points": "、".join(late)}
        )
    service = service_seconds()
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=matrix.durations)
    problem.add_vehicle(
        vroom.Vehicle(
            1,
            start=0,
            end=0,
            capacity=capacity or [],
            time_window=vroom.TimeWindow(departure, departure + int(HORIZON.total_seconds())),
        )
    )
    jobs = []
    for index, stop in enumerate(stops):
        windows = []
        if stop.due_at is not None:
            windows = [vroom.TimeWindow(departure, int(stop.due_at.timestamp()))]
        jobs.append(
            vroom.Job(
                index + 1,
                location=index + 1,
                default_service=service,
                delivery=[stop.weight_grams, stop.crates] if capacity else [],
                time_windows=windows,
            )
        )
    problem.add_job(jobs)
    try:
        solution = problem.solve(
            exploration_level=exploration_level(len(stops)), nb_threads=1, timeout=solver_timeout()
        )
    except Exception as exc:  # the engine's own errors: keep the route's order
        logger.exception("VROOM failed for run %s", run.pk)
        raise NoPlan(_("The solver failed: %(error)s") % {"error": exc}) from exc
    result = solution.to_dict()
    unassigned = [job["id"] - 1 for job in result.get("unassigned", [])]
    if unassigned:
        raise NoPlan(
            _(
                "No feasible plan: these points cannot all be reached by their pickup time: "
                "%(points)s."
            )
            % {"points": "、".join(stops[i].pickup_point.name for i in sorted(unassigned))}
        )
    steps = [step for route in result["routes"] for step in route["steps"]]
    order = [step["id"] - 1 for step in steps if step["type"] == "job"]
    if sorted(order) != list(range(len(stops))):  # never trust a partial answer
        raise NoPlan(_("The solver's answer did not cover every stop."))
    return order


def _timeline(
    *, run: DeliveryRun, indices: list[int], located: list[RunStop], matrix: Matrix
) -> tuple[dict[int, datetime | None], float]:
    """Planned arrival per stop and metres driven (back to the warehouse included)
    along `indices`, from the provider's matrix: the same arithmetic the solver
    uses (travel, then the service time at each stop; no waiting, as every
    window opens at the departure)."""
    service = service_seconds()
    at = run.planned_departure.astimezone(UTC)
    here, metres = 0, 0.0
    arrivals: dict[int, datetime | None] = {}
    for index in indices:
        there = index + 1
        at += timedelta(seconds=matrix.durations[here][there])
        metres += matrix.distances[here][there]
        arrivals[located[index].pk] = at
        at += timedelta(seconds=service)
        here = there
    metres += matrix.distances[here][0]
    return arrivals, metres


# --- what really happened ---------------------------------------------------------------


def actual_distance_km(*, run: DeliveryRun) -> Decimal | None:
    """Measure and store the distance the run really drove: from the warehouse,
    through the stops in the order they were arrived at (RunStop.arrived_at),
    back to the warehouse, haversine (so it compares with the planned distance
    of the default provider). Stops without coordinates are left out. None
    (and stored as None) when no stop was arrived at. Three queries."""
    run = DeliveryRun.objects.select_related("route__warehouse").get(pk=run.pk)
    arrived = (
        RunStop.objects.filter(run=run, arrived_at__isnull=False)
        .select_related("pickup_point")
        .order_by("arrived_at", "position")
    )
    points = [c for c in (Coordinates.of(s.pickup_point) for s in arrived) if c is not None]
    distance = None
    if points:
        warehouse = Coordinates.of(run.route.warehouse)
        if warehouse is not None:
            points = [warehouse, *points, warehouse]
        distance = path_km(points)
    DeliveryRun.objects.filter(pk=run.pk).update(actual_distance_km=distance)
    return distance
