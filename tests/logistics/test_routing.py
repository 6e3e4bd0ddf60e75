"""Route optimisation: plan_run orders a run's stops with VROOM under the van's
capacity and the points' pickup times; actual distance follows the real arrivals.

Distances are checked against values worked out by hand (spherical law of
cosines on the same Earth radius, 6,371,008.8 m), never by calling the code
under test.
"""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from logistics.distances import Coordinates, HaversineProvider, Matrix, haversine_m, path_km
from logistics.models import DeliveryRun, RunStop
from logistics.services.routing import actual_distance_km, exploration_level, plan_run
from tests.clock import TOMORROW, at

from .conftest import RouteFactory, VehicleFactory, put_on_route
from .run_support import (
    MEIXI_LAKE,
    ORANGE_ISLE,
    RAILWAY_STATION,
    WUYI_SQUARE,
    YUELU_MOUNTAIN,
    StopSpec,
    locate_warehouse,
    located_point,
    make_run,
    stop_names,
)

pytestmark = pytest.mark.django_db


def nine(day=TOMORROW):
    return at(9, 0, day=day)


@pytest.fixture
def city(clock):
    """The 望城 warehouse and five points in the centre of 长沙, all located."""
    locate_warehouse()
    return {
        "梅溪湖": located_point("梅溪湖", MEIXI_LAKE),
        "岳麓山": located_point("岳麓山", YUELU_MOUNTAIN),
        "橘子洲": located_point("橘子洲", ORANGE_ISLE),
        "五一广场": located_point("五一广场", WUYI_SQUARE),
        "火车站": located_point("火车站", RAILWAY_STATION),
    }


# --- distances ------------------------------------------------------------------------


def test_haversine_is_exact_for_known_points():
    # A tenth of a degree along a meridian: R·π/1800.
    assert haversine_m(Coordinates(28.0, 113.0), Coordinates(28.1, 113.0)) == pytest.approx(
        11_119.508, abs=0.001
    )
    # 五一广场 → 长沙火车站 and the warehouse → 五一广场, by hand.
    wuyi, station = Coordinates(28.196, 112.977), Coordinates(28.195, 113.012)
    warehouse = Coordinates(28.3656, 112.82)
    assert haversine_m(wuyi, station) == pytest.approx(3_431.828, abs=0.01)
    assert haversine_m(warehouse, wuyi) == pytest.approx(24_331.1, abs=0.1)
    assert path_km([warehouse, wuyi, station, warehouse]) == Decimal("54.47")
    assert path_km([warehouse]) == Decimal("0.00")


def test_the_haversine_matrix_drives_at_the_average_city_speed(settings):
    settings.LOGISTICS_AVERAGE_SPEED_KMH = 36  # 10 m/s
    matrix = HaversineProvider().matrix(
        [Coordinates(28.0, 113.0), Coordinates(28.1, 113.0), Coordinates(28.0, 113.0)]
    )
    assert [[round(d, 3) for d in row] for row in matrix.distances] == [
        [0, 11119.508, 0],
        [11119.508, 0, 11119.508],
        [0, 11119.508, 0],
    ]
    assert matrix.durations == [[0, 1112, 0], [1112, 0, 1112], [0, 1112, 0]]


@pytest.mark.parametrize("value", [0, -5, "fast", True, None])
def test_a_bad_average_speed_fails_loudly(settings, value):
    settings.LOGISTICS_AVERAGE_SPEED_KMH = value
    with pytest.raises(ImproperlyConfigured):
        HaversineProvider()


# --- the solver's order ---------------------------------------------------------------


