"""The admission gate in front of a stock row (catalog/gate.py), on real Redis.

Threads start together on a threading.Barrier; an admitted thread holds its
slot until the test releases it (an Event), so what is counted is what the
gate let in at the same time, not what a sleep happened to overlap.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from catalog import gate
from catalog.gate import StockGateBusy, gate_load, stock_gate


@pytest.fixture
def cap(settings):
    settings.ORDER_GATE_PER_SKU = 3
    settings.ORDER_GATE_WAIT_MS = 10_000
    return 3


def test_the_gate_never_lets_more_than_its_cap_in(cap):
    buyers = 12
    barrier = threading.Barrier(buyers)
    release = threading.Event()
    state = {"inside": 0, "peak": 0, "done": 0}
    changed = threading.Condition()

    def buyer():
        barrier.wait(timeout=10)
        with stock_gate(warehouse_id=1, sku_ids=[7]):
            with changed:
                state["inside"] += 1
                state["peak"] = max(state["peak"], state["inside"])
                changed.notify_all()
            release.wait(timeout=10)
            with changed:
                state["inside"] -= 1
                state["done"] += 1
                changed.notify_all()

    with ThreadPoolExecutor(max_workers=buyers) as pool:
        futures = [pool.submit(buyer) for _ in range(buyers)]
        with changed:
            assert changed.wait_for(lambda: state["inside"] == cap, timeout=10)
        # Full: the others wait outside; Redis holds exactly `cap` slots.
        assert gate_load(warehouse_id=1, sku_id=7) == cap
        with changed:
            assert state["inside"] == cap
        release.set()
        for future in futures:
            future.result(timeout=20)
    assert state == {"inside": 0, "peak": cap, "done": buyers}
    assert gate_load(warehouse_id=1, sku_id=7) == 0


def test_a_full_gate_refuses_quickly_and_keeps_nothing(settings):
    settings.ORDER_GATE_PER_SKU = 1
    settings.ORDER_GATE_WAIT_MS = 50
    with stock_gate(warehouse_id=1, sku_ids=[7]):
        started = time.monotonic()
        with pytest.raises(StockGateBusy) as refused, stock_gate(warehouse_id=1, sku_ids=[7]):
            pytest.fail("the gate let a second order in")
        assert time.monotonic() - started < 1
        assert refused.value.sku_id == 7
        assert str(refused.value.message) == "人太多了，请稍后再试"
        assert gate_load(warehouse_id=1, sku_id=7) == 1
    assert gate_load(warehouse_id=1, sku_id=7) == 0


def test_a_refusal_on_a_second_sku_leaves_the_first_gate(settings):
    settings.ORDER_GATE_PER_SKU = 1
    settings.ORDER_GATE_WAIT_MS = 0
    with stock_gate(warehouse_id=1, sku_ids=[9]):
        with pytest.raises(StockGateBusy), stock_gate(warehouse_id=1, sku_ids=[8, 9]):
            pytest.fail("the gate let a second order in")
        assert gate_load(warehouse_id=1, sku_id=8) == 0
        assert gate_load(warehouse_id=1, sku_id=9) == 1


def test_an_error_inside_leaves_the_gate(cap):
    with pytest.raises(RuntimeError), stock_gate(warehouse_id=1, sku_ids=[7, 8]):
        assert gate_load(warehouse_id=1, sku_id=7) == 1
        raise RuntimeError("the order failed")
    assert gate_load(warehouse_id=1, sku_id=7) == gate_load(warehouse_id=1, sku_id=8) == 0


def test_a_slot_of_a_process_that_died_frees_itself(settings):
    settings.ORDER_GATE_PER_SKU = 1
    settings.ORDER_GATE_WAIT_MS = 0
    client = gate._redis()
    seconds, micros = client.time()
    stale_ms = seconds * 1000 + micros // 1000 - (gate.SLOT_SECONDS + 1) * 1000
    client.zadd(gate.gate_key(warehouse_id=1, sku_id=7), {"killed-worker": stale_ms})
    with stock_gate(warehouse_id=1, sku_ids=[7]):
        assert gate_load(warehouse_id=1, sku_id=7) == 1


def test_without_redis_the_gate_lets_orders_through(settings, monkeypatch):
    settings.ORDER_GATE_PER_SKU = 1

    def down():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(gate, "_redis", down)
    with stock_gate(warehouse_id=1, sku_ids=[7]), stock_gate(warehouse_id=1, sku_ids=[7]):
        pass


def test_a_redis_failure_mid_way_lets_the_order_through(settings, monkeypatch):
    settings.ORDER_GATE_PER_SKU = 1

    def failing(*args, **kwargs):
        raise ConnectionError("redis went away")

    monkeypatch.setattr(gate, "_try_enter", failing)
    with stock_gate(warehouse_id=1, sku_ids=[7]):
        pass


def test_a_cap_of_zero_turns_the_gate_off(settings, monkeypatch):
    settings.ORDER_GATE_PER_SKU = 0
    monkeypatch.setattr(gate, "_redis", lambda: pytest.fail("Redis asked with the gate off"))
    with stock_gate(warehouse_id=1, sku_ids=[7]):
        pass
