# ruff: noqa: F811 - pytest fixtures imported from the wave support module
"""The cutoff wave: exact documents for a small day, reruns, problems, query budget."""

from __future__ import annotations

from datetime import time

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from catalog.models import Product, StorageClass, Warehouse
from logistics.models import (
    DeliveryRun,
    PackItem,
    PickItem,
    RouteStop,
    RunStop,
    Wave,
    WaveDemand,
    WaveLabel,
    WaveLine,
    WaveStatus,
)
from logistics.services import wave as wave_service
from logistics.services.wave import (
    Problem,
    WaveLocked,
    problem_message,
    problem_messages,
    run_wave,
)
from orders.models import PickupCode
from tests.clock import TOMORROW
from tests.leaders.factories import PickupPointFactory
from tests.orders.pickup_support import delivery_morning
from tuangou.timeutils import local_datetime

from .conftest import RouteFactory, paid_order, put_on_route
from .wave_support import day, wave_rows, weighed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _wave(point):
    return run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)


def test_it_freezes_the_days_lines_minus_refunds(day, point, other_pickup_point, route):
    wave = _wave(point)

    assert wave.status == WaveStatus.DONE
    assert wave.progress == 100
    assert (wave.order_count, wave.line_count, wave.unit_count) == (4, 6, 12)
    assert wave.problems == []
    assert wave.closed_at is not None and wave.finished_at >= wave.closed_at
    eggs_of_c = WaveLine.objects.get(wave=wave, order=day.c)
    assert eggs_of_c.quantity == 3  # 4 ordered, 1 refunded
    assert set(WaveLine.objects.filter(wave=wave).values_list("route_id", flat=True)) == {route.pk}


def test_demand_and_picking_list_walk_the_bins(day, point, weighed):
    tomato, eggs = weighed
    wave = _wave(point)

    assert sorted(
        WaveDemand.objects.filter(wave=wave).values_list(
            "sku_id", "storage_class", "quantity", "weight_grams"
        )
    ) == sorted([(tomato.pk, "ambient", 6, 3000), (eggs.pk, "ambient", 6, 3600)])
    # Bin A-01-1 (eggs) comes before B-02-1 (tomatoes) on the walk.
    assert list(
        PickItem.objects.filter(wave=wave)
        .order_by("storage_class", "sequence")
        .values_list("storage_class", "sequence", "sku_id", "bin_location", "quantity")
    ) == [("ambient", 1, eggs.pk, "A-01-1", 6), ("ambient", 2, tomato.pk, "B-02-1", 6)]


def test_packing_lists_per_route_and_point(day, point, other_pickup_point, route, weighed):
    tomato, eggs = weighed
    wave = _wave(point)

    assert sorted(
        PackItem.objects.filter(wave=wave).values_list(
            "route_id", "pickup_point_id", "sku_id", "quantity", "is_packed"
        )
    ) == sorted(
        [
            (route.pk, point.pk, tomato.pk, 4, False),
            (route.pk, point.pk, eggs.pk, 2, False),
            (route.pk, other_pickup_point.pk, tomato.pk, 2, False),
            (route.pk, other_pickup_point.pk, eggs.pk, 4, False),
        ]
    )


def test_one_label_per_shopper_per_point_with_the_code_the_signoff_will_use(
    day, point, other_pickup_point, shopper, other_shopper, route
):
    wave = _wave(point)

    labels = {
        (lab.pickup_point_id, lab.user_id): lab for lab in WaveLabel.objects.filter(wave=wave)
    }
    assert {k: (v.masked_phone, v.line_count, v.unit_count) for k, v in labels.items()} == {
        (point.pk, shopper.pk): ("138****0001", 2, 5),
        (point.pk, other_shopper.pk): ("138****0002", 1, 1),
        (other_pickup_point.pk, shopper.pk): ("138****0001", 1, 3),
        (other_pickup_point.pk, other_shopper.pk): ("138****0002", 2, 3),
    }
    codes = {
        (c.pickup_point_id, c.user_id): c.code
        for c in PickupCode.objects.filter(delivery_date=TOMORROW)
    }
    assert codes == {k: v.pickup_code for k, v in labels.items()}
    assert all(len(code) == 6 and code.isdigit() for code in codes.values())
    assert {lab.route_id for lab in labels.values()} == {route.pk}


