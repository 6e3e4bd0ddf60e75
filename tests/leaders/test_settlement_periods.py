# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""A period's settlement holds exactly the entries that became eligible in it,
whenever the job runs: late, again, for a past moment, or not at all until
the period is closed."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from pypdf import PdfReader

from leaders.commission.models import (
    CommissionAccount,
    CommissionEntry,
    EntryKind,
    Settlement,
    SettlementStatus,
)
from leaders.commission.services import (
    add_adjustment,
    close_ended_periods,
    eligible_entries,
    settle_commissions,
)
from orders.models import Order, RefundReason
from orders.services.claims import reject_claim, submit_claim
from orders.services.refunds import refund_order
from tests.orders.conftest import (  # noqa: F401 - fixtures
    TOMORROW,
    clock,
    community,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)
from tuangou.timeutils import SHANGHAI, local_datetime

from .money import TOMORROW_10, at, deliver, hand_out_all, paid_order

pytestmark = pytest.mark.django_db

NOVEMBER = date(2026, 11, 1)
DECEMBER = date(2026, 12, 1)
END_OF_NOVEMBER = datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI)
THREE_DAYS_LATE = datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI)


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class Month:
    """Orders of 25 Nov, each becoming eligible on a known day."""

    picked_up: Order  # handed out 26 Nov: window over 29 Nov 00:00 → November, 0.78
    picked_up_late: Order  # handed out 29 Nov: window over 2 Dec 00:00 → December, 0.39
    refunded_in_november: Order  # fully refunded 27 Nov 10:00 → November, 1.28 − 1.28
    refunded_in_december: Order  # fully refunded 1 Dec 10:00 → December, 2.56 − 2.56
    bonus: CommissionEntry  # +5.00 made 30 Nov 23:30 → November
    correction: CommissionEntry  # −2.00 made 1 Dec 00:10 → December


@pytest.fixture
def month(clock, shopper, point, sku, egg_sku, leader, leader_user, operator):
    picked_up = paid_order(shopper, point, (sku, 2))
    picked_up_late = paid_order(shopper, point, (sku, 1))
    refunded_in_november = paid_order(shopper, point, (egg_sku, 1))
    refunded_in_december = paid_order(shopper, point, (egg_sku, 2))
    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
        picked_up.refresh_from_db()
        hand_out_all(point, leader_user, picked_up)
    with at(sh(11, 27, 10)):
        refund_order(order=refunded_in_november, actor=operator, reason=RefundReason.OPERATOR)
    with at(sh(11, 29, 10)):
        picked_up_late.refresh_from_db()
        hand_out_all(point, leader_user, picked_up_late)
    with at(sh(11, 30, 23, 30)):
        bonus = add_adjustment(
            leader=leader,
            amount="5.00",
            reason="十一月奖励",
            entered_by=operator,
            approved_by=operator,
        )
    with at(sh(12, 1, 0, 10)):
        correction = add_adjustment(
            leader=leader, amount="-2.00", reason="更正", entered_by=operator, approved_by=operator
        )
    with at(sh(12, 1, 10)):
        refund_order(order=refunded_in_december, actor=operator, reason=RefundReason.OPERATOR)
    return Month(
        picked_up, picked_up_late, refunded_in_november, refunded_in_december, bonus, correction
    )


def settled_rows(period_start: date):
    """(order or reason, kind, amount, settled on) of a period's entries, sorted."""
    rows = CommissionEntry.objects.filter(settlement__period_start=period_start).select_related(
        "order"
    )
    return sorted(
        (
            e.order.number if e.order_id else e.reason,
            e.kind,
            e.amount,
            e.settled_at.astimezone(SHANGHAI),
        )
        for e in rows
    )


def november_rows(m: Month):
    return sorted(
        [
            (m.picked_up.number, EntryKind.EARNED, Decimal("0.78"), sh(11, 29)),
            (m.refunded_in_november.number, EntryKind.EARNED, Decimal("1.28"), sh(11, 27, 10)),
            (m.refunded_in_november.number, EntryKind.REVERSAL, Decimal("-1.28"), sh(11, 27, 10)),
            ("十一月奖励", EntryKind.ADJUSTMENT, Decimal("5.00"), sh(11, 30, 23, 30)),
        ]
    )