def test_the_solver_untangles_a_zigzag_route(city, driver):
    route = RouteFactory(code="R71", default_driver=driver)
    names = ["梅溪湖", "火车站", "岳麓山", "五一广场", "橘子洲"]
    run = make_run(route, TOMORROW, [StopSpec(city[n], due=nine()) for n in names])

    plan_run(run=run)

    run.refresh_from_db()
    order = stop_names(run)
    assert sorted(order) == sorted(names)  # a permutation: nothing lost, nothing doubled
    assert list(run.stops.order_by("position").values_list("position", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]
    # West to east or east to west along the river: the one shortest loop.
    assert order in (
        ["梅溪湖", "岳麓山", "橘子洲", "五一广场", "火车站"],
        ["火车站", "五一广场", "橘子洲", "岳麓山", "梅溪湖"],
    )
    assert run.optimised_by == "vroom"
    assert run.plan_note == ""
    # By hand: 望城仓 → 梅溪湖 → 岳麓山 → 橘子洲 → 五一广场 → 火车站 → 望城仓 = 59.71 km
    # (the zigzag in route order would be 70.66 km).
    assert run.planned_distance_km == Decimal("59.71")
    arrivals = list(run.stops.order_by("position").values_list("planned_arrival", flat=True))
    assert all(a is not None for a in arrivals)
    assert arrivals == sorted(arrivals)
    assert arrivals[0] > run.planned_departure


def test_an_early_pickup_time_comes_first_and_every_window_is_kept(city, driver, settings):
    settings.LOGISTICS_STOP_SERVICE_MINUTES = 10
    route = RouteFactory(code="R72", default_driver=driver)
    # The station is last in the route's order, but its leader opens at 07:10:
    # the van (06:00, 26.7 km at 25 km/h = 64 min) must go there first.
    specs = [StopSpec(city[n], due=nine()) for n in ["梅溪湖", "岳麓山", "橘子洲", "五一广场"]]
    specs.append(StopSpec(city["火车站"], due=at(7, 10, day=TOMORROW)))
    run = make_run(route, TOMORROW, specs)

    plan_run(run=run)

    run.refresh_from_db()
    stops = list(run.stops.order_by("position"))
    assert stops[0].pickup_point.name == "火车站"
    # 26,708 m at 25 km/h = 3,846 s after 06:00.
    assert stops[0].planned_arrival == at(6, 0, day=TOMORROW) + timedelta(seconds=3846)
    assert all(s.planned_arrival <= s.due_at for s in stops)
    # After the first stop: ten minutes unloading, then the next leg.
    gap = stops[1].planned_arrival - stops[0].planned_arrival
    assert gap > timedelta(minutes=10)
    assert run.optimised_by == "vroom"


def test_points_without_coordinates_follow_the_solved_ones_in_route_order(city, driver):
    route = RouteFactory(code="R73", default_driver=driver)
    nowhere_a = located_point("无坐标甲", None)
    nowhere_b = located_point("无坐标乙", None)
    specs = [
        StopSpec(nowhere_b, due=nine()),
        StopSpec(city["火车站"], due=nine()),
        StopSpec(nowhere_a, due=nine()),
        StopSpec(city["梅溪湖"], due=nine()),
    ]
    run = make_run(route, TOMORROW, specs)

    plan_run(run=run)

    run.refresh_from_db()
    order = stop_names(run)
    assert sorted(order[:2]) == ["梅溪湖", "火车站"]
    assert order[2:] == ["无坐标乙", "无坐标甲"]  # their route order, kept
    planned = dict(run.stops.values_list("pickup_point__name", "planned_arrival"))
    assert planned["无坐标甲"] is None and planned["无坐标乙"] is None
    assert run.optimised_by == "vroom"
    assert run.plan_note == "无坐标，按线路顺序排在最后：无坐标乙、无坐标甲。"
    # Only the located stops are driven: 望城仓 ↔ 梅溪湖 ↔ 火车站 loop.
    assert run.planned_distance_km == Decimal("58.95")


# --- no feasible plan: the route's order, and why --------------------------------------


def test_a_load_over_the_vans_capacity_keeps_the_route_order_and_says_why(city, driver):
    van = VehicleFactory(capacity_kg=50, capacity_crates=120)
    route = RouteFactory(code="R74", default_driver=driver, vehicle=van)
    names = ["火车站", "梅溪湖", "五一广场"]
    run = make_run(
        route, TOMORROW, [StopSpec(city[n], due=nine(), weight_grams=20_000) for n in names]
    )

    plan_run(run=run)  # never raises: the wave goes on

    run.refresh_from_db()
    assert stop_names(run) == names
    assert run.optimised_by == ""
    assert run.plan_note == (
        "没有可行方案：装载（60.00 公斤，6 筐）超过车辆容量（50 公斤，120 筐）。"
    )
    # Planned along the route's order: 望城仓 → 火车站 → 梅溪湖 → 五一广场 → 望城仓.
    assert run.planned_distance_km == Decimal("72.50")
    assert run.stops.filter(planned_arrival__isnull=True).count() == 0


def test_a_pickup_time_nobody_can_meet_keeps_the_route_order(city, driver):
    route = RouteFactory(code="R75", default_driver=driver)
    names = ["梅溪湖", "火车站"]
    # 26.7 km cannot be driven in 20 minutes.
    specs = [
        StopSpec(city["梅溪湖"], due=nine()),
        StopSpec(city["火车站"], due=at(6, 20, day=TOMORROW)),
    ]
    run = make_run(route, TOMORROW, specs)

    plan_run(run=run)

    run.refresh_from_db()
    assert stop_names(run) == names
    assert run.optimised_by == ""
    assert run.plan_note == "没有可行方案：以下自提点无法在取货时间前全部送达：火车站。"


def test_a_pickup_time_before_the_departure_is_reported(city, driver):
    route = RouteFactory(code="R76", default_driver=driver)
    run = make_run(
        route,
        TOMORROW,
        [StopSpec(city["火车站"], due=at(5, 30, day=TOMORROW)), StopSpec(city["梅溪湖"])],
    )

    plan_run(run=run)

    run.refresh_from_db()
    assert stop_names(run) == ["火车站", "梅溪湖"]
    assert run.optimised_by == ""
    assert run.plan_note == "没有可行方案：取货时间早于发车时间：火车站。"


def test_a_warehouse_without_coordinates_leaves_the_route_as_it_is(clock, driver):
    locate_warehouse(None)
    route = RouteFactory(code="R77", default_driver=driver)
    a, b = located_point("甲", WUYI_SQUARE), located_point("乙", MEIXI_LAKE)
    run = make_run(route, TOMORROW, [StopSpec(a), StopSpec(b)])

    plan_run(run=run)

    run.refresh_from_db()
    assert stop_names(run) == ["甲", "乙"]
    assert run.planned_distance_km is None
    assert run.optimised_by == ""
    assert run.plan_note == "仓库没有坐标。"


def test_a_solver_crash_keeps_the_route_order(city, driver, monkeypatch):
    import vroom

    def broken(self, **kwargs):
        raise RuntimeError("engine down")

    monkeypatch.setattr(vroom.Input, "solve", broken)
    route = RouteFactory(code="R78", default_driver=driver)
    run = make_run(route, TOMORROW, [StopSpec(city["火车站"]), StopSpec(city["梅溪湖"])])

    plan_run(run=run)

    run.refresh_from_db()
    assert stop_names(run) == ["火车站", "梅溪湖"]
    assert run.optimised_by == ""
    assert run.plan_note == "求解器出错：engine down"


def test_a_route_without_a_vehicle_is_planned_without_capacity(city, driver):
    route = RouteFactory(code="R84", default_driver=driver, vehicle=None)
    names = ["火车站", "梅溪湖"]
    run = make_run(
        route, TOMORROW, [StopSpec(city[n], due=nine(), weight_grams=900_000) for n in names]
    )
    assert run.vehicle is None

    plan_run(run=run)

    run.refresh_from_db()
    assert run.optimised_by == "vroom"
    assert run.planned_distance_km == Decimal("58.95")


def test_planning_reads_twice_and_writes_twice(city, driver, django_assert_max_num_queries):
    route = RouteFactory(code="R85", default_driver=driver)
    names = ["梅溪湖", "火车站", "岳麓山", "五一广场", "橘子洲"]
    run = make_run(route, TOMORROW, [StopSpec(city[n], due=nine()) for n in names])
    # run, stops, bulk update of the stops, the run's update, and the savepoint pair.
    with django_assert_max_num_queries(6):
        plan_run(run=run)


def test_the_search_gets_lighter_as_runs_get_longer():
    assert [exploration_level(n) for n in (1, 20, 21, 40, 41, 200)] == [5, 5, 3, 3, 1, 1]


def test_a_long_run_is_planned_within_the_time_limit(city, driver, settings):
    settings.LOGISTICS_SOLVER_SECONDS = 1
    settings.LOGISTICS_STOP_SERVICE_MINUTES = 2
    route = RouteFactory(code="R86", default_driver=driver)
    # 45 points on a 9 × 5 grid over the city centre, listed in a scrambled order.
    cells = [(row, col) for row in range(5) for col in range(9)]
    cells = cells[::2] + cells[1::2]
    specs = [
        StopSpec(
            located_point(
                f"格{row}{col}",
                (
                    Decimal("28.150000") + Decimal("0.01") * row,
                    Decimal("112.880000") + Decimal("0.015") * col,
                ),
            ),
            weight_grams=5_000,
            crates=1,
        )
        for row, col in cells
    ]
    run = make_run(route, TOMORROW, specs)

    plan_run(run=run)

    run.refresh_from_db()
    assert run.optimised_by == "vroom"
    assert sorted(stop_names(run)) == sorted(f"格{r}{c}" for r, c in cells)
    in_route_order = path_km(
        [Coordinates(28.3656, 112.82)]
        + [Coordinates(28.15 + 0.01 * r, 112.88 + 0.015 * c) for r, c in cells]
        + [Coordinates(28.3656, 112.82)]
    )
    assert run.planned_distance_km < in_route_order


def test_planning_twice_gives_the_same_plan(city, driver):
    route = RouteFactory(code="R79", default_driver=driver)
    names = ["梅溪湖", "火车站", "岳麓山", "五一广场"]
    put_on_route(route, *(city[n] for n in names))
    run = make_run(route, TOMORROW, [StopSpec(city[n], due=nine()) for n in names])
    plan_run(run=run)
    first = list(run.stops.order_by("position").values_list("pk", "planned_arrival"))
    plan_run(run=run)
    assert list(run.stops.order_by("position").values_list("pk", "planned_arrival")) == first


class DoubleRoads:
    """A stand-in road provider: roads twice as long as the crow flies."""

    def matrix(self, points):
        base = HaversineProvider(speed_kmh=25).matrix(points)
        return Matrix(
            distances=[[2 * d for d in row] for row in base.distances],
            durations=[[2 * d for d in row] for row in base.durations],
        )


def test_a_road_distance_provider_plugs_in_through_the_setting(city, driver, settings):
    settings.LOGISTICS_DISTANCE_PROVIDER = "tests.logistics.test_routing.DoubleRoads"
    route = RouteFactory(code="R80", default_driver=driver)
    run = make_run(route, TOMORROW, [StopSpec(city["五一广场"]), StopSpec(city["火车站"])])

    plan_run(run=run)

    run.refresh_from_db()
    assert run.planned_distance_km == Decimal("108.94")  # 2 × 54.47
    first = run.stops.order_by("position").first()
    assert first.planned_arrival - run.planned_departure >= timedelta(seconds=2 * 3503)


def test_a_provider_that_is_not_one_fails_loudly(city, driver, settings):
    settings.LOGISTICS_DISTANCE_PROVIDER = "logistics.models.Route"
    route = RouteFactory(code="R81", default_driver=driver)
    run = make_run(route, TOMORROW, [StopSpec(city["五一广场"])])
    with pytest.raises(ImproperlyConfigured):
        plan_run(run=run)


# --- what really happened -------------------------------------------------------------


def test_actual_distance_follows_the_order_the_driver_really_arrived_in(city, driver):
    route = RouteFactory(code="R82", default_driver=driver)
    names = ["五一广场", "梅溪湖", "火车站"]
    run = make_run(route, TOMORROW, [StopSpec(city[n]) for n in names], departure=time(6, 0))
    # Planned 五一广场 → 梅溪湖 → 火车站; driven 五一广场 → 火车站 → 梅溪湖.
    arrivals = {"五一广场": at(7, 0), "火车站": at(7, 20), "梅溪湖": at(7, 50)}
    for stop in run.stops.select_related("pickup_point"):
        stop.arrived_at = arrivals[stop.pickup_point.name].replace(day=TOMORROW.day)
        stop.save(update_fields=["arrived_at"])

    distance = actual_distance_km(run=run)

    # By hand: 24.331 + 3.432 + 12.448 (火车站 → 梅溪湖) + 19.799 (梅溪湖 → 望城仓).
    assert distance == Decimal("60.01")
    assert DeliveryRun.objects.get(pk=run.pk).actual_distance_km == Decimal("60.01")


def test_actual_distance_is_none_before_any_arrival(city, driver):
    route = RouteFactory(code="R83", default_driver=driver)
    run = make_run(route, TOMORROW, [StopSpec(city["五一广场"])])
    assert actual_distance_km(run=run) is None
    assert DeliveryRun.objects.get(pk=run.pk).actual_distance_km is None
    assert RunStop.objects.filter(run=run).count() == 1
