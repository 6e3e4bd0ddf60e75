"""The admission gate in front of a stock row (issue #11).

A hot SKU's stock row is locked by every order's conditional UPDATE until
COMMIT; PostgreSQL serves the waiters of one row worse the more there are
(pgbench's hot row: 2,818 transactions/s at 8 clients, 1,059 at 64 on this
box). The gate lets at most `ORDER_GATE_PER_SKU` transactions per SKU and
warehouse into that queue at once. The others wait *outside* the database,
polling the gate for up to `ORDER_GATE_WAIT_MS`, then give up with
`StockGateBusy` ("人太多了，请稍后再试"), which checkout answers with 429 and
Retry-After: a quick, clean refusal instead of a request stuck behind the
row lock until it times out. Nothing is written before the gate admits.

The gate is a Redis sorted set per (warehouse, SKU) holding one member per
admitted transaction, scored by the Redis server's clock. One Lua script
drops members older than `SLOT_SECONDS` (a worker killed inside its
transaction frees its slot by itself), counts, and admits only below the
cap; leaving removes the member (in a `finally`). Each admission and each
release is one round trip.

The slot is left when `place_order`'s own transaction has committed; a
caller that wraps `place_order` in a transaction of its own (the 秒杀 path
records the purchase in it) keeps the row locked a little past the slot.

If Redis cannot be reached the gate lets every request through (logged): the
stock UPDATE's own condition still keeps stock from going below zero, the
gate only keeps the queue on the row short. `ORDER_GATE_PER_SKU = 0` turns
the gate off.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)

# Longer than any order transaction: a slot older than this belonged to a
# process that died inside its transaction.
SLOT_SECONDS = 10

_ENTER = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0
"""


class StockGateBusy(Exception):
    """Too many orders on this SKU at this moment: try again in a second."""

    message = _("Too many people are buying this right now. Please try again in a moment.")

    def __init__(self, sku_id: int):
        super().__init__(f"stock gate full for SKU {sku_id}")
        self.sku_id = sku_id


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


_scripts: dict[int, object] = {}


def _enter_script(client):
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_ENTER)
    return script


def gate_key(*, warehouse_id: int, sku_id: int) -> str:
    # Under the cache's key prefix: the project's other Redis keys live there.
    from django.core.cache import cache

    return cache.make_key(f"catalog:stock-gate:{warehouse_id}:{sku_id}")


def _try_enter(client, key: str, token: str, cap: int) -> bool:
    admitted = _enter_script(client)(keys=[key], args=[cap, SLOT_SECONDS * 1000, token])
    return bool(admitted)


@contextmanager
def stock_gate(*, warehouse_id: int, sku_ids: Iterable[int]) -> Iterator[None]:
    """Hold one slot of each SKU's gate while the block runs (the order's
    transaction, up to its COMMIT); raise StockGateBusy when a gate stays
    full for the whole wait. Gates are entered in SKU order, as the stock
    rows are locked, and all left in `finally`."""
    cap = settings.ORDER_GATE_PER_SKU
    ids = sorted(set(sku_ids))
    if cap <= 0 or not ids:
        yield
        return
    try:
        client = _redis()
    except Exception:  # Redis unreachable: let the order through
        log.warning("stock gate: Redis unavailable, letting the order through", exc_info=True)
        yield
        return
    token = secrets.token_hex(8)
    held: list[str] = []
    try:
        deadline = time.monotonic() + settings.ORDER_GATE_WAIT_MS / 1000
        for sku_id in ids:
            key = gate_key(warehouse_id=warehouse_id, sku_id=sku_id)
            pause = 0.002
            while True:
                try:
                    admitted = _try_enter(client, key, token, cap)
                except Exception:  # Redis failed mid-way: let the order through
                    log.warning(
                        "stock gate: Redis failed, letting the order through", exc_info=True
                    )
                    admitted = True
                    key = ""
                if admitted:
                    if key:
                        held.append(key)
                    break
                if time.monotonic() + pause > deadline:
                    raise StockGateBusy(sku_id)
                # Jittered backoff: the waiters do not poll Redis in step.
                time.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 0.032)
        yield
    finally:
        if held:
            try:
                pipe = client.pipeline(transaction=False)
                for key in held:
                    pipe.zrem(key, token)
                pipe.execute()
            except Exception:  # the slots expire by themselves after SLOT_SECONDS
                log.warning("stock gate: could not leave %s", held, exc_info=True)


def gate_load(*, warehouse_id: int, sku_id: int) -> int:
    """How many transactions hold the SKU's gate now (for tests and monitoring)."""
    return int(_redis().zcard(gate_key(warehouse_id=warehouse_id, sku_id=sku_id)))
