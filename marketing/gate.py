"""The 秒杀 Redis gate: admission to a hot flash sale without touching PostgreSQL.

A flash-sale item in a Redis-gated session is "armed" in Redis as four keys:

    flash:{item}:cfg     hash  start, end (epoch ms), limit (units per shopper)
    flash:{item}:left    int   units the gate may still hand out
    flash:{item}:buyers  hash  user id -> units admitted (one entry per shopper, ever)
    flash:{item}:held    zset  user id -> admitted-at (ms), until the order commits

({item} is a hash tag: one Cluster slot per item.) The keys expire two days
after the session ends.

One Lua script (ADMIT) checks the time window, the per-shopper limit, the
buyer set and the quota, and takes the units and records the buyer, all in one
atomic step inside Redis: two thousand shoppers pressing 抢购 at once are
answered one at a time by Redis, with no database row, lock or connection
involved. A refusal costs one Redis round trip.

An admitted shopper then writes the order through PostgreSQL
(marketing.services.flash.record_purchase inside the order's transaction);
after the commit CONFIRM drops the hold; if the order fails RELEASE gives the
units back. A hold never confirmed nor released (a shopper who left the
checkout page) is given back by the reconciliation (REPAIR), which also
rewrites the counters from the database's FlashPurchase rows.

Every call raises GateUnavailable when Redis cannot be reached (a closed port,
a timeout): the caller falls back to database mode instead of failing.
Times are passed in by the caller (the app's clock), never read from Redis.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import redis
from django.conf import settings
from django.utils import timezone

# Answers of ADMIT (>= 0 is "admitted, this many left").
NOT_ARMED = -1
NOT_STARTED = -2
ENDED = -3
OVER_LIMIT = -4
ALREADY_BOUGHT = -5
HOLDING = -6  # admitted before and not yet ordered: the same admission again
SOLD_OUT = -7

ADMIT = """
local cfg = redis.call('HMGET', KEYS[1], 'start', 'end', 'limit')
if not cfg[1] then return {-1, 0} end
local now = tonumber(ARGV[3])
local qty = tonumber(ARGV[2])
if now < tonumber(cfg[1]) then return {-2, tonumber(cfg[1])} end
if now >= tonumber(cfg[2]) then return {-3, 0} end
local bought = redis.call('HGET', KEYS[3], ARGV[1])
if bought then
  if redis.call('ZSCORE', KEYS[4], ARGV[1]) then return {-6, tonumber(bought)} end
  return {-5, tonumber(bought)}
end
if qty > tonumber(cfg[3]) then return {-4, tonumber(cfg[3])} end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
if left < qty then return {-7, left} end
redis.call('DECRBY', KEYS[2], qty)
redis.call('HSET', KEYS[3], ARGV[1], qty)
redis.call('ZADD', KEYS[4], now, ARGV[1])
-- A TTL relative to the app's clock (ARGV[3]), never Redis's own.
local ttl = tonumber(cfg[2]) - now + 172800000
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
return {left - qty, qty}
"""

# Give a hold back (the order failed): only while it is still held, so a
# second call, or a call after the order committed, changes nothing.
RELEASE = """
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return 0 end
local qty = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('HDEL', KEYS[2], ARGV[1])
if qty > 0 then redis.call('INCRBY', KEYS[1], qty) end
return qty
"""

# A purchase committed in PostgreSQL: the hold becomes a purchase.
CONFIRM = """
return redis.call('ZREM', KEYS[1], ARGV[1])
"""

# An order that was bought and then cancelled unpaid: the shopper and the
# units leave the gate (only if the shopper is there and not held).
GIVE_BACK = """
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
local qty = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if qty == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('INCRBY', KEYS[1], qty)
return qty
"""

# Reconciliation, step 3 (see marketing.services.flash.reconcile_item):
# ARGV = quota, sold in the database, then pairs (user, units) of the
# database's purchases, then "|" and the users to drop (stale holds and
# orphans, decided on a snapshot taken before the database was read).
# Dropping is conditional on the entry being as the snapshot saw it; `left`
# is recomputed here, at the moment of writing, from the database's sold
# plus every buyer the database does not know yet (a hold, or an order that
# committed after the read): so no unit is ever counted twice or lost.
REPAIR = """
local quota = tonumber(ARGV[1])
local sold = tonumber(ARGV[2])
local known = {}
local i = 3
local added, dropped = 0, 0
while ARGV[i] ~= '|' do
  local user, qty = ARGV[i], ARGV[i + 1]
  known[user] = true
  if redis.call('HGET', KEYS[2], user) ~= qty then
    redis.call('HSET', KEYS[2], user, qty)
    added = added + 1
  end
  redis.call('ZREM', KEYS[3], user)
  i = i + 2
end
i = i + 1
while ARGV[i] do
  local user, held_at = ARGV[i], ARGV[i + 1]
  if not known[user] then
    local score = redis.call('ZSCORE', KEYS[3], user)
    if (held_at == '-' and not score) or (score and score == held_at) then
      redis.call('HDEL', KEYS[2], user)
      redis.call('ZREM', KEYS[3], user)
      dropped = dropped + 1
    end
  end
  i = i + 2
end
local outstanding = 0
local all = redis.call('HGETALL', KEYS[2])
for j = 1, #all, 2 do
  if not known[all[j]] then outstanding = outstanding + tonumber(all[j + 1]) end
end
local before = tonumber(redis.call('GET', KEYS[1]) or '-1')
local left = quota - sold - outstanding
if left < 0 then left = 0 end
redis.call('SET', KEYS[1], left, 'KEEPTTL')
return {before, left, added, dropped}
"""

SNAPSHOT = """
return {redis.call('HGETALL', KEYS[1]), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'),
        redis.call('GET', KEYS[3]), redis.call('EXISTS', KEYS[4])}
