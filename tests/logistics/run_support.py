"""Delivery runs written with the ORM for the routing and efficiency tests.

Stands in for the wave (which creates a run per route with its stops in route
order) where a test needs exact runs, stops and timestamps. Real Changsha
coordinates: the 望城 warehouse north of the city and points in the centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from catalog.models import Warehouse
from leaders.models import PickupPoint
from logistics.models import DeliveryRun, Route, RunStop, Wave, WaveStatus
from tests.leaders.factories import PickupPointFactory, default_warehouse
from tuangou.timeutils import local_datetime

# (latitude, longitude), WGS-84, rounded to the 6 places the models store.
WAREHOUSE_AT = (Decimal("28.365600"), Decimal("112.820000"))  # 望城区金星北路
WUYI_SQUARE = (Decimal("28.196000"), Decimal("112.977000"))  # 五一广场
ORANGE_ISLE = (Decimal("28.182000"), Decimal("112.956000"))  # 橘子洲
RAILWAY_STATION = (Decimal("28.195000"), Decimal("113.012000"))  # 长沙火车站
YUELU_MOUNTAIN = (Decimal("28.183000"), Decimal("112.938000"))  # 岳麓山
MEIXI_LAKE = (Decimal("28.197000"), Decimal("112.885000"))  # 梅溪湖
WANGCHENG_HALL = (Decimal("28.347000"), Decimal("112.819000"))  # 望城区政府


def locate_warehouse(at: tuple[Decimal, Decimal] | None = WAREHOUSE_AT) -> Warehouse:
    warehouse = default_warehouse()
    warehouse.latitude, warehouse.longitude = at if at else (None, None)
    warehouse.save(update_fields=["latitude", "longitude"])
    return warehouse


def located_point(name: str, at: tuple[Decimal, Decimal] | None) -> PickupPoint:
    latitude, longitude = at if at else (None, None)
    return PickupPointFactory(name=name, latitude=latitude, longitude=longitude)


@dataclass
class StopSpec:
    point: PickupPoint
    due: datetime | None = None
    weight_grams: int = 20_000
    crates: int = 2
    order_count: int = 3


def make_run(
    route: Route,
    day: date,
    specs: list[StopSpec],
    *,
    departure: time = time(6, 0),
    driver=None,
) -> DeliveryRun:
    """A planned run of `route` on `day` with stops in the given (route) order."""
    wave, _created = Wave.objects.get_or_create(
        warehouse=route.warehouse, delivery_date=day, defaults={"status": WaveStatus.DONE}
    )
    run = DeliveryRun.objects.create(
        wave=wave,
        route=route,
        delivery_date=day,
        vehicle=route.vehicle,
        driver=driver if driver is not None else route.default_driver,
        planned_departure=local_datetime(day, departure),
        crates=sum(s.crates for s in specs),
        weight_grams=sum(s.weight_grams for s in specs),
    )
    RunStop.objects.bulk_create(
        [
            RunStop(
                run=run,
                pickup_point=s.point,
                position=i,
                due_at=s.due,
                weight_grams=s.weight_grams,
                crates=s.crates,
                order_count=s.order_count,
            )
            for i, s in enumerate(specs, start=1)
        ]
    )
    return run


def stop_names(run: DeliveryRun) -> list[str]:
    return list(run.stops.order_by("position").values_list("pickup_point__name", flat=True))
