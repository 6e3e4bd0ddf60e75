"""A real Celery worker on Redis, and /healthz over the real services."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth.models import Group

from tuangou.accounts.roles import FINANCE, OPERATORS
from tuangou.accounts.tasks import sync_roles_task
from tuangou.celery import app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(scope="module")
def celery_worker(django_db_blocker):
    # Each xdist worker has its own Redis database (settings), so this worker
    # only sees this test process's tasks. Production stores no results; here
    # a Redis result backend lets the test wait on the task itself.
    from django.conf import settings

    app.conf.result_backend = settings.REDIS_URL
    try:
        with (
            django_db_blocker.unblock(),
            start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker,
        ):
            yield worker
    finally:
        app.conf.result_backend = None


def test_a_task_runs_on_a_real_worker_and_writes_to_postgresql(celery_worker):
    Group.objects.all().delete()
    sync_roles_task.apply_async(ignore_result=False).get(timeout=20)
    assert {OPERATORS, FINANCE} <= set(Group.objects.values_list("name", flat=True))
    assert Group.objects.get(name=OPERATORS).permissions.filter(codename="view_warehouse").exists()


def test_healthz_is_200_when_database_redis_and_worker_answer(client, celery_worker):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["celery"].startswith("ok")
