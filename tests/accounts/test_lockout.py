"""Staff password logins lock after repeated failures, per IP and per account
(django-axes; issue #15, security 2). The clock fixture moves time: no sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOCKED = "密码错误次数过多"


def _login(login: str, password: str, ip: str = "10.0.0.1", **headers):
    return Client(REMOTE_ADDR=ip, **headers).post(
        reverse("account_login"), {"login": login, "password": password}
    )


def _admin_login(username: str, password: str, ip: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(
        reverse("admin:login"), {"username": username, "password": password}
    )


def _signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


@pytest.fixture
def limits(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    # allauth's own per-key slow-down must not answer before the lockout does.
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": False}


def test_five_wrong_passwords_lock_the_account_from_every_ip_until_the_cool_off(
    operator, clock, limits
):
    for attempt in range(4):
        response = _login("13900000101", "wrong", ip="10.0.0.1")
        assert response.status_code == 200, attempt
    fifth = _login("13900000101", "wrong", ip="10.0.0.1")
    assert fifth.status_code == 429
    html = fifth.content.decode()
    assert LOCKED in html and "锁定 15 分钟" in html

    # The right password is refused: from the same IP, from another IP, typed
    # as +86..., as the email, and on the admin's login page.
    operator.email = "olivia@ops.example.cn"
    operator.save(update_fields=["email"])
    for response in (
        _login("13900000101", "pw-olivia", ip="10.0.0.1"),
        _login("13900000101", "pw-olivia", ip="10.9.9.9"),
        _login("+8613900000101", "pw-olivia", ip="10.9.9.8"),
        _login("olivia@ops.example.cn", "pw-olivia", ip="10.9.9.7"),
        _admin_login("olivia", "pw-olivia", ip="10.9.9.6"),
    ):
        assert response.status_code == 429
        assert LOCKED in response.content.decode()
        assert "_auth_user_id" not in response.client.session

    clock.shift(timedelta(minutes=14, seconds=59))
    assert _login("13900000101", "pw-olivia", ip="10.9.9.9").status_code == 429
    clock.shift(timedelta(seconds=2))
    assert _signed_in(_login("13900000101", "pw-olivia", ip="10.9.9.9"))


def test_five_failures_from_one_ip_lock_that_ip_for_every_account(operator, finance, clock, limits):
    for n in range(5):
        _login(f"1370000{n:04d}", "guess", ip="10.0.0.66")
    locked = _login("13900000102", "pw-fiona", ip="10.0.0.66")
    assert locked.status_code == 429
    assert "_auth_user_id" not in locked.client.session
    # The same person from another address is not affected.
    assert _signed_in(_login("13900000102", "pw-fiona", ip="10.0.0.67"))
    clock.shift(timedelta(minutes=15, seconds=1))
    assert _signed_in(_login("13900000101", "pw-olivia", ip="10.0.0.66"))


def test_alternating_email_and_phone_counts_against_one_account(operator, limits):
    operator.email = "olivia@ops.example.cn"
    operator.save(update_fields=["email"])
    for n, login in enumerate(
        ["13900000101", "olivia@ops.example.cn", "+8613900000101", "OLIVIA@ops.example.cn"]
    ):
        assert _login(login, "wrong", ip=f"10.1.0.{n}").status_code == 200
    assert _login("139 0000 0101", "wrong", ip="10.1.0.9").status_code == 429
    assert _login("olivia@ops.example.cn", "pw-olivia", ip="10.1.0.10").status_code == 429


def test_the_admin_login_locks_too(operator, limits):
    for _ in range(4):
        assert _admin_login("olivia", "wrong").status_code == 200
    assert _admin_login("olivia", "wrong").status_code == 429
    response = _admin_login("olivia", "pw-olivia", ip="10.2.2.2")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in response.client.session


def test_a_success_of_another_account_from_the_same_ip_does_not_wipe_the_count(
    operator, finance, clock, limits
):
    for _ in range(4):
        _login("13900000101", "wrong", ip="10.3.3.3")
    # The attacker signs in to an account of their own from the same address...
    assert _signed_in(_login("13900000102", "pw-fiona", ip="10.3.3.3"))
    # ...and the next guess at the victim still locks it.
    assert _login("13900000101", "wrong", ip="10.3.3.4").status_code == 429
    assert AccessAttempt.objects.filter(failures_since_start__gte=1).count() == 2
    # Failures expire with the cool-off: later, the count starts again.
    clock.shift(timedelta(minutes=15, seconds=1))
    assert _login("13900000101", "wrong", ip="10.3.3.5").status_code == 200


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(operator, settings, limits):
    assert settings.TRUSTED_PROXY_COUNT == 0
    # Direct: a forged header does not spread the failures over many "addresses".
    for n in range(5):
        _login(f"1370000{n:04d}", "guess", ip="10.0.0.5", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.5"}
    assert _login("13900000101", "pw-olivia", ip="10.0.0.5").status_code == 429


def test_behind_the_trusted_proxy_each_client_counts_on_its_own(operator, settings, limits):
    settings.TRUSTED_PROXY_COUNT = settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    nginx = "172.18.0.5"
    for n in range(5):
        # nginx appends the client it saw; what the client sent stays in front.
        _login(f"1370000{n:04d}", "guess", ip=nginx, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    locked = _login("13900000101", "pw-olivia", ip=nginx, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert locked.status_code == 429
    # Another shopper's browser behind the same nginx signs in.
    assert _signed_in(
        _login("13900000101", "pw-olivia", ip=nginx, HTTP_X_FORWARDED_FOR="198.51.100.4")
    )
