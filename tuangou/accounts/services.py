"""Writes of the accounts app."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils.crypto import constant_time_compare, get_random_string, salted_hmac

from .models import User

# --- a number we have not seen yet: its code waits here, not in the user table ---
#
# Asking for a code creates nothing in the database (a stranger asking for
# codes for many numbers must not fill the user table): the new number and a
# keyed hash of its code wait in the cache for LOGIN_BY_CODE_TIMEOUT; the
# account is created when the code is entered (create_shopper_for_verified_phone).

_PENDING_SALT = "tuangou.accounts.pending-sign-up"


def _pending_key(phone: str) -> str:
    return f"sms:pending-sign-up:{phone}"


def _code_hash(*, phone: str, code: str) -> str:
    return salted_hmac(_PENDING_SALT, f"{phone}:{code}", algorithm="sha256").hexdigest()


def issue_pending_code(*, phone: str) -> str:
    """A new sign-up code for a number without an account (replaces the last one)."""
    from allauth.account import app_settings
    from allauth.core.internal.cryptokit import generate_user_code

    code = generate_user_code(**app_settings.PHONE_VERIFICATION_CODE_FORMAT)
    cache.set(
        _pending_key(phone),
        {"hash": _code_hash(phone=phone, code=code), "at": time.time()},
        settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT,
    )
    return code


def pending_code_matches(*, phone: str, code: str) -> bool:
    """True when `code` is the live sign-up code last sent to `phone`."""
    pending = cache.get(_pending_key(phone))
    if not pending or not code:
        return False
    if time.time() - pending["at"] > settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT:
        return False
    return constant_time_compare(pending["hash"], _code_hash(phone=phone, code=code.strip()))


def create_shopper_for_verified_phone(*, phone: str) -> User:
    """The shopper account of a number whose code was just entered (its phone
    verified). The pending code is used up. Two verifications of one new number
    at once make one account: the loser of the unique phone gets the winner's."""
    cache.delete(_pending_key(phone))
    try:
        with transaction.atomic():
            user = User(
                username=f"u{get_random_string(10).lower()}", phone=phone, phone_verified=True
            )
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        user = User.objects.get(phone=phone)
        if not user.phone_verified:
            User.objects.filter(pk=user.pk).update(phone_verified=True)
            user.phone_verified = True
        return user
