# ruff: noqa: F811 - pytest fixtures imported from the wave support module
"""How the wave starts: the beat at each warehouse's cutoff, the task, the command."""

from __future__ import annotations

from datetime import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Warehouse
from logistics.models import Wave, WaveStatus
from logistics.schedules import BEAT_SCHEDULE
from logistics.services.wave import waves_due
from logistics.tasks import run_wave_task, start_due_waves_task
from tests.clock import TOMORROW, at

from .wave_support import day, weighed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_the_beat_checks_every_five_minutes():
    assert BEAT_SCHEDULE["logistics-start-due-waves"]["task"] == (
        "logistics.tasks.start_due_waves_task"
    )
    assert BEAT_SCHEDULE["logistics-start-due-waves"]["schedule"].minute == set(range(0, 60, 5))
    assert BEAT_SCHEDULE["logistics-roll-late-orders"]["schedule"].minute == set(range(2, 60, 5))


def test_nothing_is_due_before_the_cutoff(day, point, clock):
    clock.move_to(at(22, 59))
    assert waves_due() == []
    assert start_due_waves_task() == 0
    assert not Wave.objects.exists()


def test_at_the_cutoff_the_beat_builds_tomorrows_wave_once(day, point, clock):
    clock.move_to(at(23, 0))
    assert waves_due() == [(point.warehouse, TOMORROW)]

    assert start_due_waves_task() == 1  # eager: the wave is built in the call

    wave = Wave.objects.get()
    assert (wave.warehouse_id, wave.delivery_date, wave.status) == (
        point.warehouse.pk,
        TOMORROW,
        WaveStatus.DONE,
    )
    assert wave.line_count == 6
    clock.move_to(at(23, 5))
    assert start_due_waves_task() == 0


def test_a_failed_wave_is_tried_again_and_inactive_warehouses_are_skipped(day, point, clock):
    Warehouse.objects.create(
        name="关停仓", city="长沙", address="x", cutoff_time=time(20, 0), is_active=False
    )
    Wave.objects.create(warehouse=point.warehouse, delivery_date=TOMORROW, status="failed")
    clock.move_to(at(23, 30))
    assert waves_due() == [(point.warehouse, TOMORROW)]


def test_an_earlier_cutoff_is_due_earlier(clock, point):
    Warehouse.objects.filter(pk=point.warehouse.pk).update(cutoff_time=time(21, 0))
    clock.move_to(at(21, 0))
    assert [(w.pk, d) for w, d in waves_due()] == [(point.warehouse.pk, TOMORROW)]


def test_the_task_returns_the_wave(day, point, clock):
    wave_id = run_wave_task(point.warehouse.pk, TOMORROW.isoformat())
    assert Wave.objects.get(pk=wave_id).line_count == 6


def test_the_command_builds_the_wave_and_lists_problems(day, point, route, clock):
    route.vehicle = None
    route.save(update_fields=["vehicle"])
    out = StringIO()

    call_command(
        "run_cutoff_wave",
        "--warehouse",
        str(point.warehouse.pk),
        "--date",
        "2026-11-26",
        stdout=out,
    )

    wave = Wave.objects.get()
    assert out.getvalue().splitlines() == [
        f"wave {wave.pk} 长沙 · 长沙望城仓 2026-11-26: 4 orders, 6 lines, 12 units, 1 runs",
        "! 线路「R01 岳麓线」没有车辆：请指派车辆后重新生成波次。",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--warehouse", "999999", "--date", "2026-11-26"], "No warehouse with id 999999."),
        (["--warehouse", "1", "--date", "26/11/2026"], "--date must be a date like 2026-11-26"),
    ],
)
def test_the_command_refuses_bad_input(clock, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_cutoff_wave", *args)
    assert not Wave.objects.exists()


def test_a_night_missed_past_midnight_is_caught_up_until_the_pickup_time(day, point, clock):
    """No worker ran at 23:00: after midnight the day's wave is still built."""
    clock.move_to(at(0, 30, day=TOMORROW))
    assert waves_due() == [(point.warehouse, TOMORROW)]
    assert start_due_waves_task() == 1
    assert Wave.objects.get(delivery_date=TOMORROW).line_count == 6
    assert waves_due() == []
    # Too late to matter once the goods should be at the points.
    Wave.objects.all().delete()
    clock.move_to(at(10, 0, day=TOMORROW))
    assert waves_due() == []


def test_the_task_leaves_a_wave_whose_runs_have_left(day, point, clock):
    from logistics.models import DeliveryRun

    wave_id = run_wave_task(point.warehouse.pk, TOMORROW.isoformat())
    DeliveryRun.objects.filter(wave_id=wave_id).update(status="departed")
    Wave.objects.filter(pk=wave_id).update(status=WaveStatus.FAILED)

    assert run_wave_task(point.warehouse.pk, TOMORROW.isoformat()) is None
    assert Wave.objects.get(pk=wave_id).status == WaveStatus.FAILED
    assert DeliveryRun.objects.filter(wave_id=wave_id, status="departed").count() == 1
