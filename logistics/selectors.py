"""Reads of the logistics app for pages and reports.

Delivery efficiency (物流数据): per run, that is per route, driver and day, and
rolled up per day, per route, per driver and overall, over a range of
delivery dates. Two queries whatever the range (pinned in
tests/logistics/test_efficiency.py): one aggregates the runs' stops in SQL
(GROUP BY run), one sums the shortages of each run's points and day. The
roll-ups add those per-run sums in Python (at most routes × days rows).

The numbers, and what they are measured on:

- on-time rate: stops arrived at (arrived_at) no later than the point's
  pickup time (due_at), out of the stops arrived at that have a pickup time;
- minutes late: over the late stops only, the average and the maximum;
- stops per hour: handed-over stops of finished runs / hours from departure
  (departed_at) to the end of the run (finished_at);
- shortages: units the leader signed for as missing (orders' ShortageLine at
  the sign-off of the run's points that day) and units cut from that day's
  orders at those points after a short delivery to the warehouse
  (ShortageCut's refunds);
- damage reports: stops whose exception is "goods damaged";
- cost per order: the route's cost per run / orders at the handed-over stops,
  over the runs whose route has a cost and delivered at least one order.

Cancelled runs are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from orders.models import RefundLine, ShortageLine
from tuangou.money import ZERO, to_money

from .models import DeliveryRun, RunStatus, ShortageCut, StopException, StopStatus

ONE_PLACE = Decimal("0.1")
TWO_PLACES = Decimal("0.01")


def _ratio(numerator, denominator, *, scale=1, places=ONE_PLACE) -> Decimal | None:
    if not denominator:
        return None
    value = Decimal(numerator) * scale / Decimal(denominator)
    return value.quantize(places, rounding=ROUND_HALF_UP)


def _minutes(value: timedelta | None) -> Decimal:
    if value is None:
        return Decimal(0)
    return Decimal(value.total_seconds()) / 60


@dataclass
class Efficiency:
    """Sums for one run or a group of runs; the rates are derived from them."""

    runs: int = 0
    stops: int = 0
    arrived: int = 0
    measured: int = 0  # arrived and with a pickup time
    on_time: int = 0
    late: int = 0
    late_minutes: Decimal = Decimal(0)  # total over the late stops
    max_late_minutes: Decimal = Decimal(0)
    handed_over: int = 0
    timed_handed_over: int = 0  # handed-over stops of finished runs
    driving: timedelta = timedelta(0)  # departure → finish of finished runs
    shortage_units: int = 0  # signed for as missing
    cut_units: int = 0  # cut at the warehouse after a short delivery
    damaged: int = 0
    orders_delivered: int = 0
    cost: Decimal = ZERO  # runs with a route cost that delivered something
    costed_orders: int = 0
    planned_km: Decimal = ZERO
    actual_km: Decimal = ZERO

    def add(self, other: Efficiency) -> None:
        for name in self.__dataclass_fields__:
            if name == "max_late_minutes":
                self.max_late_minutes = max(self.max_late_minutes, other.max_late_minutes)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def on_time_rate(self) -> Decimal | None:
        """Percent, one place; None when no arrival could be measured."""
        return _ratio(self.on_time, self.measured, scale=100)

    @property
    def average_late_minutes(self) -> Decimal | None:
        return _ratio(self.late_minutes, self.late)

    @property
    def max_late(self) -> Decimal | None:
        if not self.late:
            return None
        return self.max_late_minutes.quantize(ONE_PLACE, rounding=ROUND_HALF_UP)

    @property
    def stops_per_hour(self) -> Decimal | None:
        hours = Decimal(self.driving.total_seconds()) / 3600
        return _ratio(self.timed_handed_over, hours, places=TWO_PLACES)

    @property
    def cost_per_order(self) -> Decimal | None:
        if not self.costed_orders:
            return None
        return to_money(self.cost / self.costed_orders)


@dataclass
class RunEfficiency(Efficiency):
    """One run: a route on a day, with its driver and planned versus actual."""

    run_id: int = 0
    day: date | None = None
    route_id: int = 0
    route_code: str = ""
    route_name: str = ""
    driver_id: int | None = None
    driver_name: str = ""
    status: str = ""
    planned_departure: datetime | None = None
    departed_at: datetime | None = None
    finished_at: datetime | None = None
    planned_distance_km: Decimal | None = None
    actual_distance_km: Decimal | None = None
    optimised_by: str = ""

    def add(self, other: Efficiency) -> None:  # pragma: no cover - runs are not summed into
        raise TypeError("a run's numbers are not added to")

    def totals(self) -> Efficiency:
        return Efficiency(**{name: getattr(self, name) for name in Efficiency.__dataclass_fields__})


@dataclass
class Group:
    key: Hashable
    label: str
    numbers: Efficiency = field(default_factory=Efficiency)


@dataclass
class EfficiencyReport:
    start: date
    end: date
    runs: list[RunEfficiency]
    by_day: list[Group]
    by_route: list[Group]
    by_driver: list[Group]
    total: Efficiency

    def chart(self) -> dict:
        """On-time rate per day per route, for the page's ECharts line chart."""
        days = [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]
        index = {day: i for i, day in enumerate(days)}
        series: dict[int, dict] = {}
        for run in self.runs:
            line = series.setdefault(
                run.route_id,
                {"name": f"{run.route_code} {run.route_name}", "data": [None] * len(days)},
            )
            rate = run.on_time_rate
            line["data"][index[run.day]] = float(rate) if rate is not None else None
        return {
            "days": [d.isoformat() for d in days],
            "labels": [f"{d:%m-%d}" for d in days],
            "series": [series[k] for k in sorted(series, key=lambda k: series[k]["name"])],
        }


