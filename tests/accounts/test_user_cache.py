"""The signed-in user comes from Redis (tuangou/accounts/user_cache.py, issue #11),
and every change of the user still takes effect on the next request: a
deactivation, a password change, a logout, a bulk update, a group change;
django-axes' lockout still refuses password logins; with Redis stopped the
user is read from PostgreSQL."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.reliability.conftest import private_redis  # noqa: F401 - fixture
from tuangou.accounts import user_cache
from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db


def _user_reads(client, url=None) -> tuple[int, int]:
    """(status of GET url, statements that read the user table)."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url or reverse("orders:cart"))
    reads = [q for q in ctx.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    return response.status_code, len(reads)


@pytest.fixture
def signed_in(shopper):
    client = Client()
    client.force_login(shopper)
    assert _user_reads(client) == (200, 1)  # the first request loads and stores it
    return client


def test_the_second_request_reads_no_user_row(signed_in):
    assert _user_reads(signed_in) == (200, 0)
    assert _user_reads(signed_in) == (200, 0)


def test_a_deactivated_user_is_signed_out_on_the_next_request(signed_in, shopper):
    shopper.is_active = False
    shopper.save(update_fields=["is_active"])
    status, reads = _user_reads(signed_in)
    assert (status, reads) == (302, 1)


def test_a_bulk_deactivation_takes_effect_too(signed_in, shopper):
    assert User.objects.filter(pk=shopper.pk).update(is_active=False) == 1
    assert _user_reads(signed_in)[0] == 302


def test_a_password_change_signs_the_other_sessions_out(signed_in, shopper):
    shopper.set_password("a-new-secret-2026")
    shopper.save()
    assert _user_reads(signed_in)[0] == 302
    # Signed out for good: the session was flushed.
    assert "_auth_user_id" not in signed_in.session


def test_a_logout_signs_out_although_the_user_is_cached(signed_in):
    signed_in.post(reverse("account_logout"))
    assert _user_reads(signed_in)[0] == 302


def test_a_change_of_name_shows_on_the_next_request(signed_in, shopper):
    shopper.nickname = "王大妈"
    shopper.save(update_fields=["nickname"])
    page = signed_in.get(reverse("accounts:me"))
    assert page.status_code == 200
    assert "王大妈" in page.content.decode()


def test_a_group_change_makes_the_entry_stale(operator):
    client = Client()
    client.force_login(operator)
    assert _user_reads(client)[1] == 1
    assert _user_reads(client)[1] == 0
    operator.groups.clear()
    assert _user_reads(client)[1] == 1
    Group.objects.get(name="operators").user_set.add(operator)
    assert _user_reads(client)[1] == 1


def test_the_lockout_refuses_a_password_login_while_the_user_is_cached(operator, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": False}
    staff = Client()
    staff.force_login(operator)
    assert _user_reads(staff)[1] == 1  # cached now
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR="10.0.0.1").post(
            reverse("account_login"), {"login": "13900000101", "password": "wrong"}
        )
    refused = Client(REMOTE_ADDR="10.9.9.9").post(
        reverse("account_login"), {"login": "13900000101", "password": "pw-olivia"}
    )
    assert refused.status_code == 429
    assert "_auth_user_id" not in refused.client.session


def test_an_entry_of_another_backend_is_not_used(shopper):
    # The stamp names the backend whose get_user loaded the row.
    loaded = []

    def load(user_id):
        loaded.append(user_id)
        return shopper

    for backend in ("a.Backend", "a.Backend", "b.Backend"):
        assert user_cache.load_user(backend_path=backend, user_id=shopper.pk, load=load) == shopper
    assert loaded == [shopper.pk, shopper.pk]


def test_with_redis_stopped_the_user_is_read_from_postgresql(
    private_redis,  # noqa: F811 - fixture
    shopper,
):
    cache.delete_pattern("*")
    client = Client()
    client.force_login(shopper)
    assert _user_reads(client) == (200, 1)
    assert _user_reads(client) == (200, 0)
    private_redis.stop()
    assert _user_reads(client) == (200, 1)
    shopper.is_active = False
    shopper.save(update_fields=["is_active"])
    assert _user_reads(client)[0] == 302


def test_an_update_by_primary_key_makes_only_that_user_stale(signed_in, shopper, other_shopper):
    other = Client()
    other.force_login(other_shopper)
    assert _user_reads(other)[1] == 1
    User.objects.filter(pk=shopper.pk).update(nickname="王大妈")
    assert _user_reads(other) == (200, 0)  # still cached
    assert _user_reads(signed_in) == (200, 1)  # read again
    User.objects.filter(nickname="王大妈").update(nickname="")  # not by key: everyone
    assert _user_reads(other) == (200, 1)
