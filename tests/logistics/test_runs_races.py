"""Two taps at once on real PostgreSQL: the van departs once, a stop is handed over once.

Threads start together on a Barrier; each uses its own database connection.
"""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import connection

from logistics.models import RunStatus, StopStatus
from logistics.services.runs import RunError, depart_run, hand_over_stop
from orders.models import Notice, OrderEvent, OrderStatus
from tests.clock import TOMORROW

from .conftest import delivery_morning, paid_order
from .runs_support import make_run, stops_of

pytestmark = pytest.mark.django_db(transaction=True)


def _together(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work()
        except Exception as exc:  # the result, for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.fixture
def run(clock, shopper, other_shopper, point, other_pickup_point, sku, route):
    paid_order(shopper, point, (sku, 2))
    paid_order(other_shopper, other_pickup_point, (sku, 1))
    made = make_run(route, TOMORROW)
    clock.move_to(delivery_morning(6))
    return made


def test_two_departures_at_once_dispatch_the_orders_once(run, driver):
    results = _together(2, lambda: depart_run(run=run, driver=driver).dispatched_count)
    assert sorted(results) == [0, 2]
    run.refresh_from_db()
    assert run.status == RunStatus.DEPARTED
    assert OrderEvent.objects.filter(to_status=OrderStatus.IN_DELIVERY).count() == 2
    assert Notice.objects.filter(kind="in_delivery").count() == 2


def test_two_hand_overs_at_once_text_the_leader_once(run, driver, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    depart_run(run=run, driver=driver)
    first = stops_of(run)[0]
    results = _together(2, lambda: hand_over_stop(stop=first, driver=driver).status)
    assert results == [StopStatus.HANDED_OVER, StopStatus.HANDED_OVER]
    sms = [r.getMessage() for r in caplog.records if r.name == "tuangou.sms"]
    assert len(sms) == 1
    assert "[delivery_arrived]" in sms[0]


def test_the_last_two_stops_at_once_finish_the_run_once(run, driver):
    depart_run(run=run, driver=driver)
    first, second = stops_of(run)
    stops = iter([first, second])
    lock = threading.Lock()

    def next_stop():
        with lock:
            return next(stops)

    results = _together(2, lambda: hand_over_stop(stop=next_stop(), driver=driver).status)
    assert not [r for r in results if isinstance(r, RunError | Exception)]
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED
    assert run.finished_at == delivery_morning(6)