def december_rows(m: Month):
    return sorted(
        [
            (m.picked_up_late.number, EntryKind.EARNED, Decimal("0.39"), sh(12, 2)),
            (m.refunded_in_december.number, EntryKind.EARNED, Decimal("2.56"), sh(12, 1, 10)),
            (m.refunded_in_december.number, EntryKind.REVERSAL, Decimal("-2.56"), sh(12, 1, 10)),
            ("更正", EntryKind.ADJUSTMENT, Decimal("-2.00"), sh(12, 1, 0, 10)),
        ]
    )


def totals(period_start: date):
    s = Settlement.objects.get(period_start=period_start)
    return (s.entry_count, s.earned_total, s.deducted_total, s.adjustment_total, s.net_total)


def test_a_late_run_for_a_past_period_leaves_the_next_periods_entries(month, leader):
    """The run for 30 November happens on 3 December: December's refund, the
    adjustment of 1 December and the window that ended on 2 December wait."""
    with at(THREE_DAYS_LATE):
        assert settle_commissions(now=END_OF_NOVEMBER) == 4
        assert settle_commissions(now=END_OF_NOVEMBER) == 0  # a rerun changes nothing

        assert settled_rows(NOVEMBER) == november_rows(month)
        assert totals(NOVEMBER) == (
            4,
            Decimal("2.06"),
            Decimal("-1.28"),
            Decimal("5.00"),
            Decimal("5.78"),
        )
        assert not Settlement.objects.filter(period_start=DECEMBER).exists()
        left = CommissionEntry.objects.filter(settlement__isnull=True)
        assert sorted(left.values_list("amount", flat=True)) == [
            Decimal("-2.56"),
            Decimal("-2.00"),
            Decimal("0.39"),
            Decimal("2.56"),
        ]
        assert CommissionAccount.objects.get(leader=leader).settled == Decimal("5.78")

        # The next run (today's) settles December's entries into December.
        assert settle_commissions() == 4
        assert settle_commissions() == 0
    assert settled_rows(NOVEMBER) == november_rows(month)  # unchanged
    assert settled_rows(DECEMBER) == december_rows(month)
    assert totals(DECEMBER) == (
        4,
        Decimal("2.95"),
        Decimal("-2.56"),
        Decimal("-2.00"),
        Decimal("-1.61"),
    )
    assert CommissionAccount.objects.get(leader=leader).settled == Decimal("4.17")


def test_a_run_after_the_period_ended_settles_each_entry_into_the_period_it_became_eligible_in(
    month,
):
    """No run at all in November; the first one is on 3 December."""
    with at(THREE_DAYS_LATE):
        assert settle_commissions() == 8
        assert settle_commissions() == 0
    assert settled_rows(NOVEMBER) == november_rows(month)
    assert settled_rows(DECEMBER) == december_rows(month)
    assert totals(NOVEMBER)[-1] == Decimal("5.78")
    assert totals(DECEMBER)[-1] == Decimal("-1.61")


def test_the_nightly_runs_and_the_close_make_the_same_periods(month):
    """The beat's own rhythm: settle at 02:00 every night, close at 02:30."""
    for day in range(26, 31):
        with at(sh(11, day, 2)):
            settle_commissions()
            assert close_ended_periods(enqueue=False) == []
    with at(sh(12, 1, 2)):
        settle_commissions()
    with at(sh(12, 1, 2, 30)):
        [november] = close_ended_periods(enqueue=False)
    for day in (2, 3):
        with at(sh(12, day, 2)):
            settle_commissions()
    assert november.period_start == NOVEMBER
    november.refresh_from_db()
    assert november.status == SettlementStatus.CLOSED
    assert settled_rows(NOVEMBER) == november_rows(month)
    assert settled_rows(DECEMBER) == december_rows(month)


def test_closing_a_period_first_settles_what_became_eligible_before_its_end(month):
    """The nightly settlement was missed: the close does not leave the last
    days out, nor take in what came after midnight."""
    with at(sh(12, 1, 2, 30)):
        [november] = close_ended_periods(enqueue=False)
    assert november.period_start == NOVEMBER
    assert settled_rows(NOVEMBER) == november_rows(month)
    assert Settlement.objects.get(period_start=NOVEMBER).status == SettlementStatus.CLOSED
    unsettled = CommissionEntry.objects.filter(settlement__isnull=True)
    assert unsettled.count() == 4
    assert not Settlement.objects.filter(period_start=DECEMBER).exists()


