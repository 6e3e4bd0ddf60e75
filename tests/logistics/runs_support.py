"""Delivery runs for the driver tests, made the way the cutoff wave makes them.

Until the wave (logistics/services/wave.py) lands, `make_run` writes what it
would: one Wave for the warehouse and day, one DeliveryRun per route (the
route's van and default driver, its planned departure) and one RunStop per
point of the route in order, with the day's order count, crates and weight.
"""

from __future__ import annotations

from datetime import date, datetime, time

from logistics.models import DeliveryRun, RunStop, Wave, WaveStatus
from orders.models import Order, OrderStatus
from tuangou.timeutils import local_datetime


def make_run(route, delivery_date: date, *, driver=None) -> DeliveryRun:
    """The run of `route` on `delivery_date`, its stops in the route's order."""
    wave, _created = Wave.objects.get_or_create(
        warehouse=route.warehouse,
        delivery_date=delivery_date,
        defaults={"status": WaveStatus.DONE},
    )
    run = DeliveryRun.objects.create(
        wave=wave,
        route=route,
        delivery_date=delivery_date,
        vehicle=route.vehicle,
        driver=driver or route.default_driver,
        planned_departure=local_datetime(delivery_date, route.departure_time),
    )
    for route_stop in route.stops.select_related("pickup_point").order_by("position", "pk"):
        point = route_stop.pickup_point
        orders = Order.objects.filter(
            pickup_point=point, delivery_date=delivery_date, status=OrderStatus.CONFIRMED
        ).count()
        RunStop.objects.create(
            run=run,
            pickup_point=point,
            position=route_stop.position,
            order_count=orders,
            crates=orders,
            weight_grams=orders * 1500,
            due_at=local_datetime(delivery_date, time(10, 0)),
        )
    run.crates = sum(s.crates for s in run.stops.all())
    run.weight_grams = sum(s.weight_grams for s in run.stops.all())
    run.save(update_fields=["crates", "weight_grams"])
    return run


def stops_of(run: DeliveryRun) -> list[RunStop]:
    return list(run.stops.select_related("pickup_point").order_by("position"))


def at_delivery(hour: int, minute: int = 0, *, day: date) -> datetime:
    return local_datetime(day, time(hour, minute))
