"""The cutoff wave whose database connection is killed mid-build (issue #15, faults 1)."""

# ruff: noqa: F811 - pytest fixtures imported from the logistics test modules
from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError, connection

from logistics.models import DeliveryRun, Wave, WaveLine, WaveStatus
from logistics.services.wave import run_wave
from orders.models import Order, OrderStatus
from tests.clock import TOMORROW
from tests.logistics.conftest import driver, route  # noqa: F401 - fixtures
from tests.logistics.wave_support import day, wave_rows, weighed  # noqa: F401 - fixtures
from tests.orders.conftest import eager_celery, other_community, other_pickup_point  # noqa: F401

from .support import backend_killed_before

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_wave_killed_mid_build_writes_no_rows_and_the_rerun_builds_it_once(day, point):
    statuses = dict(Order.objects.values_list("pk", "status"))
    with (
        backend_killed_before(r"INSERT INTO \"?logistics_waveline") as stopped,
        pytest.raises((OperationalError, InterfaceError)),
    ):
        run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    assert stopped, "the build never reached its wave lines"
    connection.close()  # a worker's next task opens a fresh connection
    wave = Wave.objects.get(warehouse=point.warehouse, delivery_date=TOMORROW)
    # Nothing of the build was written; the wave is offered again.
    assert wave.status in {WaveStatus.RUNNING, WaveStatus.FAILED}
    assert not WaveLine.objects.filter(wave=wave).exists()
    assert not DeliveryRun.objects.filter(wave=wave).exists()
    assert dict(Order.objects.values_list("pk", "status")) == statuses
    # The beat's next start (logistics-start-due-waves) builds it once.
    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    assert wave.status == WaveStatus.DONE
    assert wave.order_count == 4
    first = wave_rows(wave)
    assert first["lines"]
    again = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    assert wave_rows(again) == first
    assert Wave.objects.filter(warehouse=point.warehouse, delivery_date=TOMORROW).count() == 1
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CONFIRMED}