def test_one_run_per_route_with_stops_in_route_order(day, point, other_pickup_point, route, driver):
    wave = _wave(point)

    run = DeliveryRun.objects.get(wave=wave)
    assert (run.route_id, run.delivery_date, run.vehicle_id, run.driver_id, run.status) == (
        route.pk,
        TOMORROW,
        route.vehicle_id,
        driver.pk,
        "planned",
    )
    assert run.planned_departure == local_datetime(TOMORROW, time(6, 0))
    # 幸福里: 4×500 g + 2×600 g; 阳光花园: 2×500 g + 4×600 g; one crate each (≤ 15 kg).
    assert (run.crates, run.weight_grams) == (2, 6600)
    due = local_datetime(TOMORROW, time(10, 0))
    assert list(
        RunStop.objects.filter(run=run)
        .order_by("position")
        .values_list(
            "pickup_point_id", "position", "order_count", "crates", "weight_grams", "due_at"
        )
    ) == [
        (point.pk, 1, 2, 1, 3200, due),
        (other_pickup_point.pk, 2, 2, 1, 3400, due),
    ]


def test_crates_are_counted_per_storage_class_with_one_at_least(
    day, point, other_pickup_point, weighed, settings
):
    tomato, eggs = weighed
    Product.objects.filter(pk=eggs.product_id).update(storage_class=StorageClass.CHILLED)
    settings.LOGISTICS_CRATE_CAPACITY_GRAMS = 1500
    wave = _wave(point)

    assert sorted(
        PickItem.objects.filter(wave=wave).values_list("storage_class", "sequence", "sku_id")
    ) == [("ambient", 1, tomato.pk), ("chilled", 1, eggs.pk)]
    stops = dict(RunStop.objects.filter(run__wave=wave).values_list("pickup_point_id", "crates"))
    # 幸福里: tomatoes 2000 g → 2 crates, eggs (chilled) 1200 g → 1 crate.
    # 阳光花园: tomatoes 1000 g → 1 crate, eggs 2400 g → 2 crates.
    assert stops == {point.pk: 3, other_pickup_point.pk: 3}
    assert DeliveryRun.objects.get(wave=wave).crates == 6


def test_a_rerun_gives_identical_documents(day, point):
    first = _wave(point)
    rows = wave_rows(first)
    codes = dict(PickupCode.objects.values_list("pk", "code"))

    again = _wave(point)

    assert again.pk == first.pk
    assert Wave.objects.count() == 1
    assert wave_rows(again) == rows
    assert dict(PickupCode.objects.values_list("pk", "code")) == codes


def test_the_leaders_signoff_reuses_the_waves_pickup_code(
    day, point, other_pickup_point, shopper, leader_user, clock
):
    from orders.services.delivery import sign_for_delivery

    wave = _wave(point)
    label = WaveLabel.objects.get(wave=wave, pickup_point=point, user=shopper)
    clock.move_to(delivery_morning(9))

    result = sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)

    assert result.codes[(shopper.pk, point.pk, TOMORROW)].code == label.pickup_code
    assert PickupCode.objects.filter(pickup_point=point, delivery_date=TOMORROW).count() == 2


def test_a_date_with_no_orders_gives_an_empty_done_wave(clock, point):
    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)

    assert wave.status == WaveStatus.DONE
    assert (wave.order_count, wave.line_count, wave.unit_count, wave.problems) == (0, 0, 0, [])
    assert not DeliveryRun.objects.filter(wave=wave).exists()
    assert not WaveLabel.objects.exists() and not PickItem.objects.exists()