def _late() -> ExpressionWrapper:
    return ExpressionWrapper(
        F("stops__arrived_at") - F("stops__due_at"), output_field=DurationField()
    )


def _runs_in(start: date, end: date, warehouse=None):
    runs = DeliveryRun.objects.filter(delivery_date__range=(start, end)).exclude(
        status=RunStatus.CANCELLED
    )
    if warehouse is not None:
        runs = runs.filter(route__warehouse=warehouse)
    return runs


def _shortages_by_run(runs) -> dict[int, tuple[int, int]]:
    """{run id: (units signed for as missing, units cut at the warehouse)}: one query."""
    signed = (
        ShortageLine.objects.filter(
            signoff__delivery_date=OuterRef("delivery_date"),
            signoff__pickup_point__run_stops__run=OuterRef("pk"),
        )
        .order_by()
        .values("signoff__delivery_date")
        .annotate(units=Sum("quantity"))
        .values("units")
    )
    cut = (
        RefundLine.objects.filter(
            refund__in=ShortageCut.refunds.through.objects.values("refund_id"),
            refund__order__delivery_date=OuterRef("delivery_date"),
            refund__order__pickup_point__run_stops__run=OuterRef("pk"),
        )
        .order_by()
        .values("refund__order__delivery_date")
        .annotate(units=Sum("quantity"))
        .values("units")
    )
    rows = (
        runs.order_by()
        .annotate(
            signed=Coalesce(Subquery(signed), 0, output_field=IntegerField()),
            cut=Coalesce(Subquery(cut), 0, output_field=IntegerField()),
        )
        .filter(Q(signed__gt=0) | Q(cut__gt=0))
        .values_list("pk", "signed", "cut")
    )
    return {pk: (signed_units, cut_units) for pk, signed_units, cut_units in rows}


