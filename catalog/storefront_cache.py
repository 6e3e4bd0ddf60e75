"""What the storefront shows everyone alike, kept in Redis (the Django cache)
under one version token that every catalog write replaces (issue #11).

Cached: the top categories, the default warehouse and the home page's product
rows (products with their active SKUs and pictures, page by page, with
their cards rendered: catalog/shelf.py). Not cached: stock (sold / left /
sold out change with every order; the pages read it fresh in one query) and
everything about the shopper (pickup point, cart badge, messages).

Products, SKUs, pictures, categories and promises are shared by every
warehouse in this schema (only stock is per warehouse, and stock is read
fresh), so one version covers them all: a per-warehouse key would only add
keys to replace on every product edit.

Invalidation is explicit: `bump()` is called (at once and after commit) by every catalog
service that changes what the cache holds (save_product, set_on_shelf,
save_sku, the picture services) and, for the models the Django admin edits
without a service (categories, warehouses, service promises, product
deletion), by `StorefrontCacheAdmin`'s save/delete hooks. A bump writes a new
token; every entry carries the token it was built under and is used only
while that token is current, so the next read rebuilds it. ENTRY_SECONDS
bounds the staleness after a write that bypassed both (a raw UPDATE in a
shell). A hit costs one round trip (MGET of the token and the entry).

If Redis fails, pages are built from PostgreSQL as if nothing was cached.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

VERSION_KEY = "catalog:storefront:version"
ENTRY_SECONDS = 15 * 60

T = TypeVar("T")


def _new_token() -> str:
    return secrets.token_hex(4)


def version() -> str:
    """The current token (a new one when Redis lost it: everything is rebuilt)."""
    token = cache.get(VERSION_KEY)
    if token is None:
        token = _new_token()
        # add, not set: two requests racing here agree on the first token.
        if not cache.add(VERSION_KEY, token, timeout=None):
            token = cache.get(VERSION_KEY) or token
    return token


def bump() -> None:
    """Forget every cached storefront entry: now, and again once the caller's
    transaction commits.

    Now, so that nobody reads the old entries from this moment; again after
    commit, because a page rebuilt in between read the rows as they were
    before the commit and stored them under the token of the first bump.
    """
    _bump_now()
    transaction.on_commit(_bump_now)


def _bump_now() -> None:
    try:
        cache.set(VERSION_KEY, _new_token(), timeout=None)
    except Exception:
        log.warning("storefront cache: could not replace the version token", exc_info=True)


def cached(name: str, build: Callable[[], T]) -> T:
    """`build()`'s result, built once per version.

    One round trip on a hit: the entry is stored with the token it was built
    under and read together with the current token (MGET); it counts only
    when they match. The token is read before `build()` runs, so a bump
    during the build leaves what is stored unread.
    """
    key = f"catalog:storefront:{name}"
    try:
        found = cache.get_many([VERSION_KEY, key])
        token = found.get(VERSION_KEY) or version()
    except Exception:
        log.warning("storefront cache unavailable", exc_info=True)
        return build()
    entry = found.get(key)
    if entry is not None and entry[0] == token:
        return entry[1]
    value = build()
    try:
        cache.set(key, (token, value), timeout=ENTRY_SECONDS)
    except Exception:
        log.warning("storefront cache: could not store %s", name, exc_info=True)
    return value


def cached_many(builds: dict[str, Callable[[], object]]) -> dict[str, object]:
    """`cached()` for several entries in one round trip: one MGET of the token
    and every entry; the stale or missing ones are built in the order given
    and stored with one more round trip (MSET), only then."""
    keys = {name: f"catalog:storefront:{name}" for name in builds}
    try:
        found = cache.get_many([VERSION_KEY, *keys.values()])
        token = found.get(VERSION_KEY) or version()
    except Exception:
        log.warning("storefront cache unavailable", exc_info=True)
        return {name: build() for name, build in builds.items()}
    values, fresh = {}, {}
    for name, build in builds.items():
        entry = found.get(keys[name])
        if entry is not None and entry[0] == token:
            values[name] = entry[1]
        else:
            values[name] = build()
            fresh[keys[name]] = (token, values[name])
    if fresh:
        try:
            cache.set_many(fresh, timeout=ENTRY_SECONDS)
        except Exception:
            log.warning("storefront cache: could not store %s", list(fresh), exc_info=True)
    return values


class StorefrontCacheAdmin:
    """Admin mixin: a save or delete through the admin replaces the version.

    For the catalog models the admin edits without a service (categories,
    warehouses, service promises) and for deletions; the product admin's
    saves already go through services that bump. List-editable saves and
    the bulk delete action go through these same hooks.
    """

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        bump()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        bump()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        bump()