def test_orders_of_another_day_or_warehouse_or_not_confirmed_stay_out(
    clock, route, point, shopper, weighed
):
    from orders.services.checkout import Want, place_order

    tomato, _eggs = weighed
    paid_order(shopper, point, (tomato, 1))
    place_order(user=shopper, wants=[Want(tomato.pk, 2)], pickup_point=point)  # unpaid
    other = Warehouse.objects.create(name="株洲仓", city="株洲", address="株洲")

    wave = _wave(point)
    empty = run_wave(warehouse=other, delivery_date=TOMORROW)
    later = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW.replace(day=28))

    assert (wave.order_count, wave.unit_count) == (1, 1)
    assert (empty.order_count, later.order_count) == (0, 0)


# --- problems -----------------------------------------------------------------------------


def test_a_point_on_no_route_is_listed_and_its_goods_still_packed(
    day, point, other_pickup_point, weighed
):
    tomato, eggs = weighed
    RouteStop.objects.filter(pickup_point=other_pickup_point).delete()

    wave = _wave(point)

    assert wave.problems == [
        {
            "kind": Problem.POINT_WITHOUT_ROUTE,
            "point": other_pickup_point.pk,
            "name": "阳光花园物业",
        }
    ]
    assert sorted(
        PackItem.objects.filter(wave=wave, route__isnull=True).values_list(
            "pickup_point_id", "sku_id", "quantity"
        )
    ) == sorted([(other_pickup_point.pk, tomato.pk, 2), (other_pickup_point.pk, eggs.pk, 4)])
    assert WaveLabel.objects.filter(wave=wave, route__isnull=True).count() == 2
    assert wave.unit_count == 12  # nothing lost
    # The run has only the routed point.
    assert list(
        RunStop.objects.filter(run__wave=wave).values_list("pickup_point_id", flat=True)
    ) == [point.pk]
    with translation.override("zh-hans"):
        assert problem_messages(wave) == [
            "自提点「阳光花园物业」有订单但不在任何线路上，货物已按“无线路”打包。"
            "请把它加到线路上，再重新生成波次。"
        ]


def test_a_route_without_a_vehicle_is_listed_and_its_run_made_without_one(day, point, route):
    route.vehicle = None
    route.save(update_fields=["vehicle"])

    wave = _wave(point)

    assert wave.problems == [
        {"kind": Problem.ROUTE_WITHOUT_VEHICLE, "route": route.pk, "name": "R01 岳麓线"}
    ]
    run = DeliveryRun.objects.get(wave=wave)
    assert run.vehicle_id is None and run.crates == 2
    with translation.override("zh-hans"):
        assert problem_messages(wave) == ["线路「R01 岳麓线」没有车辆：请指派车辆后重新生成波次。"]


def test_a_route_without_a_driver_is_listed_and_its_run_has_none(day, point, route):
    route.default_driver = None
    route.save(update_fields=["default_driver"])

    wave = _wave(point)

    assert wave.problems == [
        {"kind": Problem.ROUTE_WITHOUT_DRIVER, "route": route.pk, "name": "R01 岳麓线"}
    ]
    assert DeliveryRun.objects.get(wave=wave).driver_id is None
    with translation.override("zh-hans"):
        assert problem_messages(wave) == [
            "线路「R01 岳麓线」没有配送员：请在发车前给本次配送指派配送员。"
        ]


def test_an_inactive_route_counts_as_no_route(day, point, other_pickup_point, route):
    route.is_active = False
    route.save(update_fields=["is_active"])

    wave = _wave(point)

    assert [p["kind"] for p in wave.problems] == [Problem.POINT_WITHOUT_ROUTE] * 2
    assert not DeliveryRun.objects.filter(wave=wave).exists()


