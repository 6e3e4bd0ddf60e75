"""Delivery runs for the driver tests, made by the real cutoff wave.

`make_run` runs logistics.services.wave.run_wave for the route's warehouse
and day (idempotent: a second route of the same day reuses the wave, a rerun
rebuilds it while no run has left) and returns the route's run: the route's
van and default driver, its planned departure, one RunStop per point with
orders, with the day's order count, crates and weight.
"""

from __future__ import annotations

from datetime import date

from logistics.models import DeliveryRun, RunStop, Wave, WaveStatus
from logistics.services.wave import run_wave


def make_run(route, delivery_date: date) -> DeliveryRun:
    """The run of `route` on `delivery_date` as the cutoff wave writes it."""
    wave = Wave.objects.filter(warehouse=route.warehouse, delivery_date=delivery_date).first()
    if wave is None or wave.status != WaveStatus.DONE:
        run_wave(warehouse=route.warehouse, delivery_date=delivery_date)
    return DeliveryRun.objects.select_related("route", "driver").get(
        route=route, delivery_date=delivery_date
    )


def stops_of(run: DeliveryRun) -> list[RunStop]:
    return list(run.stops.select_related("pickup_point").order_by("position"))
