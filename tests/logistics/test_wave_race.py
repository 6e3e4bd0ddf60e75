# ruff: noqa: F811 - pytest fixtures imported from the wave support module
"""Two workers start the same wave at the same moment, on real PostgreSQL;
and the progress a page sees while the build's transaction is still open."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import translation

from logistics.models import Wave, WaveLabel, WaveLine, WaveStatus
from logistics.services import wave as wave_service
from logistics.services.wave import WaveBusy, run_wave
from orders.models import PickupCode
from tests.clock import TOMORROW

from .test_wave_late import DAY_AFTER, late  # noqa: F401 - fixtures
from .wave_support import day, weighed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("session_locks", [True, False], ids=["direct", "behind-pgbouncer"])
def test_two_workers_one_builds_the_other_is_told_to_wait(day, point, monkeypatch, session_locks):
    monkeypatch.setattr(wave_service, "_session_locks_work", lambda: session_locks)
    warehouse = point.warehouse
    real_plan_run = wave_service.routing.plan_run
    start = threading.Barrier(2)
    lost = threading.Event()
    outcomes: dict[str, object] = {}

    def plan_run_after_the_loser(*, run):
        # The winner holds the wave until the other worker has been refused:
        # the two really overlap, whatever the scheduler does.
        assert lost.wait(timeout=20)
        real_plan_run(run=run)

    monkeypatch.setattr(wave_service.routing, "plan_run", plan_run_after_the_loser)

    def worker(name: str) -> None:
        try:
            with translation.override("zh-hans"):
                start.wait(timeout=10)
                try:
                    outcomes[name] = run_wave(warehouse=warehouse, delivery_date=TOMORROW)
                except WaveBusy as busy:
                    outcomes[name] = busy
                    lost.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    waves = [o for o in outcomes.values() if isinstance(o, Wave)]
    refused = [o for o in outcomes.values() if isinstance(o, WaveBusy)]
    assert len(waves) == 1 and len(refused) == 1
    assert refused[0].message == "该仓库当天的截单波次正在生成，请稍后再试"
    wave = Wave.objects.get()
    assert (wave.status, wave.progress, wave.error) == (WaveStatus.DONE, 100, "")
    assert WaveLine.objects.filter(wave=wave).count() == 6
    assert WaveLabel.objects.filter(wave=wave).count() == 4
    assert PickupCode.objects.count() == 4


def test_the_progress_is_visible_while_the_wave_is_being_built(day, point, monkeypatch):
    real_plan_run = wave_service.routing.plan_run
    seen: list[tuple[str, int]] = []

    def plan_run_and_look(*, run):
        def look() -> None:
            try:
                wave = Wave.objects.get(warehouse=point.warehouse, delivery_date=TOMORROW)
                seen.append((wave.status, wave.progress))
            finally:
                connection.close()

        reader = threading.Thread(target=look)
        reader.start()
        reader.join(timeout=20)
        real_plan_run(run=run)

    monkeypatch.setattr(wave_service.routing, "plan_run", plan_run_and_look)

    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)

    # Another connection saw the build in progress (stops written, planning).
    assert seen == [(WaveStatus.RUNNING, wave_service.STEP_RUNS)]
    wave.refresh_from_db()
    assert (wave.status, wave.progress) == (WaveStatus.DONE, 100)
    # Nothing of the build was visible to that reader before COMMIT, and all of it after.
    assert WaveLine.objects.filter(wave=wave).count() == 6


def test_no_order_moves_while_the_wave_is_being_rebuilt(late, point, weighed):
    """The sweep needs the wave's lock: a rebuild holding it would freeze the
    order the sweep is moving (delivered twice). Busy: nothing moves now."""
    from logistics.services.wave import _LOCK_NAMESPACE, roll_late_orders
    from tests.catalog.factories import set_stock

    tomato, _eggs = weighed
    wave, order = late
    set_stock(sku=tomato, warehouse=point.warehouse, delivery_date=DAY_AFTER, quantity=30)
    held, done = threading.Event(), threading.Event()

    def other_worker():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, wave.pk])
                held.set()
                assert done.wait(timeout=20)
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, wave.pk])
        finally:
            connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        assert held.wait(timeout=20)
        assert roll_late_orders(wave=wave).moved == []
        order.refresh_from_db()
        assert order.delivery_date == TOMORROW
    finally:
        done.set()
        worker.join(timeout=20)
    assert [o.pk for o in roll_late_orders(wave=wave).moved] == [order.pk]


def test_the_task_of_a_busy_wave_returns_none_and_changes_nothing(clock, point):
    from logistics.services.wave import _LOCK_NAMESPACE
    from logistics.tasks import run_wave_task

    wave = Wave.objects.create(
        warehouse=point.warehouse, delivery_date=TOMORROW, status=WaveStatus.DONE
    )
    held, done = threading.Event(), threading.Event()

    def other_worker():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, wave.pk])
                held.set()
                assert done.wait(timeout=20)
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, wave.pk])
        finally:
            connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        assert held.wait(timeout=20)
        assert run_wave_task(point.warehouse.pk, TOMORROW.isoformat()) is None
        wave.refresh_from_db()
        assert (wave.status, wave.started_at, wave.error) == (WaveStatus.DONE, None, "")
    finally:
        done.set()
        worker.join(timeout=20)
    assert run_wave_task(point.warehouse.pk, TOMORROW.isoformat()) == wave.pk
