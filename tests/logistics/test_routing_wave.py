# ruff: noqa: F811 - pytest fixtures imported from the wave support module
"""From the wave to the efficiency numbers: the nightly wave plans its run with
VROOM, the driver drives it in another order, the run's actual distance and
its efficiency follow what really happened."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from logistics.models import DeliveryRun, RunStatus
from logistics.selectors import delivery_efficiency
from logistics.services.runs import arrive_at_stop, depart_run, hand_over_stop
from logistics.services.wave import run_wave
from tests.clock import TOMORROW, at

from .run_support import MEIXI_LAKE, RAILWAY_STATION, locate_warehouse
from .wave_support import day, weighed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def located(point, other_pickup_point):
    """幸福里 at the railway station, 阳光花园 at 梅溪湖, the warehouse at 望城."""
    locate_warehouse()
    for p, (lat, lon) in ((point, RAILWAY_STATION), (other_pickup_point, MEIXI_LAKE)):
        p.latitude, p.longitude = lat, lon
        p.save(update_fields=["latitude", "longitude"])
    return point, other_pickup_point


def test_the_wave_plans_its_runs_and_the_drive_is_measured(clock, day, located, route, driver):
    here, there = located

    wave = run_wave(warehouse=here.warehouse, delivery_date=TOMORROW)

    run = DeliveryRun.objects.get(wave=wave)
    assert run.optimised_by == "vroom"
    assert run.plan_note == ""
    # 望城仓 ↔ 火车站 ↔ 梅溪湖, either way round (by hand: 58.95 km).
    assert run.planned_distance_km == Decimal("58.95")
    stops = list(run.stops.order_by("position"))
    assert {s.pickup_point_id for s in stops} == {here.pk, there.pk}
    assert all(s.planned_arrival is not None and s.planned_arrival <= s.due_at for s in stops)

    # The driver goes to 梅溪湖 first, then the station, whatever the plan said.
    clock.move_to(at(6, 0, day=TOMORROW))
    depart_run(run=run, driver=driver)
    by_point = {s.pickup_point_id: s for s in stops}
    arrive_at_stop(stop=by_point[there.pk], driver=driver, now=at(6, 50, day=TOMORROW))
    hand_over_stop(stop=by_point[there.pk], driver=driver, now=at(7, 0, day=TOMORROW))
    hand_over_stop(stop=by_point[here.pk], driver=driver, now=at(10, 30, day=TOMORROW))

    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED
    # 望城仓 → 梅溪湖 → 火车站 → 望城仓: the same loop, by hand.
    assert run.actual_distance_km == Decimal("58.95")

    report = delivery_efficiency(start=TOMORROW, end=TOMORROW)
    (numbers,) = report.runs
    assert numbers.run_id == run.pk
    assert (numbers.measured, numbers.on_time, numbers.late) == (2, 1, 1)
    assert numbers.on_time_rate == Decimal("50.0")
    assert numbers.max_late == Decimal("30.0")  # due 10:00, there at 10:30
    assert numbers.stops_per_hour == Decimal("0.44")  # 2 stops in 4.5 h
    assert numbers.orders_delivered == 4
    assert numbers.cost_per_order == Decimal("45.00")  # ¥180 / 4
    assert numbers.actual_distance_km == Decimal("58.95")
    assert run.finished_at - run.departed_at == timedelta(hours=4, minutes=30)
