"""A leader's sign-off committed while the wave is being (re)built: the build's
REPEATABLE READ snapshot no longer holds, PostgreSQL refuses the pickup-code
INSERT with a serialization failure, and the build runs again at once on a
fresh snapshot instead of leaving the wave FAILED until the next beat.

The interleaving is forced, not hoped for: another transaction holds an
uncommitted WaveLine with the key the build is about to insert, so the build
waits (after taking its snapshot) until the sign-off has committed."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection

from logistics.models import Wave, WaveStatus
from logistics.services.runs import dispatch_unrouted_orders
from logistics.services.wave import run_wave
from orders.models import OrderLine, OrderStatus, PickupCode
from orders.services.delivery import sign_for_delivery
from tests.clock import TOMORROW
from tests.leaders.factories import PickupPointFactory

from .conftest import delivery_morning, paid_order

pytestmark = pytest.mark.django_db(transaction=True)


def _raw_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"] or None,
        host=s["HOST"] or None,
        port=s["PORT"] or None,
    )


def _wait_for_blocked_insert(deadline_s: float = 30) -> None:
    """Until a backend waits on a lock inside the wave's line INSERT."""
    end = time.monotonic() + deadline_s
    with connection.cursor() as cursor:
        while time.monotonic() < end:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE %s AND pid <> pg_backend_pid()",
                ["%INSERT INTO logistics_waveline%"],
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the wave build never reached its line INSERT")


def test_a_sign_off_during_the_rebuild_does_not_fail_it(
    clock, make_user, leader_user, point, sku, route, caplog
):
    caplog.set_level("WARNING", logger="tuangou.logistics.wave")
    # A point on no route (its orders leave at 06:00 without a van), whose wave
    # failed in the night: the catch-up build runs in the morning.
    elsewhere = PickupPointFactory(
        warehouse=point.warehouse, name="无线路自提点", leader=point.leader
    )
    carol = make_user("carol", "+8613800000003")
    order = paid_order(carol, elsewhere, (sku, 2))
    wave = Wave.objects.create(
        warehouse=point.warehouse, delivery_date=TOMORROW, status=WaveStatus.FAILED
    )
    clock.move_to(delivery_morning(6))
    dispatch_unrouted_orders(delivery_date=TOMORROW)
    assert not PickupCode.objects.filter(user=carol).exists()
    line = OrderLine.objects.get(order=order)

    holder = _raw_connection()
    holder.execute(
        "INSERT INTO logistics_waveline (wave_id, order_line_id, order_id, user_id,"
        " pickup_point_id, route_id, sku_id, quantity) VALUES (%s, %s, %s, %s, %s, NULL, %s, 1)",
        [wave.pk, line.pk, order.pk, carol.pk, elsewhere.pk, sku.pk],
    )  # uncommitted: the build's INSERT of this key waits for it
    outcome: list = []

    def build() -> None:
        try:
            outcome.append(run_wave(warehouse=point.warehouse, delivery_date=TOMORROW))
        except Exception as exc:  # the result, for the assertions
            outcome.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=build)
    worker.start()
    try:
        _wait_for_blocked_insert()
        # The leader signs meanwhile: the orders are ready, carol's code is made.
        result = sign_for_delivery(
            pickup_point=elsewhere, delivery_date=TOMORROW, actor=leader_user
        )
        assert [o.pk for o in result.ready] == [order.pk]
    finally:
        holder.rollback()
        holder.close()
        worker.join(timeout=60)

    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    # It did meet the conflict, and built again.
    assert [r.getMessage() for r in caplog.records if "building again" in r.getMessage()] == [
        f"wave {wave.pk}: the build met a concurrent write "
        "(could not serialize access due to concurrent update); building again"
    ]
    wave.refresh_from_db()
    assert (wave.status, wave.error) == (WaveStatus.DONE, "")
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP
    # The label and the leader's counter agree: the sign-off's code.
    code = PickupCode.objects.get(user=carol, pickup_point=elsewhere, delivery_date=TOMORROW)
    assert list(wave.labels.values_list("pickup_code", flat=True)) == [code.code]
