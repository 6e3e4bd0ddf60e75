"""A Celery worker killed with SIGKILL in the middle of a task (issue #15, faults 3).

A real worker process (prefork, one child) on a private Redis
(tests/workers.py). The task pauses at a known statement — behind a row
lock the test holds (the refund), or at the workers' pause hook before a
chosen statement (settlement, statement, report job) — seen in
pg_stat_activity; the test kills the pool child with SIGKILL. With
acks_late and reject_on_worker_lost the parent requeues the message, a new
child runs it once the lock is released, and the idempotent task finishes
the work exactly once: the killed attempt's transaction died with it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from orders.models import Notice, Refund, RefundStatus
from orders.services.refunds import refund_lines
from tests.clock import TODAY
from tests.orders.shopper_helpers import pay, place
from tests.workers import admin_connection, paused
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


# --- settlement, a statement, a report job: paused by tests/workers.py's hook --------
#
# The worker process runs on the test's clock (TEST_WORKER_NOW) and stops just
# before a chosen statement, inside its transaction, waiting for an advisory
# lock the test holds (`paused()`): its backend is busy, as behind a row lock.
# The test kills the pool child there, waits until the requeued message has
# been dealt with by the new child (done, or waiting on the killed child's
# locks), lets the lock go and checks the outcome in the database.

SETTLE = "leaders.commission.tasks.settle_commissions_task"
STATEMENT = "leaders.commission.tasks.generate_statement_task"
REPORT = "analytics.tasks.run_report_job_task"


def _kill_paused_child(workers, process, pause, task_name: str) -> int:
    """Kill the child paused at the hook; return once the new child has run the
    requeued task or waits on a lock (the killed backend's, or the hook's)."""
    wait_for(lambda: pause.waiting(), timeout=60, what="the task to reach the pause")
    (dead,) = pause.waiting()
    workers.kill_child(process)
    wait_for(
        lambda: workers.succeeded(task_name) or pause.lock_waiters(besides={dead}),
        timeout=60,
        what="the requeued task on the new child",
    )
    pause.release()
    wait_for(lambda: not pause.alive(dead), what="the killed child's backend to end")
    return dead


def _worker_lost(workers) -> bool:
    text = workers.log()
    return "WorkerLostError" in text or "signal 9" in text


@pytest.mark.parametrize(
    "idle",
    [
        # The child dies between two statements: its backend, idle in the
        # transaction, sees the closed socket at once and lets the entries go.
        True,
        # The child dies while its backend is busy (here waiting on a lock).
        False,
    ],
    ids=["backend-idle", "backend-busy"],
)
def test_a_settlement_whose_worker_is_killed_settles_each_entry_once_on_the_next_child(
    clock, leader, other_leader, operator, worker_processes, idle
):
    from django.utils import timezone

    from leaders.commission.models import CommissionAccount, CommissionEntry, Settlement
    from leaders.commission.services import add_adjustment
    from leaders.commission.tasks import settle_commissions_task

    amounts = {leader.pk: Decimal("12.30"), other_leader.pk: Decimal("4.56")}
    for who, amount in ((leader, "12.30"), (other_leader, "4.56")):
        add_adjustment(
            leader=who, amount=amount, reason="奖励", entered_by=operator, approved_by=operator
        )
    settle_commissions_task.delay()
    with paused() as pause:
        # Stopped after its batch's entries are locked and the settlement rows
        # made, just before the entries move.
        process = worker_processes.start(
            now=timezone.now(), pause_sql=r'^UPDATE "leaders_commissionentry"', pause_idle=idle
        )
        _kill_paused_child(worker_processes, process, pause, SETTLE)
    wait_for(lambda: worker_processes.succeeded(SETTLE), timeout=60, what="the requeued run")
    assert _worker_lost(worker_processes), worker_processes.log()[-2000:]
    assert not CommissionEntry.objects.filter(settlement__isnull=True).exists(), (
        f"the requeued run settled {worker_processes.succeeded(SETTLE)} entries"
    )
    settle_commissions_task.delay()  # tomorrow night's run, or a second beat
    wait_for(lambda: len(worker_processes.succeeded(SETTLE)) == 2, what="a second run")
    assert worker_processes.succeeded(SETTLE)[1] == "0"
    for settlement in Settlement.objects.all():
        assert (settlement.entry_count, settlement.net_total) == (1, amounts[settlement.leader_id])
    assert Settlement.objects.count() == 2
    for account in CommissionAccount.objects.all():
        assert account.settled == amounts[account.leader_id]


@pytest.mark.parametrize(
    "stop_before",
    [
        # The PDF is made; the settlement row is about to be locked.
        r'^SELECT .* FROM "leaders_settlement" .* FOR UPDATE',
        # The PDF is in storage; the row that names it is about to be written.
        r'^UPDATE "leaders_settlement"',
    ],
    ids=["before-the-file", "after-the-file"],
)
def test_a_statement_whose_worker_is_killed_is_made_once_with_one_file(
    clock, leader, operator, worker_processes, settings, stop_before
):
    import time_machine
    from django.utils import timezone

    from leaders.commission.models import Settlement, SettlementStatus
    from leaders.commission.services import (
        add_adjustment,
        close_ended_periods,
        settle_commissions,
    )
    from leaders.commission.tasks import generate_statement_task

    last_month = timezone.now() - timedelta(days=40)
    with time_machine.travel(last_month, tick=False):
        add_adjustment(
            leader=leader, amount="12.30", reason="上月奖励", entered_by=operator,
            approved_by=operator,
        )  # fmt: skip
    settle_commissions(now=last_month)
    (settlement,) = close_ended_periods(enqueue=False)
    generate_statement_task.delay(settlement.pk)
    with paused() as pause:
        process = worker_processes.start(now=timezone.now(), pause_sql=stop_before)
        _kill_paused_child(worker_processes, process, pause, STATEMENT)
    wait_for(lambda: worker_processes.succeeded(STATEMENT), timeout=60, what="the statement")
    assert _worker_lost(worker_processes), worker_processes.log()[-2000:]
    settlement = Settlement.objects.get(pk=settlement.pk)
    assert settlement.status == SettlementStatus.CLOSED
    assert settlement.statement.name.endswith(".pdf") and settlement.verification_code
    assert settlement.statement.read().startswith(b"%PDF")
    files = sorted(p.relative_to(settings.PRIVATE_MEDIA_ROOT).as_posix()
                   for p in settings.PRIVATE_MEDIA_ROOT.rglob("*.pdf"))  # fmt: skip
    assert files == [settlement.statement.name]


def test_a_report_job_whose_worker_is_killed_is_finished_once_with_its_file(
    clock, shopper, point, sku, operator, worker_processes, settings
):
    from django.utils import timezone

    from analytics.jobs import start_report_job
    from analytics.models import JobStatus, ReportJob

    app.conf.task_always_eager = True
    try:
        for units in (1, 2, 3):
            pay(place(shopper, point, (sku, units)))
    finally:
        app.conf.task_always_eager = False
    job = start_report_job(
        user=operator,
        kind="orders",
        file_format="csv",
        params={"start": str(TODAY), "end": str(TODAY)},
    )  # its task waits on the broker (outbox, after commit)
    worker_processes.env["ANALYTICS_EXPORT_CHUNK"] = "1"
    with paused() as pause:
        # Running, two of three rows written, about to report progress.
        process = worker_processes.start(
            now=timezone.now(), pause_sql=r'^UPDATE "analytics_reportjob" SET "row_count"',
            pause_skip=2,
        )  # fmt: skip
        _kill_paused_child(worker_processes, process, pause, REPORT)
    wait_for(lambda: worker_processes.succeeded(REPORT), timeout=60, what="the requeued job")
    assert _worker_lost(worker_processes), worker_processes.log()[-2000:]
    job = ReportJob.objects.get(pk=job.pk)
    assert (job.status, job.row_count, job.progress) == (JobStatus.DONE, 3, 100), (
        f"the requeued task returned {worker_processes.succeeded(REPORT)}"
    )
    files = [p for p in settings.PRIVATE_MEDIA_ROOT.rglob("*") if p.is_file()]
    assert [p.relative_to(settings.PRIVATE_MEDIA_ROOT).as_posix() for p in files] == [job.file.name]
    assert job.file.read().decode("utf-8-sig").count("\n") == 5  # header, 3 orders, total
