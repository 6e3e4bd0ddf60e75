"""The tab bar's cart count, kept in Redis per shopper (issue #11).

Every page a signed-in shopper opens shows the count (templates/base.html);
it changes only when the shopper's cart does. The entry is stored with the
shopper's cart token and read together with it (one MGET); every writer of
cart lines (orders.services.cart, place_order emptying the cart) replaces
the token at once and again after commit (`changed`), so the count is never older than the
last committed change. The token is read before the count is counted: a
change committed meanwhile replaces it and what is stored is never read.
If Redis fails, the count is read from PostgreSQL.

A writer that learns the new count in its own statements (place_order: the
DELETE of the ordered lines returns what is left) stores it instead of
leaving the next page to count again (`changing` / `changed_to`): it puts a
token of its own at once, and after commit, in one Redis step, replaces that
token and stores the count with the new one only if its token is still
there; had any other change of the cart come in between (its token replaced
ours), the token is only replaced, and the next page counts.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

ENTRY_SECONDS = 30 * 60


def _keys(user_id: int) -> tuple[str, str]:
    return f"orders:cart-count:{user_id}", f"orders:cart-token:{user_id}"


def count_for(*, user, load: Callable[..., int]) -> int:
    """`load(user=user)`, from the cache while the shopper's cart is unchanged."""
    entry_key, token_key = _keys(user.pk)
    try:
        found = cache.get_many([entry_key, token_key])
        token = found.get(token_key)
        if token is None:
            token = secrets.token_hex(4)
            if not cache.add(token_key, token, timeout=ENTRY_SECONDS):
                token = cache.get(token_key) or token
    except Exception:  # Redis down: count in PostgreSQL
        log.warning("cart count cache unavailable", exc_info=True)
        return load(user=user)
    entry = found.get(entry_key)
    if entry is not None and entry[0] == token:
        return entry[1]
    count = load(user=user)
    try:
        cache.set(entry_key, (token, count), timeout=ENTRY_SECONDS)
    except Exception:
        log.warning("cart count cache: could not store", exc_info=True)
    return count


_STORE_IF_UNCHANGED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
    redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
    return 1
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
return 0
"""


def changing(*, user_id: int) -> str | None:
    """The cart is about to change and the writer will know the new count:
    a token of the writer's own, now (None: Redis unavailable)."""
    token = secrets.token_hex(4)
    try:
        cache.set(_keys(user_id)[1], token, timeout=ENTRY_SECONDS)
    except Exception:
        log.warning("cart count cache: could not replace %s", user_id, exc_info=True)
        return None
    return token


def changed_to(*, user_id: int, token: str | None, count: int) -> None:
    """After commit: the cart now holds `count` items, unless another change
    replaced `token` meanwhile (then the count is only made stale)."""

    def _store() -> None:
        entry_key, token_key = _keys(user_id)
        new = secrets.token_hex(4)
        try:
            client = cache.client
            client.get_client(write=True).eval(
                _STORE_IF_UNCHANGED,
                2,
                client.make_key(token_key),
                client.make_key(entry_key),
                client.encode(token),
                client.encode(new),
                client.encode((new, count)),
                ENTRY_SECONDS,
            )
        except Exception:
            # Not django-redis (a local cache) or Redis down: count next time.
            try:
                cache.set(token_key, new, timeout=ENTRY_SECONDS)
            except Exception:
                log.warning("cart count cache: could not replace %s", user_id, exc_info=True)

    if token is None:
        changed(user_id=user_id)
    else:
        transaction.on_commit(_store)


def changed(*, user_id: int) -> None:
    """The shopper's cart lines changed: a new token now, and again once the
    transaction commits (a count read in between saw the old lines)."""

    def _replace() -> None:
        try:
            cache.set(_keys(user_id)[1], secrets.token_hex(4), timeout=ENTRY_SECONDS)
        except Exception:
            log.warning("cart count cache: could not replace %s", user_id, exc_info=True)

    _replace()
    if transaction.get_connection().in_atomic_block:
        # Outside a transaction the change is committed already: once is enough.
        transaction.on_commit(_replace)