"""


class GateUnavailable(Exception):
    """Redis could not be reached: the caller falls back to database mode."""


@dataclass(frozen=True)
class GateAnswer:
    code: int  # >= 0: admitted (units left after it); < 0: one of the refusals above
    units: int  # admitted units, the shopper's earlier units, the limit or what is left

    @property
    def is_admitted(self) -> bool:
        return self.code >= 0


# Keys of an item live two days past its end, then Redis forgets them.
KEEP_AFTER_END_MS = 2 * 24 * 3600 * 1000


def keys(item_id: int) -> dict[str, str]:
    # The braces are a hash tag: on a Redis Cluster all four keys of an item
    # sit in one slot, as a multi-key Lua script requires.
    base = f"flash:{{{item_id}}}"
    return {
        "cfg": f"{base}:cfg",
        "left": f"{base}:left",
        "buyers": f"{base}:buyers",
        "held": f"{base}:held",
    }


_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def gate_url() -> str:
    return getattr(settings, "FLASH_GATE_REDIS_URL", "") or settings.REDIS_URL


def client() -> redis.Redis:
    """One connection pool per URL and process (a closed port fails in ~0.2 s)."""
    url = gate_url()
    found = _clients.get(url)
    if found is None:
        with _lock:
            found = _clients.get(url)
            if found is None:
                found = redis.Redis.from_url(
                    url, socket_connect_timeout=0.2, socket_timeout=1.0, decode_responses=True
                )
                found.scripts = {  # type: ignore[attr-defined]
                    name: found.register_script(source)
                    for name, source in (
                        ("admit", ADMIT),
                        ("release", RELEASE),
                        ("confirm", CONFIRM),
                        ("give_back", GIVE_BACK),
                        ("repair", REPAIR),
                        ("snapshot", SNAPSHOT),
                    )
                }
                _clients[url] = found
    return found


def _run(name: str, keys_: list[str], args: list) -> object:
    conn = client()
    try:
        return conn.scripts[name](keys=keys_, args=args)  # type: ignore[attr-defined]
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise GateUnavailable(str(exc)) from exc


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def arm(*, item_id: int, starts_at, ends_at, limit: int, left: int) -> None:
    """Load an item into the gate (its window, limit and units left). Idempotent:
    `left` is written only when the item is not armed yet (REPAIR sets it after)."""
    k = keys(item_id)
    conn = client()
    try:
        pipe = conn.pipeline()
        pipe.hset(k["cfg"], mapping={"start": _ms(starts_at), "end": _ms(ends_at), "limit": limit})
        pipe.set(k["left"], left, nx=True)
        # Relative to the app's clock, not Redis's (tests and faketime move it).
        ttl = max(_ms(ends_at) - _ms(timezone.now()), 0) + KEEP_AFTER_END_MS
        pipe.pexpire(k["cfg"], ttl)
        pipe.pexpire(k["left"], ttl)
        pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise GateUnavailable(str(exc)) from exc


def disarm(*, item_id: int) -> None:
    try:
        client().delete(*keys(item_id).values())
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise GateUnavailable(str(exc)) from exc


def admit(*, item_id: int, user_id: int, quantity: int, now) -> GateAnswer:
    k = keys(item_id)
    code, units = _run(  # type: ignore[misc]
        "admit", [k["cfg"], k["left"], k["buyers"], k["held"]], [user_id, quantity, _ms(now)]
    )
    return GateAnswer(int(code), int(units))


def release(*, item_id: int, user_id: int) -> int:
    """Give back a hold that did not become an order; returns the units given back (0: none)."""
    k = keys(item_id)
    return int(_run("release", [k["left"], k["buyers"], k["held"]], [user_id]))  # type: ignore[arg-type]


def confirm(*, item_id: int, user_id: int) -> None:
    _run("confirm", [keys(item_id)["held"]], [user_id])


def give_back(*, item_id: int, user_id: int) -> int:
    k = keys(item_id)
    return int(_run("give_back", [k["left"], k["buyers"], k["held"]], [user_id]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Snapshot:
    buyers: dict[str, int]
    held: dict[str, str]  # user -> score as Redis prints it
    left: int | None
    is_armed: bool


def snapshot(*, item_id: int) -> Snapshot:
    k = keys(item_id)
    buyers, held, left, armed = _run(  # type: ignore[misc]
        "snapshot", [k["buyers"], k["held"], k["left"], k["cfg"]], []
    )
    return Snapshot(
        buyers={buyers[i]: int(buyers[i + 1]) for i in range(0, len(buyers), 2)},
        held={held[i]: str(held[i + 1]) for i in range(0, len(held), 2)},
        left=None if left is None else int(left),
        is_armed=bool(armed),
    )


def repair(
    *, item_id: int, quota: int, sold: int, purchases: dict[int, int], drop: dict[str, str]
) -> tuple[int, int, int, int]:
    """Rewrite the item's counters from the database: (left before, left after,
    buyers added, entries dropped). `drop`: user -> the held score the snapshot
    saw, or "-" for an orphan (a buyer neither held nor in the database)."""
    k = keys(item_id)
    args: list = [quota, sold]
    for user_id, units in sorted(purchases.items()):
        args += [str(user_id), str(units)]
    args.append("|")
    for user, held_at in sorted(drop.items()):
        args += [user, held_at]
    before, after, added, dropped = _run("repair", [k["left"], k["buyers"], k["held"]], args)  # type: ignore[misc]
    return int(before), int(after), int(added), int(dropped)
