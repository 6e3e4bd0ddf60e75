# ruff: noqa: F811 - pytest fixtures imported from the logistics conftest and support
"""Ticks on the floor at the same moment, on real PostgreSQL: two packers closing one
point tick each line once; a tick racing a rerun of the wave is either wiped by the
rebuild or refused, never half-applied."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from logistics.models import PackItem, PickItem
from logistics.services import floor
from logistics.services.wave import run_wave

from .conftest import (  # noqa: F401 - fixtures
    driver,
    egg_sku,
    other_pickup_point,
    point,
    route,
    sku,
)
from .documents_support import carol, wave, wave_skus  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _together(*works) -> list:
    barrier = threading.Barrier(len(works))
    results: list = [None] * len(works)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = works[i]()
        except Exception as exc:  # the result, for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_packers_closing_the_same_point_tick_each_line_once(clock, wave, point):
    lines = PackItem.objects.filter(wave=wave, pickup_point=point).count()
    assert lines == 4
    results = _together(
        lambda: floor.pack_point(wave=wave, point_id=point.pk),
        lambda: floor.pack_point(wave=wave, point_id=point.pk),
    )
    assert sorted(results) == [0, lines]  # one ticked them all, the other found nothing left
    assert PackItem.objects.filter(wave=wave, pickup_point=point, is_packed=True).count() == lines


def test_a_tick_racing_a_rerun_is_wiped_or_refused_never_half_applied(clock, wave, point):
    eggs = PickItem.objects.get(wave=wave, sku__product__name="土鸡蛋")
    results = _together(
        lambda: floor.mark_picked(wave=wave, item_id=eggs.pk),
        lambda: run_wave(warehouse=point.warehouse, delivery_date=wave.delivery_date),
    )
    tick, rebuilt = results
    from logistics.services.wave import WaveBusy

    wave.refresh_from_db()
    assert wave.status == "done"  # never FAILED by the race
    ticked = PickItem.objects.filter(wave=wave, picked_quantity__isnull=False)
    if isinstance(rebuilt, WaveBusy):
        # The tick held the wave: the rerun was refused, the tick stands.
        assert tick == 3 and list(ticked.values_list("pk", flat=True)) == [eggs.pk]
    else:
        # The rebuild went through: a tick before it was wiped, one during it refused.
        assert rebuilt.pk == wave.pk, rebuilt
        assert tick == 3 or isinstance(tick, floor.FloorError), tick
        assert not ticked.exists()
    assert PickItem.objects.filter(wave=wave).count() == 4


def test_a_tick_during_a_rebuild_is_refused(clock, wave, point):
    """The rebuild holds the wave's lock: a tick meanwhile is told to wait."""
    eggs = PickItem.objects.get(wave=wave, sku__product__name="土鸡蛋")
    held = threading.Event()
    release = threading.Event()

    def rebuild_holding_the_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [floor.WAVE_LOCK_NAMESPACE, wave.pk])
            held.set()
            release.wait(timeout=10)
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [floor.WAVE_LOCK_NAMESPACE, wave.pk]
            )

    def tick():
        held.wait(timeout=10)
        try:
            return floor.mark_picked(wave=wave, item_id=eggs.pk)
        finally:
            release.set()

    _locker, result = _together(rebuild_holding_the_lock, tick)
    assert isinstance(result, floor.FloorError)
    assert result.message == "波次正在重新生成，完成后请刷新页面。"
    eggs.refresh_from_db()
    assert eggs.picked_quantity is None