def test_an_entry_of_a_closed_period_goes_into_the_next_open_one(month, leader, operator):
    """November's statement is final; an entry dated in November that reaches
    the ledger later (recorded after the fact) is December's, dated 1 Dec."""
    with at(sh(12, 1, 2, 30)):
        close_ended_periods(enqueue=False)
    with at(sh(11, 20, 9)):
        late = add_adjustment(
            leader=leader, amount="1.50", reason="补记", entered_by=operator, approved_by=operator
        )
    with at(THREE_DAYS_LATE):
        assert settle_commissions() == 5

    late.refresh_from_db()
    assert late.settlement.period_start == DECEMBER
    assert late.settled_at == local_datetime(DECEMBER, time(0, 0))
    assert settled_rows(NOVEMBER) == november_rows(month)
    assert totals(NOVEMBER)[-1] == Decimal("5.78")
    assert totals(DECEMBER)[-1] == Decimal("-0.11")


def test_a_claim_open_at_the_end_of_the_period_keeps_the_entry_for_the_next_one(
    clock, shopper, point, egg_sku, leader_user, operator
):
    """Claimed on 26 Nov, rejected on 1 Dec: eligible on 1 Dec, even for a run
    made afterwards for 30 November."""
    order = paid_order(shopper, point, (egg_sku, 1))
    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
        hand_out_all(point, leader_user, order)
    order.refresh_from_db()
    with at(sh(11, 26, 15)):
        claim = submit_claim(
            order=order, user=shopper, reason="蛋壳裂了", quantities={order.lines.get().pk: 1}
        )
    with at(sh(12, 1, 9)):
        reject_claim(claim=claim, actor=operator, reason="照片看不出破损")

    with at(THREE_DAYS_LATE):
        assert not eligible_entries(now=END_OF_NOVEMBER).exists()
        assert settle_commissions(now=END_OF_NOVEMBER) == 0
        assert settle_commissions() == 1
    assert settled_rows(DECEMBER) == [
        (order.number, EntryKind.EARNED, Decimal("1.28"), sh(12, 1, 9))
    ]
    assert not Settlement.objects.filter(period_start=NOVEMBER).exists()


# --- the demo's history -------------------------------------------------------------------


def _seed_demo(moment: datetime) -> None:
    from catalog import demo as catalog_demo
    from leaders import demo as leaders_demo
    from orders import demo as orders_demo
    from tuangou.accounts import demo as accounts_demo

    with time_machine.travel(moment, tick=True):
        out = io.StringIO()
        for app_demo in (accounts_demo, catalog_demo, leaders_demo, orders_demo):
            app_demo.seed(stdout=out)


def _pdf_text(settlement: Settlement) -> str:
    with settlement.statement.open("rb") as handle:
        data = handle.read()
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize(
    "today",
    [
        datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI),
        # The day the issue was seen: October's statement listed November.
        datetime(2026, 11, 30, 15, 0, tzinfo=SHANGHAI),
    ],
    ids=["25-nov", "30-nov"],
)
def test_the_demos_settlements_hold_only_entries_of_their_own_period(today):
    _seed_demo(today)

    settlements = list(Settlement.objects.select_related("leader").order_by("period_start", "pk"))
    assert settlements, "the demo made no settlement"
    for settlement in settlements:
        first = local_datetime(settlement.period_start, time(0, 0))
        after = local_datetime(settlement.period_end + timedelta(days=1), time(0, 0))
        for entry in settlement.entries.all():
            assert first <= entry.settled_at < after, (settlement, entry.pk, entry.settled_at)
            assert entry.occurred_at < after, (settlement, entry.pk, entry.occurred_at)
    # Everything the ledger holds today that was eligible is settled, and
    # nothing dated after the night of the last run is.
    assert not eligible_entries(now=local_datetime(today.date(), time(2, 0))).exists()

    closed = [s for s in settlements if s.status == SettlementStatus.CLOSED]
    october = [s for s in closed if s.period_start == date(2026, 10, 1)]
    if today.day == 25:
        # Orders from 28 October on: October's statements have entries.
        assert october and sum(s.entry_count for s in october) > 0
    for settlement in closed:
        text = _pdf_text(settlement)
        dates = {date.fromisoformat(d) for d in re.findall(r"\d{4}-\d{2}-\d{2}", text)}
        assert settlement.period_end in dates  # the period is printed
        later = sorted(d for d in dates if d > settlement.period_end)
        assert later == [], f"{settlement} prints later dates {later}"
        # The PDF's rows are the settlement's entries.
        for entry in settlement.entries.exclude(order=None).select_related("order"):
            assert entry.order.number in text
