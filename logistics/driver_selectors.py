"""Reads for the driver's phone pages (配送员): today's runs, a run's stops.

Every getter takes the driver and filters by it, so another driver's run or
stop is simply not found (the views answer 404).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db.models import Count, Q

from .models import DeliveryRun, Driver, RunStatus, RunStop, StopStatus

AMAP_MARKER = "https://uri.amap.com/marker"
AMAP_SEARCH = "https://uri.amap.com/search"


def driver_for_user(*, user) -> Driver | None:
    """The signed-in user's active driver profile, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Driver.objects.select_related("warehouse").filter(user_id=user.pk, is_active=True).first()
    )


def kg(grams: int) -> Decimal:
    return (Decimal(grams) / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def map_link(point) -> str:
    """A plain link that opens the point in Amap (高德), app or web; no script."""
    if point.latitude is not None and point.longitude is not None:
        query = {
            "position": f"{point.longitude},{point.latitude}",
            "name": point.name,
            "src": "tuangou",
            "coordinate": "gaode",
            "callnative": "1",
        }
        return f"{AMAP_MARKER}?{urlencode(query, safe=',')}"
    return f"{AMAP_SEARCH}?{urlencode({'keyword': point.address, 'src': 'tuangou'})}"


@dataclass
class RunCard:
    run: DeliveryRun
    stop_count: int
    done_count: int

    @property
    def weight_kg(self) -> Decimal:
        return kg(self.run.weight_grams)


def runs_for_driver(*, driver: Driver, day: date) -> list[RunCard]:
    """The driver's runs of a day, and any earlier run still on the road (to
    finish it), with how many stops are done (one query)."""
    runs = (
        DeliveryRun.objects.filter(driver=driver)
        .filter(Q(delivery_date=day) | Q(delivery_date__lt=day, status=RunStatus.DEPARTED))
        .exclude(status=RunStatus.CANCELLED)
        .select_related("route", "vehicle")
        .annotate(
            stop_count=Count("stops"),
            done_count=Count(
                "stops", filter=Q(stops__status__in=[StopStatus.HANDED_OVER, StopStatus.FAILED])
            ),
        )
        .order_by("delivery_date", "planned_departure", "pk")
    )
    return [RunCard(run=r, stop_count=r.stop_count, done_count=r.done_count) for r in runs]


def run_for_driver(*, driver: Driver, pk: int) -> DeliveryRun | None:
    return (
        DeliveryRun.objects.select_related("route__warehouse", "vehicle")
        .filter(pk=pk, driver=driver)
        .first()
    )


def stop_for_driver(*, driver: Driver, pk: int) -> RunStop | None:
    return RunStop.objects.select_related("run").filter(pk=pk, run__driver=driver).first()


@dataclass
class StopRow:
    stop: RunStop
    map_url: str
    leader_name: str
    leader_phone: str
    # Uncollected goods to take back from the point (uncollected.ReturnLine).
    returns: list = field(default_factory=list)

    @property
    def return_units(self) -> int:
        return sum(line.quantity for line in self.returns)

    @property
    def weight_kg(self) -> Decimal:
        return kg(self.stop.weight_grams)

    @property
    def is_open(self) -> bool:
        """Still to do: not handed over, not failed."""
        return self.stop.status in (StopStatus.PENDING, StopStatus.ARRIVED)


def stops_of_run(*, run: DeliveryRun) -> list[StopRow]:
    """The run's stops in driving order, with the point, its leader, a map link
    and the uncollected goods to take back there."""
    from .services.uncollected import returns_for_run

    returns = returns_for_run(run=run)
    stops = (
        RunStop.objects.filter(run=run)
        .select_related("pickup_point__leader")
        .order_by("position", "pk")
    )
    return [
        StopRow(
            stop=s,
            map_url=map_link(s.pickup_point),
            leader_name=s.pickup_point.leader.real_name,
            leader_phone=s.pickup_point.leader.phone,
            returns=returns.get(s.pickup_point_id, []),
        )
        for s in stops
    ]