def test_a_run_over_its_vans_capacity_is_listed(day, point, route):
    route.vehicle.capacity_crates = 1
    route.vehicle.save(update_fields=["capacity_crates"])

    wave = _wave(point)

    assert wave.problems == [
        {
            "kind": Problem.RUN_OVER_CAPACITY,
            "route": route.pk,
            "name": "R01 岳麓线",
            "weight_kg": "6.6",
            "crates": 2,
        }
    ]
    with translation.override("zh-hans"):
        assert "6.6" in problem_message(wave.problems[0])


def test_a_point_cannot_be_on_two_routes(route, point):
    """RouteStop's unique pickup point refuses it (the admin shows the form error)."""
    other = RouteFactory(code="R02", name="开福线")
    with pytest.raises(IntegrityError), transaction.atomic():
        put_on_route(other, point)
    assert RouteStop.objects.get(pickup_point=point).route_id == route.pk


def test_a_failing_planner_keeps_the_wave_and_says_so(day, point, route, monkeypatch):
    def broken(*, run):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(wave_service.routing, "plan_run", broken)

    wave = _wave(point)

    assert wave.status == WaveStatus.DONE
    assert wave.problems == [
        {"kind": Problem.PLANNING_FAILED, "route": route.pk, "name": "R01 岳麓线"}
    ]
    assert RunStop.objects.filter(run__wave=wave).count() == 2


def test_a_failed_build_writes_nothing_and_marks_the_wave_failed(day, point, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(wave_service, "issue_day_pickup_codes", broken)

    with pytest.raises(RuntimeError):
        _wave(point)

    wave = Wave.objects.get()
    assert (wave.status, wave.error) == (WaveStatus.FAILED, "RuntimeError: disk full")
    assert not WaveLine.objects.exists() and not WaveDemand.objects.exists()
    assert not PickupCode.objects.exists()


def test_a_rerun_is_refused_once_a_run_has_left(day, point):
    wave = _wave(point)
    DeliveryRun.objects.filter(wave=wave).update(status="departed")
    rows = wave_rows(wave)

    with pytest.raises(WaveLocked) as refused, translation.override("zh-hans"):
        _wave(point)

    assert refused.value.message == "该波次已有车辆出发，单据不能再重新生成。"
    assert wave_rows(wave) == rows
    assert Wave.objects.get().status == WaveStatus.DONE


# --- query budget ---------------------------------------------------------------------------


def _quiet_neighbours(monkeypatch):
    monkeypatch.setattr(wave_service.routing, "plan_run", lambda *, run: None)
    monkeypatch.setattr(wave_service.purchasing, "draft_purchase_orders", lambda *, wave: [])


def test_the_query_count_does_not_grow_with_the_day(
    day, point, route, shopper, weighed, monkeypatch, django_assert_max_num_queries
):
    """run_wave's own statements are a constant: every line-, order- and
    shopper-sized step is one set-based statement, so the count is the same
    for four orders as for a million lines. Counted on a day with one run,
    with the planner and purchasing stubbed (they pin their own budgets):
    the wave read and created (4, with its savepoint), the lock, the
    build's savepoint pair, the status check, work_mem, the runs read for
    deletion (nothing to delete the first time), the derived rows deleted,
    then freeze, demand, picking, packing, pickup codes, labels,
    points and routes, routes read, runs insert, stops with the run totals;
    a savepoint pair per run for its planning; the second transaction's
    savepoints, the wave's UPDATE, purchasing's savepoint pair; the late
    orders' savepoint, lock and check. A day with three times the points, shoppers and
    orders must not need one statement more.
    """
    _quiet_neighbours(monkeypatch)
    with django_assert_max_num_queries(32) as small:
        _wave(point)
    tomato, eggs = weighed
    extra_points = [PickupPointFactory(name=f"加点{i}") for i in range(4)]
    put_on_route(route, *extra_points)
    for p in extra_points:
        paid_order(shopper, p, (tomato, 1), (eggs, 1))
    Wave.objects.all().delete()
    with django_assert_max_num_queries(len(small.captured_queries)):
        _wave(point)