def delivery_efficiency(*, start: date, end: date, warehouse=None) -> EfficiencyReport:
    """The efficiency numbers of the runs delivered from `start` to `end` (inclusive)."""
    runs = _runs_in(start, end, warehouse)
    arrived = Q(stops__arrived_at__isnull=False)
    measured = arrived & Q(stops__due_at__isnull=False)
    late = measured & Q(stops__arrived_at__gt=F("stops__due_at"))
    handed = Q(stops__status=StopStatus.HANDED_OVER)
    rows = (
        runs.order_by("delivery_date", "route__code", "pk")
        .values(
            "pk",
            "delivery_date",
            "status",
            "route_id",
            "route__code",
            "route__name",
            "route__cost_per_run",
            "driver_id",
            "driver__name",
            "planned_departure",
            "departed_at",
            "finished_at",
            "planned_distance_km",
            "actual_distance_km",
            "optimised_by",
        )
        .annotate(
            n_stops=Count("stops"),
            n_arrived=Count("stops", filter=arrived),
            n_measured=Count("stops", filter=measured),
            n_on_time=Count(
                "stops", filter=measured & Q(stops__arrived_at__lte=F("stops__due_at"))
            ),
            n_late=Count("stops", filter=late),
            late_total=Sum(_late(), filter=late),
            late_max=Max(_late(), filter=late),
            n_handed=Count("stops", filter=handed),
            n_damaged=Count("stops", filter=Q(stops__exception=StopException.DAMAGED)),
            n_orders=Coalesce(
                Sum("stops__order_count", filter=handed), 0, output_field=IntegerField()
            ),
        )
    )
    shortages = _shortages_by_run(runs)
    report_runs: list[RunEfficiency] = []
    for row in rows:
        finished = row["finished_at"] is not None and row["departed_at"] is not None
        cost = row["route__cost_per_run"]
        costed = cost is not None and row["n_orders"] > 0
        signed_units, cut_units = shortages.get(row["pk"], (0, 0))
        report_runs.append(
            RunEfficiency(
                runs=1,
                stops=row["n_stops"],
                arrived=row["n_arrived"],
                measured=row["n_measured"],
                on_time=row["n_on_time"],
                late=row["n_late"],
                late_minutes=_minutes(row["late_total"]),
                max_late_minutes=_minutes(row["late_max"]),
                handed_over=row["n_handed"],
                timed_handed_over=row["n_handed"] if finished else 0,
                driving=(row["finished_at"] - row["departed_at"]) if finished else timedelta(0),
                shortage_units=signed_units,
                cut_units=cut_units,
                damaged=row["n_damaged"],
                orders_delivered=row["n_orders"],
                cost=cost if costed else ZERO,
                costed_orders=row["n_orders"] if costed else 0,
                planned_km=row["planned_distance_km"] or ZERO,
                actual_km=row["actual_distance_km"] or ZERO,
                run_id=row["pk"],
                day=row["delivery_date"],
                route_id=row["route_id"],
                route_code=row["route__code"],
                route_name=row["route__name"],
                driver_id=row["driver_id"],
                driver_name=row["driver__name"] or "",
                status=row["status"],
                planned_departure=row["planned_departure"],
                departed_at=row["departed_at"],
                finished_at=row["finished_at"],
                planned_distance_km=row["planned_distance_km"],
                actual_distance_km=row["actual_distance_km"],
                optimised_by=row["optimised_by"],
            )
        )
    total = Efficiency()
    for run in report_runs:
        total.add(run.totals())
    return EfficiencyReport(
        start=start,
        end=end,
        runs=report_runs,
        by_day=_group(report_runs, lambda r: r.day, lambda r: f"{r.day:%Y-%m-%d}"),
        by_route=_group(
            report_runs, lambda r: r.route_id, lambda r: f"{r.route_code} {r.route_name}"
        ),
        by_driver=_group(report_runs, lambda r: r.driver_id, lambda r: r.driver_name or "—"),
        total=total,
    )


def _group(
    runs: list[RunEfficiency],
    key: Callable[[RunEfficiency], Hashable],
    label: Callable[[RunEfficiency], str],
) -> list[Group]:
    groups: dict[Hashable, Group] = {}
    for run in runs:
        group = groups.setdefault(key(run), Group(key=key(run), label=label(run)))
        group.numbers.add(run.totals())
    return sorted(groups.values(), key=lambda g: g.label)
