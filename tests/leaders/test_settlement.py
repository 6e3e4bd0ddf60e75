# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""Settlement: status derived from hand-out, window and claims; each entry
settled exactly once under reruns, two workers and a worker killed halfway."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from leaders.commission import services
from leaders.commission.models import (
    CommissionAccount,
    CommissionEntry,
    PeriodKind,
    Settlement,
    SettlementStatus,
)
from leaders.commission.selectors import ledger_balance, money_summary
from leaders.commission.services import (
    close_ended_periods,
    period_for,
    request_withdrawal,
    settle_commissions,
)
from leaders.commission.tasks import settle_commissions_task
from orders.services.claims import reject_claim, submit_claim
from tests.orders.conftest import (  # noqa: F401 - fixtures
    NOON_ISH,
    TOMORROW,
    clock,
    community,
    eager_celery,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)
from tuangou import timeutils

from .money import (
    TOMORROW_10,
    WINDOW_OVER,
    at,
    deliver,
    hand_out_all,
    make_bulk_entries,
    paid_order,
)


@pytest.mark.django_db
def test_money_moves_from_pending_to_frozen_to_available_and_is_withdrawn(
    clock, shopper, point, sku, leader, leader_user, settings
):
    settings.WITHDRAWAL_MIN_AMOUNT = "0.50"
    order = paid_order(shopper, point, (sku, 2))  # 7.80 → 0.78
    summary = money_summary(leader=leader)
    assert (summary.today, summary.pending, summary.frozen, summary.available) == (
        Decimal("0.78"),
        Decimal("0.78"),
        Decimal("0.00"),
        Decimal("0.00"),
    )

    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
        hand_out_all(point, leader_user, order)
        assert settle_commissions() == 0
        summary = money_summary(leader=leader)
        assert (summary.pending, summary.frozen) == (Decimal("0.00"), Decimal("0.78"))
    with at(WINDOW_OVER - timedelta(minutes=2)):
        assert settle_commissions() == 0  # still inside the after-sale window
    with at(WINDOW_OVER):
        assert settle_commissions_task.delay().get() == 1
        summary = money_summary(leader=leader)
        assert (summary.frozen, summary.available) == (Decimal("0.00"), Decimal("0.78"))
        withdrawal = request_withdrawal(
            leader=leader,
            amount="0.78",
            method="bank",
            account_name="王丽",
            bank_name="长沙银行",
            account_number="6214000011112222",
        )
    summary = money_summary(leader=leader)
    assert (summary.available, summary.reserved, withdrawal.amount) == (
        Decimal("0.00"),
        Decimal("0.78"),
        Decimal("0.78"),
    )


@pytest.mark.django_db
def test_an_open_after_sale_claim_keeps_the_commission_frozen(
    clock, shopper, point, egg_sku, leader, leader_user, operator
):
    order = paid_order(shopper, point, (egg_sku, 2))
    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
        hand_out_all(point, leader_user, order)
    order.refresh_from_db()
    with at(TOMORROW_10 + timedelta(hours=5)):
        claim = submit_claim(
            order=order,
            user=shopper,
            reason="鸡蛋碎了",
            quantities={order.lines.get().pk: 1},
        )
    with at(WINDOW_OVER):
        assert settle_commissions() == 0
        assert not CommissionEntry.objects.filter(settlement__isnull=False).exists()
        reject_claim(claim=claim, actor=operator, reason="照片看不出破损")
        assert settle_commissions() == 1


