"""The signed-in user, kept in Redis between requests (issue #11).

Every signed-in request loaded the user row (AuthenticationMiddleware →
the session's backend → `get_user`): five of the order flow's statements.
The row changes rarely, so `AuthenticationMiddleware` below reads it from the
Django cache, checked in the same round trip (one MGET) against two tokens:

- the user's own token, replaced at once and again after commit on every
  save or delete of that user (post_save/post_delete receivers connected by
  AccountsConfig.ready: allauth's, django-axes' and the admin's writes all go
  through `save()`), and on a change of their groups or permissions;
- the users' token, replaced by a bulk write on the user table
  (`UserQuerySet.update`/`delete`/`bulk_update`: no post_save is sent there).

The token is read before the row is loaded: a write committed meanwhile
replaces it, so what is stored below is never read. Everything Django checks
after loading still runs on every request, on the cached row as on a fresh
one: the backend's `get_user` result is what is cached (None for an inactive
user: `is_active` set to False signs them out on their next request), the
session's password hash is compared to the row's (a password change signs
the other sessions out), a logout flushes the session. Password logins
(django-axes' lockout) never read this cache.

Redis down: the row is read from PostgreSQL (the degrading cache misses).
An entry lives ENTRY_SECONDS at most, which bounds how long a write whose
token replacement was lost in a Redis outage can go unseen.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import middleware as auth_middleware
from django.core.cache import cache
from django.db import transaction
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

log = logging.getLogger(__name__)

USERS_VERSION_KEY = "accounts:users:version"
ENTRY_SECONDS = 5 * 60


def _keys(user_id) -> tuple[str, str]:
    return f"accounts:user:{user_id}", f"accounts:user-token:{user_id}"


def _token(found: dict, key: str) -> str:
    token = found.get(key)
    if token is None:
        token = secrets.token_hex(4)
        if not cache.add(key, token, timeout=None if key == USERS_VERSION_KEY else ENTRY_SECONDS):
            token = cache.get(key) or token
    return token


def load_user(*, backend_path: str, user_id, load):
    """`load(user_id)` (the backend's get_user: the user or None), from the
    cache while neither token changed."""
    entry_key, token_key = _keys(user_id)
    try:
        found = cache.get_many([entry_key, token_key, USERS_VERSION_KEY])
        stamp = (_token(found, token_key), _token(found, USERS_VERSION_KEY), backend_path)
    except Exception:
        log.warning("user cache unavailable", exc_info=True)
        return load(user_id)
    entry = found.get(entry_key)
    if entry is not None and entry[0] == stamp:
        return entry[1]
    user = load(user_id)
    try:
        cache.set(entry_key, (stamp, user), timeout=ENTRY_SECONDS)
    except Exception:
        log.warning("user cache: could not store", exc_info=True)
    return user


def _replace(key: str, timeout) -> None:
    try:
        cache.set(key, secrets.token_hex(4), timeout=timeout)
    except Exception:
        log.warning("user cache: could not replace %s", key, exc_info=True)


def changed(*, user_id) -> None:
    """This user's row changed: their cached row is stale now and again once
    the transaction commits (a load in between still saw the old row)."""
    key = _keys(user_id)[1]
    _replace(key, ENTRY_SECONDS)
    if transaction.get_connection().in_atomic_block:  # else committed already
        transaction.on_commit(lambda: _replace(key, ENTRY_SECONDS))


def all_changed() -> None:
    """A bulk write on the user table: every cached row is stale."""
    _replace(USERS_VERSION_KEY, None)
    if transaction.get_connection().in_atomic_block:  # else committed already
        transaction.on_commit(lambda: _replace(USERS_VERSION_KEY, None))


# --- receivers (connected by AccountsConfig.ready) -----------------------------------


def on_user_saved(sender, instance, **kwargs) -> None:
    changed(user_id=instance.pk)


def on_user_deleted(sender, instance, **kwargs) -> None:
    changed(user_id=instance.pk)


def on_user_relations_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if reverse:  # group.user_set.add(...): the users are in pk_set (None: cleared)
        if pk_set is None:
            all_changed()
        else:
            for pk in pk_set:
                changed(user_id=pk)
    else:
        changed(user_id=instance.pk)


# --- the middleware ----------------------------------------------------------------


def get_user(request):
    """django.contrib.auth.get_user, with the backend's get_user from the cache."""
    from django.contrib.auth.models import AnonymousUser

    user = None
    try:
        user_id = auth._get_user_session_key(request)
        backend_path = request.session[auth.BACKEND_SESSION_KEY]
    except KeyError:
        pass
    else:
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            backend = auth.load_backend(backend_path)
            user = load_user(backend_path=backend_path, user_id=user_id, load=backend.get_user)
            # Verify the session, as Django does.
            if hasattr(user, "get_session_auth_hash"):
                session_hash = request.session.get(auth.HASH_SESSION_KEY)
                session_auth_hash = user.get_session_auth_hash()
                verified = bool(session_hash) and constant_time_compare(
                    session_hash, session_auth_hash
                )
                if not verified:
                    if session_hash and any(
                        constant_time_compare(session_hash, fallback)
                        for fallback in user.get_session_auth_fallback_hash()
                    ):
                        request.session.cycle_key()
                        request.session[auth.HASH_SESSION_KEY] = session_auth_hash
                    else:
                        request.session.flush()
                        user = None
    return user or AnonymousUser()


def _cached_get_user(request):
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)
    return request._cached_user


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, with the user from the cache (request.auser stays Django's)."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _cached_get_user(request))
