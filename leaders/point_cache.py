"""The shopper's pickup point, kept in Redis between requests (issue #11).

Every signed-in page and every step of an order needs the shopper's point
with its warehouse, leader and upcoming paused days
(`selectors.pickup_point_for_shopper`: three joins and two subqueries, 16% of
a worker's CPU in the issue's profile). It changes rarely, so it is read from
the Django cache and checked in the same round trip (one MGET) against:

- `POINTS_VERSION_KEY`, a token replaced (at once and after commit) by every leaders
  service that changes what the entry holds (a point's status, name, hours
  or address, a leader suspended or reactivated, a day paused or resumed)
  and by the leaders admin's save/delete hooks (`PointCacheAdmin`);
- the catalog's storefront token (catalog.storefront_cache), which the
  warehouse admin replaces: the point carries its warehouse's cutoff;
- the shopper's local day: the paused-days annotation is relative to today.

A shopper's own entry is deleted (at once and after commit) when their binding changes
(`forget`, called by `_bind`). If Redis fails, the point is read from
PostgreSQL as before.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

from catalog import storefront_cache
from tuangou import timeutils

log = logging.getLogger(__name__)

POINTS_VERSION_KEY = "leaders:points:version"
ENTRY_SECONDS = 30 * 60


def _entry_key(user_id: int) -> str:
    return f"leaders:shopper-point:{user_id}"


def point_for_shopper(*, user, load: Callable):
    """`load(user=user)` (the shopper's point or None), from the cache when still valid."""
    key = _entry_key(user.pk)
    try:
        found = cache.get_many([key, POINTS_VERSION_KEY, storefront_cache.VERSION_KEY])
        # The tokens are read before the point is loaded: a change committed
        # meanwhile replaces them, so what is stored below is never read.
        stamp = (
            found.get(POINTS_VERSION_KEY) or _ensure_token(),
            found.get(storefront_cache.VERSION_KEY) or storefront_cache.version(),
            timeutils.local_today(),
        )
    except Exception:
        log.warning("pickup point cache unavailable", exc_info=True)
        return load(user=user)
    entry = found.get(key)
    if entry is not None and entry[0] == stamp:
        return entry[1]
    point = load(user=user)
    try:
        cache.set(key, (stamp, point), timeout=ENTRY_SECONDS)
    except Exception:
        log.warning("pickup point cache: could not store", exc_info=True)
    return point


def _ensure_token() -> str:
    token = secrets.token_hex(4)
    if not cache.add(POINTS_VERSION_KEY, token, timeout=None):
        token = cache.get(POINTS_VERSION_KEY) or token
    return token


def bump() -> None:
    """Every cached point is stale: now, and again once the caller's
    transaction commits (a point read in between still had the old rows)."""
    _bump_now()
    if transaction.get_connection().in_atomic_block:  # else committed already
        transaction.on_commit(_bump_now)


def _bump_now() -> None:
    try:
        cache.set(POINTS_VERSION_KEY, secrets.token_hex(4), timeout=None)
    except Exception:
        log.warning("pickup point cache: could not replace the version token", exc_info=True)


def forget(*, user_id: int) -> None:
    """The shopper's binding changed: drop their entry now and after commit."""

    def _forget() -> None:
        try:
            cache.delete(_entry_key(user_id))
        except Exception:
            log.warning("pickup point cache: could not forget %s", user_id, exc_info=True)

    _forget()
    if transaction.get_connection().in_atomic_block:  # else committed already
        transaction.on_commit(_forget)


class PointCacheAdmin:
    """Admin mixin: a save or delete through the admin makes every cached point stale."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        bump()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        bump()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        bump()
