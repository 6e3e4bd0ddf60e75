# ruff: noqa: F811 - the real-worker fixtures are imported from tests/workers.py
"""A real Celery worker: the nightly tasks, delivered twice, settle and close
once, and the statement is made by its own task after the close commits."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from celery.signals import task_postrun

from leaders.commission.models import Settlement, SettlementStatus
from leaders.commission.services import add_adjustment, settle_commissions
from leaders.commission.tasks import close_commission_periods_task, settle_commissions_task
from tests.clock import NOON_ISH
from tests.workers import celery_worker  # noqa: F401 - fixtures

# The worker runs in a thread of this process: it reads the same (ticking) clock.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.ticking]


def test_the_nightly_tasks_settle_close_and_make_the_statement_once(
    clock, celery_worker, leader, other_leader, operator
):
    # October's settlement, still open on 25 November (its close was missed).
    forty_days_ago = NOON_ISH - timedelta(days=40)
    with time_machine.travel(forty_days_ago, tick=False):
        add_adjustment(
            leader=leader,
            amount="12.30",
            reason="上月奖励",
            entered_by=operator,
            approved_by=operator,
        )
    settle_commissions(now=forty_days_ago)
    # Tonight's work: an entry eligible now.
    add_adjustment(
        leader=other_leader, amount="4.56", reason="奖励", entered_by=operator, approved_by=operator
    )

    done = threading.Event()
    seen: list[tuple[str, object]] = []

    def finished(task=None, retval=None, **_kwargs):
        seen.append((task.name.rsplit(".", 1)[-1], retval))
        if any(name == "generate_statement_task" for name, _r in seen) and len(seen) >= 5:
            done.set()

    task_postrun.connect(finished, weak=False)
    try:
        for _twice in range(2):
            settle_commissions_task.delay()
            close_commission_periods_task.delay()
        assert done.wait(timeout=30), f"tasks did not finish: {seen}"
    finally:
        task_postrun.disconnect(finished)

    results = sorted((name, r) for name, r in seen if name != "generate_statement_task")
    assert results == [
        ("close_commission_periods_task", 0),
        ("close_commission_periods_task", 1),
        ("settle_commissions_task", 0),
        ("settle_commissions_task", 1),
    ]
    old = Settlement.objects.get(leader=leader)
    assert (old.status, old.net_total) == (SettlementStatus.CLOSED, Decimal("12.30"))
    assert old.statement.name.endswith(".pdf") and old.verification_code
    assert Settlement.objects.get(leader=other_leader).status == SettlementStatus.OPEN
