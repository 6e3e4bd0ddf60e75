"""Writes of the accounts app."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.crypto import get_random_string

from .models import User


def create_shopper_for_phone(*, phone: str) -> User:
    """A shopper account for a phone number seen for the first time.

    Unverified until the SMS code is entered (allauth verifies the phone when
    the code signs the shopper in). Two requests for one new number at once
    make one account.
    """
    try:
        with transaction.atomic():
            user = User(username=f"u{get_random_string(10).lower()}", phone=phone)
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        return User.objects.get(phone=phone)
