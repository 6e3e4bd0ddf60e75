"""Accounts are created only after the SMS code is verified (issue #15, security 1),
and SMS code entry is capped per phone (security 2)."""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from tuangou.accounts import services
from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db

CONFIRM = "account_confirm_login_code"
REQUEST = "account_request_login_code"


def _codes(caplog, phone: str) -> list[str]:
    return [
        m.group(1)
        for r in caplog.records
        if r.name == "tuangou.sms" and phone in r.getMessage()
        for m in [re.search(r"code=(\d{6})\b", r.getMessage())]
        if m
    ]


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1000000:06d}"


@pytest.fixture
def generous_code_requests(settings):
    """Code requests limited only loosely, so the tests reach what they test."""
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "request_login_code": "1000/h/ip,100/m/key",
    }


def test_codes_for_50_new_numbers_create_no_account(client, caplog, generous_code_requests):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    before = User.objects.count()
    for n in range(50):
        response = Client().post(reverse(REQUEST), {"phone": f"1370000{n:04d}"})
        assert response.status_code == 302
        assert response["Location"] == reverse(CONFIRM)
    assert User.objects.count() == before == 0
    # Each number did get its code, and the cache holds only its hash.
    assert all(len(_codes(caplog, f"+861370000{n:04d}")) == 1 for n in range(50))
    code = _codes(caplog, "+8613700000007")[0]
    pending = cache.get("sms:pending-sign-up:+8613700000007")
    assert set(pending) == {"hash", "at"}
    assert code not in repr(pending)


def test_the_right_code_creates_exactly_one_verified_account(client, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    client.post(reverse(REQUEST), {"phone": "13700001111"})
    [code] = _codes(caplog, "+8613700001111")
    wrong = client.post(reverse(CONFIRM), {"code": _wrong(code)})
    assert wrong.status_code == 200
    assert "验证码错误或已过期" in wrong.content.decode()
    assert User.objects.count() == 0

    response = client.post(reverse(CONFIRM), {"code": code})
    assert response.status_code == 302
    [user] = User.objects.all()
    assert (user.phone, user.phone_verified, user.has_usable_password()) == (
        "+8613700001111",
        True,
        False,
    )
    assert client.session["_auth_user_id"] == str(user.pk)
    # The code is used up: the next sign-in needs a new one, and makes no new account.
    other = Client()
    other.post(reverse(REQUEST), {"phone": "13700001111"})
    assert User.objects.count() == 1


def test_a_new_numbers_code_expires_and_then_creates_nothing(client, caplog, clock):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    client.post(reverse(REQUEST), {"phone": "13700002222"})
    [code] = _codes(caplog, "+8613700002222")
    clock.shift(timedelta(minutes=5, seconds=1))
    response = client.post(reverse(CONFIRM), {"code": code})
    assert "_auth_user_id" not in client.session
    assert response.status_code == 302  # allauth: the timed-out code page starts over
    assert response["Location"] == reverse(REQUEST)
    assert User.objects.count() == 0


def test_a_new_number_can_ask_again_and_only_the_newest_code_works(client, caplog, clock):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    client.post(reverse(REQUEST), {"phone": "13700003333"})
    clock.shift(timedelta(seconds=61))
    resent = client.post(reverse(CONFIRM), {"action": "resend"})
    assert resent.status_code == 302
    first, second = _codes(caplog, "+8613700003333")
    assert User.objects.count() == 0
    if first != second:
        stale = client.post(reverse(CONFIRM), {"code": first})
        assert stale.status_code == 200
        assert User.objects.count() == 0
    assert client.post(reverse(CONFIRM), {"code": second}).status_code == 302
    assert User.objects.filter(phone="+8613700003333").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_verifications_of_one_new_number_at_once_make_one_account():
    barrier = threading.Barrier(2)
    made: list[int] = []

    def verify() -> None:
        try:
            barrier.wait()
            made.append(services.create_shopper_for_verified_phone(phone="+8613700004444").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=verify) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [user] = User.objects.filter(phone="+8613700004444")
    assert made == [user.pk, user.pk]
    assert user.phone_verified is True


def test_code_entry_is_capped_per_phone_across_sessions(
    shopper, caplog, clock, generous_code_requests
):
    """allauth ends one code after 3 wrong tries; starting over in new sessions
    still meets the per-phone cap of 10 tries an hour (verify_login_code)."""
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    for _session in range(5):
        browser = Client()
        browser.post(reverse(REQUEST), {"phone": "13800000001"})
        code = _codes(caplog, "+8613800000001")[-1]
        for _try in range(2):
            response = browser.post(reverse(CONFIRM), {"code": _wrong(code)})
            assert response.status_code == 200
    # The 11th attempt is refused even with the right code.
    browser = Client()
    browser.post(reverse(REQUEST), {"phone": "13800000001"})
    code = _codes(caplog, "+8613800000001")[-1]
    refused = browser.post(reverse(CONFIRM), {"code": code}, follow=True)
    assert "_auth_user_id" not in browser.session
    assert "该手机号验证码错误次数过多，请一小时后再试。" in refused.content.decode()
    # Another number is not affected by this one's cap.
    other = Client()
    other.post(reverse(REQUEST), {"phone": "13700005555"})
    assert (
        other.post(reverse(CONFIRM), {"code": _codes(caplog, "+8613700005555")[-1]}).status_code
        == 302
    )

    # An hour later the owner signs in with a new code.
    clock.shift(timedelta(hours=1, seconds=1))
    browser = Client()
    browser.post(reverse(REQUEST), {"phone": "13800000001"})
    code = _codes(caplog, "+8613800000001")[-1]
    assert browser.post(reverse(CONFIRM), {"code": code}).status_code == 302
    assert browser.session["_auth_user_id"] == str(shopper.pk)