def test_the_after_sale_deadline_is_the_end_of_the_last_calendar_day(settings):
    settings.AFTER_SALE_WINDOW_DAYS = 2
    midnight_29 = timeutils.local_datetime(date(2026, 11, 29), time(0, 0))
    for completed in (time(0, 0), time(10, 0), time(23, 59)):
        completed_at = timeutils.local_datetime(date(2026, 11, 26), completed)
        assert timeutils.after_sale_deadline(completed_at=completed_at) == midnight_29
    # Stored in UTC: 25 Nov 17:00 UTC is 26 Nov 01:00 in Shanghai.
    utc = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert timeutils.after_sale_deadline(completed_at=utc) == midnight_29


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 29, 0, 0, tzinfo=timeutils.SHANGHAI),
        datetime(2026, 11, 29, 13, 27, 5, 123456, tzinfo=timeutils.SHANGHAI),
        datetime(2026, 11, 28, 23, 59, 59, 999999, tzinfo=timeutils.SHANGHAI),
    ],
)
def test_the_commission_window_edge_is_exactly_the_claim_rules_edge(settings, now):
    settings.AFTER_SALE_WINDOW_DAYS = 2
    edge = services.window_open_since(now=now)
    just_before = edge - timedelta(microseconds=1)
    assert timeutils.after_sale_deadline(completed_at=just_before) <= now
    assert timeutils.after_sale_deadline(completed_at=edge) > now
    assert edge == timeutils.local_datetime(timeutils.to_local(now).date(), time(0)) - timedelta(
        days=2
    )


@pytest.mark.django_db
def test_the_commission_stays_frozen_exactly_while_claims_are_taken(
    clock, shopper, point, sku, leader, leader_user, settings
):
    """Completed late in the evening: 48 hours would end before the claim window does."""
    from orders.selectors import claim_window_open

    settings.AFTER_SALE_WINDOW_DAYS = 2
    order = paid_order(shopper, point, (sku, 2))
    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
    with at(timeutils.local_datetime(TOMORROW, time(23, 50))):
        hand_out_all(point, leader_user, order)
    order.refresh_from_db()
    last_claim_moment = timeutils.local_datetime(date(2026, 11, 28), time(23, 59, 59))
    with at(last_claim_moment):
        assert claim_window_open(order) is True
        assert settle_commissions() == 0
    with at(timeutils.local_datetime(date(2026, 11, 29), time(0, 0))):
        assert claim_window_open(order) is False
        assert settle_commissions() == 1


@pytest.mark.django_db
def test_a_line_never_handed_out_stays_pending(clock, shopper, point, sku, leader):
    paid_order(shopper, point, (sku, 1))
    with at(NOON_ISH + timedelta(days=10)):
        assert settle_commissions() == 0
        assert money_summary(leader=leader).pending == Decimal("0.39")


@pytest.mark.django_db
def test_a_second_run_settles_nothing_and_totals_match_the_ledger(
    clock, shopper, leader, point, sku
):
    make_bulk_entries(leader=leader, point=point, user=shopper, sku=sku, count=300, orders=3)

    assert settle_commissions(batch_size=128) == 300
    assert settle_commissions(batch_size=128) == 0

    settlement = Settlement.objects.get(leader=leader)
    assert (settlement.entry_count, settlement.net_total) == (300, Decimal("111.00"))
    assert CommissionAccount.objects.get(leader=leader).settled == Decimal("111.00")
    assert ledger_balance(leader=leader)["settled"] == Decimal("111.00")


