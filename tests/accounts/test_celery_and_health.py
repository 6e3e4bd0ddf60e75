"""A real Celery worker on Redis, and /healthz over the real services."""

from __future__ import annotations

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.contrib.auth.models import Group

from tuangou.accounts.roles import FINANCE, OPERATORS
from tuangou.accounts.tasks import sync_roles_task
from tuangou.celery import app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(scope="module")
def celery_worker(django_db_blocker):
    # Each xdist worker has its own Redis database (settings), so this worker
    # only sees this test process's tasks.
    app.conf.task_always_eager = False
    app.control.purge()  # messages left by earlier runs are not this test's
    with (
        django_db_blocker.unblock(),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker,
    ):
        yield worker


def test_a_task_runs_on_a_real_worker_and_writes_to_postgresql(celery_worker):
    # The worker runs in a thread of this process: its task_postrun signal
    # says when the task is done (production keeps no result backend).
    done = threading.Event()
    states: list[str] = []

    def finished(task=None, state=None, **_kwargs):
        if task.name == sync_roles_task.name:
            states.append(state)
            done.set()

    task_postrun.connect(finished, weak=False)
    try:
        Group.objects.all().delete()
        sync_roles_task.delay()
        assert done.wait(timeout=20), "the worker did not run the task"
    finally:
        task_postrun.disconnect(finished)
    assert states == ["SUCCESS"]
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
