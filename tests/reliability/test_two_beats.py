"""Two beat processes started by mistake (issue #15, faults 3): every periodic
job arrives twice at the same moment. Each test runs the job's service twice
at once, in two threads on their own PostgreSQL connections started together
by a barrier, and checks in the database that nothing was done twice.

Covered elsewhere: settlement (tests/leaders/test_settlement.py
`test_two_workers_at_once_settle_each_entry_once`), the cutoff wave
(tests/logistics/test_wave_race.py), the outbox relay
(tests/reliability/test_outbox_relay.py).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection

from tests.clock import NOON_ISH

pytestmark = pytest.mark.django_db(transaction=True)


def twice_at_once(job) -> list:
    """Run `job()` in two threads that start together; their results, in any order."""
    barrier = threading.Barrier(2)
    results: list = []
    errors: list[BaseException] = []

    def beat():
        try:
            barrier.wait(timeout=30)
            results.append(job())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == 2
    return results


def test_two_expiry_sweeps_at_once_cancel_each_order_once(clock, shopper, point, sku):
    from catalog.models import StockLedger, StockRecord
    from orders.models import Order, OrderEvent, OrderStatus
    from orders.services.checkout import Want, place_order
    from orders.services.payments import expire_unpaid_orders

    orders = [
        place_order(user=shopper, wants=[Want(sku.pk, 2)], pickup_point=point) for _n in range(6)
    ]
    clock.shift(timedelta(minutes=16))  # past every order's 15 minutes to pay
    counts = twice_at_once(lambda: expire_unpaid_orders(batch=2))
    assert sum(counts) == 6
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    for order in orders:
        assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.CANCELLED).count() == 1
    (row,) = StockRecord.objects.filter(sku=sku, warehouse=point.warehouse)
    assert (row.quantity, row.sold) == (50, 0)
    ledger = StockLedger.objects.filter(sku=sku, warehouse=point.warehouse)
    assert sum(ledger.values_list("delta", flat=True)) == row.quantity


def test_two_daily_summaries_at_once_mail_each_operator_once(clock, operator, settings):
    from analytics.summary import send_daily_summary

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    operator.email = "olivia@example.cn"
    operator.save(update_fields=["email"])
    mail.outbox = []
    assert sorted(twice_at_once(send_daily_summary)) == [0, 1]
    assert [m.to for m in mail.outbox] == [["olivia@example.cn"]]


def test_two_closes_at_once_close_each_period_once_with_one_statement_task(
    clock, leader, other_leader, operator
):
    import time_machine

    from leaders.commission.models import Settlement, SettlementStatus
    from leaders.commission.services import add_adjustment, close_ended_periods

    last_month = NOON_ISH - timedelta(days=40)
    with time_machine.travel(last_month, tick=False):
        for who in (leader, other_leader):
            add_adjustment(
                leader=who, amount="12.30", reason="上月奖励", entered_by=operator,
                approved_by=operator,
            )  # fmt: skip
    # Each close settles what was eligible first (October's entries), then closes.
    closed = twice_at_once(lambda: [s.pk for s in close_ended_periods(enqueue=False)])
    assert sorted(pk for run in closed for pk in run) == sorted(
        Settlement.objects.values_list("pk", flat=True)
    )
    assert Settlement.objects.count() == 2
    for settlement in Settlement.objects.all():
        assert settlement.status == SettlementStatus.CLOSED
        assert (settlement.entry_count, str(settlement.net_total)) == (1, "12.30")


def test_two_report_sweeps_at_once_expire_each_job_once(clock, operator, settings):
    from django.core.files.base import ContentFile

    from analytics.models import JobStatus, ReportJob

    jobs = []
    for n in range(4):
        job = ReportJob.objects.create(
            kind="orders", file_format="csv", params={}, requested_by=operator,
            status=JobStatus.DONE, expires_at=NOON_ISH - timedelta(minutes=n + 1),
        )  # fmt: skip
        job.file.save("orders.csv", ContentFile(b"x"), save=True)
        jobs.append(job)
    from analytics.jobs import expire_report_jobs

    assert sum(twice_at_once(expire_report_jobs)) == 4
    assert set(ReportJob.objects.values_list("status", "file")) == {(JobStatus.EXPIRED, "")}
    assert [p for p in settings.PRIVATE_MEDIA_ROOT.rglob("*") if p.is_file()] == []