@pytest.mark.django_db
def test_a_run_killed_halfway_and_rerun_settles_each_of_10000_entries_once(
    clock, shopper, leader, point, sku, monkeypatch
):
    make_bulk_entries(leader=leader, point=point, user=shopper, sku=sku, count=10_000, orders=20)

    def crash(settled_so_far):
        if settled_so_far >= 5_000:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(services, "_after_batch", crash)
    with pytest.raises(RuntimeError, match="worker killed"):
        settle_commissions(batch_size=500)
    # The batch in flight was rolled back; the nine before it are settled.
    assert CommissionEntry.objects.filter(settlement__isnull=False).count() == 4_500
    assert Settlement.objects.get().net_total == Decimal("1665.00")

    monkeypatch.setattr(services, "_after_batch", lambda n: None)
    assert settle_commissions(batch_size=500) == 5_500
    assert settle_commissions(batch_size=500) == 0

    settlement = Settlement.objects.get()
    assert not CommissionEntry.objects.filter(settlement__isnull=True).exists()
    assert (settlement.entry_count, settlement.net_total, settlement.earned_total) == (
        10_000,
        Decimal("3700.00"),
        Decimal("3700.00"),
    )
    ledger = CommissionEntry.objects.filter(settlement=settlement).aggregate(s=Sum("amount"))["s"]
    assert ledger == Decimal("3700.00")
    assert CommissionAccount.objects.get(leader=leader).settled == Decimal("3700.00")


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_settle_each_entry_once(clock, shopper, leader, point, sku):
    make_bulk_entries(leader=leader, point=point, user=shopper, sku=sku, count=2_000, orders=4)
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            counts.append(settle_commissions(batch_size=100))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(counts) == 2_000
    assert settle_commissions() == 0
    settlement = Settlement.objects.get()
    assert (settlement.entry_count, settlement.net_total) == (2_000, Decimal("740.00"))
    assert CommissionAccount.objects.get(leader=leader).settled == Decimal("740.00")


@pytest.mark.django_db
def test_closing_a_period_closes_it_once_and_makes_its_statement(
    shopper, leader, point, sku, django_capture_on_commit_callbacks
):
    with at(NOON_ISH):
        make_bulk_entries(leader=leader, point=point, user=shopper, sku=sku, count=4, orders=2)
        settle_commissions()
    settlement = Settlement.objects.get()
    assert (settlement.period_start, settlement.period_end) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
    )

    assert close_ended_periods(today=date(2026, 11, 30)) == []  # the period is not over
    with django_capture_on_commit_callbacks(execute=True):
        closed = close_ended_periods(today=date(2026, 12, 1))
    assert [s.pk for s in closed] == [settlement.pk]
    assert close_ended_periods(today=date(2026, 12, 2)) == []
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.CLOSED
    assert settlement.statement.name.endswith(".pdf")
    assert len(settlement.verification_code) == 19


def test_periods_are_calendar_months_or_monday_to_sunday_weeks():
    assert period_for(date(2026, 2, 14), PeriodKind.MONTHLY) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
    )
    assert period_for(date(2026, 11, 25), PeriodKind.WEEKLY) == (
        date(2026, 11, 23),
        date(2026, 11, 29),
    )


@pytest.mark.django_db
def test_weekly_settlement_when_configured(shopper, leader, point, sku, settings):
    settings.COMMISSION_PERIOD = "weekly"
    with at(NOON_ISH):
        make_bulk_entries(leader=leader, point=point, user=shopper, sku=sku, count=2, orders=1)
        settle_commissions()
    settlement = Settlement.objects.get()
    assert (settlement.period_kind, settlement.period_start, settlement.period_end) == (
        PeriodKind.WEEKLY,
        date(2026, 11, 23),
        date(2026, 11, 29),
    )


def test_the_beat_schedule_runs_registered_commission_tasks(settings):
    from tuangou.celery import app

    app.loader.import_default_modules()
    for name in ("leaders-settle-commissions", "leaders-close-commission-periods"):
        assert settings.CELERY_BEAT_SCHEDULE[name]["task"] in app.tasks


@pytest.mark.django_db
def test_the_tasks_are_safe_to_run_twice(
    shopper, leader, point, sku, django_capture_on_commit_callbacks
):
    from leaders.commission.tasks import close_commission_periods_task

    with at(NOON_ISH):
        make_bulk_entries(leader=leader, point=point, user=shopper, sku=sku, count=3, orders=1)
        assert settle_commissions_task.delay().get() == 3
        assert settle_commissions_task.delay().get() == 0
    with at(NOON_ISH + timedelta(days=10)), django_capture_on_commit_callbacks(execute=True):
        assert close_commission_periods_task.delay().get() == 1
        assert close_commission_periods_task.delay().get() == 0
    assert Settlement.objects.get().statement.name.endswith(".pdf")
