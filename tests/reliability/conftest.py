"""Reliability fixtures: a private Redis the tests may stop, shop fixtures."""

from __future__ import annotations

import pytest

from tests.leaders.conftest import (  # noqa: F401 - fixtures
    community,
    leader,
    other_leader,
    pickup_point,
)
from tests.orders.conftest import egg_sku, point, sku  # noqa: F401 - fixtures
from tests.orders.shopper_helpers import bound_shopper, shopper_client  # noqa: F401
from tests.workers import worker_processes_on
from tuangou.celery import app

from .support import PrivateRedis


def _reset_broker_pools() -> None:
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def private_redis(settings):
    """A redis-server of this test's own, as cache and broker; stopped at the end."""
    server = PrivateRedis()
    server.start()
    before = app.conf.broker_url
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": server.url},
    }
    settings.CELERY_BROKER_URL = server.url
    app.conf.broker_url = server.url
    app.conf.task_always_eager = False
    _reset_broker_pools()
    try:
        yield server
    finally:
        server.stop()
        app.conf.broker_url = before
        _reset_broker_pools()


@pytest.fixture
def worker_processes(private_redis, tmp_path):
    """Starts `celery worker` processes (tests/workers.py) on the private Redis;
    their log is `worker_processes.log()`. Stopped at the end."""
    with worker_processes_on(private_redis.url, tmp_path / "worker.log") as workers:
        yield workers
