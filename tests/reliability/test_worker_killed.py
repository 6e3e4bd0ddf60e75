"""A Celery worker killed with SIGKILL in the middle of a task (issue #15, faults 3).

A real worker process (prefork, one child) on a private Redis. The test
holds a row lock the task needs, so the task pauses at a known statement
(seen in pg_stat_activity), then kills the pool child with SIGKILL. With
acks_late and reject_on_worker_lost the parent requeues the message, a new
child runs it once the lock is released, and the idempotent task finishes
the work exactly once: the killed attempt's transaction died with it.
"""

from __future__ import annotations

import pytest

from orders.models import Notice, Refund, RefundStatus
from orders.services.refunds import refund_lines
from tests.orders.shopper_helpers import pay, place
from tests.workers import admin_connection
from tuangou.celery import app

from .support import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_refund_task_whose_worker_is_killed_finishes_once_on_the_next_child(
    clock, shopper, point, sku, worker_processes
):
    app.conf.task_always_eager = True
    try:
        order = pay(place(shopper, point, (sku, 2)))
    finally:
        app.conf.task_always_eager = False
    with admin_connection() as locker:
        # Hold the refund row's lock from outside: the task will wait on it.
        locker.autocommit = False
        refund = refund_lines(order=order, quantities=None, reason="operator")
        locker.execute("SELECT id FROM orders_refund WHERE id = %s FOR UPDATE", [refund.pk])
        # The refund's task was published after commit (outbox); a worker starts
        # now and takes it.
        process = worker_processes.start()
        with admin_connection() as watcher:

            def waiting_on_the_refund() -> bool:
                return bool(
                    watcher.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                        " AND query LIKE 'UPDATE \"orders_refund\"%%'"
                    ).fetchone()
                )

            wait_for(waiting_on_the_refund, timeout=60, what="the task to reach the refund row")
            worker_processes.kill_child(process)
        locker.rollback()  # the lock goes; the requeued task runs
    wait_for(
        lambda: Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED,
        timeout=60,
        what="the refund to succeed on the next child",
    )
    refund.refresh_from_db()
    # The killed child's UPDATE of the attempt counter had reached PostgreSQL:
    # its backend waits on the lock, runs it once the lock goes and commits
    # (autocommit) before noticing its client is gone. So two attempts are
    # counted, and the provider was asked once: the killed attempt never got
    # past the counter, the second one sent the refund and marked it done.
    assert refund.attempts == 2
    assert refund.provider_refund_id
    assert Refund.objects.filter(order=order).count() == 1
    wait_for(
        lambda: Notice.objects.filter(order=order, kind="refunded").exists(),
        what="the refunded notice",
    )
    text = worker_processes.log()
    assert "WorkerLostError" in text or "SIGKILL" in text or "signal 9" in text, text[-2000:]
    assert Notice.objects.filter(order=order, kind="refunded").count() == 1
