"""Shared test set-up: real PostgreSQL and Redis, named personas, a phone browser.

Personas (hc/test.py style), the same people in every test:
  shopper, other_shopper: sign in by SMS code
  leader_user, other_leader_user: the people behind the two demo leaders
  operator, finance: staff in their role groups
"""

from __future__ import annotations

import os

import pytest
import time_machine
from django.core.cache import cache

from tests.clock import NOON_ISH

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _isolated_cache(request):
    """Rate limits and sessions live in Redis: each test starts with its own keys.

    Under xdist every worker gets its own key prefix so that parallel tests
    never see each other's counters; clearing only touches that prefix.
    """
    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    prefix = f"{settings.DATABASES['default']['TEST']['NAME']}-{worker}"
    settings.CACHES["default"]["KEY_PREFIX"] = prefix
    cache.key_prefix = prefix
    cache.delete_pattern("*")
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in zh-hans: a request with Accept-Language: en leaves
    English active in the thread (LocaleMiddleware activates, nobody resets)."""
    from django.utils import translation

    translation.activate("zh-hans")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _fast_and_eager(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ticking: the clock fixture starts at NOON_ISH and runs (browser tests)"
    )


@pytest.fixture
def clock(request):
    """The suite's one clock: frozen at NOON_ISH (2026-11-25 15:00 Shanghai), not ticking.

    Every test whose outcome depends on a day or an hour asks for it (never the
    real date); move it with `clock.move_to(...)` / `clock.shift(...)`. The
    moments and helpers live in tests/clock.py. A test marked `ticking` gets
    the clock running from NOON_ISH: a browser driving the live server needs
    time to pass (and tests/clock.py `browser_clock` sets the page's clock).
    """
    tick = request.node.get_closest_marker("ticking") is not None
    with time_machine.travel(NOON_ISH, tick=tick) as traveller:
        yield traveller


@pytest.fixture
def make_user(db):
    from tuangou.accounts.models import User

    def make(username: str, phone: str, nickname: str = "", **extra):
        user = User.objects.create(
            username=username, phone=phone, phone_verified=True, nickname=nickname, **extra
        )
        user.set_password("pw-" + username)
        user.save(update_fields=["password"])
        return user

    return make


def _with_role(user, role: str):
    from django.contrib.auth.models import Group

    from tuangou.accounts.roles import sync_roles

    sync_roles()
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def shopper(make_user):
    return make_user("alice", "+8613800000001", "张阿姨")


@pytest.fixture
def other_shopper(make_user):
    return make_user("bob", "+8613800000002", "李先生")


@pytest.fixture
def leader_user(make_user):
    return make_user("lily", "+8613800000011", "幸福里团长小王")


@pytest.fixture
def other_leader_user(make_user):
    return make_user("ming", "+8613800000012", "阳光花园团长老周")


@pytest.fixture
def operator(make_user):
    from tuangou.accounts.roles import OPERATORS

    return _with_role(make_user("olivia", "+8613900000101", "运营小李"), OPERATORS)


@pytest.fixture
def finance(make_user):
    from tuangou.accounts.roles import FINANCE

    return _with_role(make_user("fiona", "+8613900000102", "财务王姐"), FINANCE)


# --- browser ----------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded browser; no outside network."""
    if os.environ.get("FAKETIME"):
        # make test-faketime: Python runs with the monotonic clock real
        # (scripts/faketime_suite.py); Chromium's zygote dies that way under
        # libfaketime 0.9.10, so its monotonic clock moves with the wall clock.
        browser_type_launch_args = {
            **browser_type_launch_args,
            "env": {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "0"},
        }
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, playwright):
    phone = playwright.devices["iPhone 13"]
    return {
        **browser_context_args,
        **{k: v for k, v in phone.items() if k != "default_browser_type"},
        "viewport": {"width": 390, "height": 844},
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        # Playwright's wait_for_function polls its predicate with eval, which the
        # site's Content-Security-Policy refuses; the pages' own behaviour under
        # the policy is tested in tests/test_csp.py (a context without this).
        "bypass_csp": True,
    }
