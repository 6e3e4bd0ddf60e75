# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""Statements: a Chinese PDF per leader per period whose totals, read back
from the PDF's text, equal the ledger; made again, the same totals."""

from __future__ import annotations

import io
import logging
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import translation
from pypdf import PdfReader

from leaders.commission.models import CommissionEntry, Settlement
from leaders.commission.selectors import statement_for
from leaders.commission.services import (
    close_ended_periods,
    generate_statement,
    settle_commissions,
)
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
from tuangou.timeutils import SHANGHAI

from .money import TOMORROW_10, at, deliver, hand_out_all, november, paid_order  # noqa: F401

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def label(msgid: str) -> str:
    """A statement label as printed (statements are always in Chinese)."""
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def total_in(text: str, msgid: str) -> Decimal:
    match = re.search(re.escape(label(msgid)) + r"\s*(-?[\d,]+\.\d{2})", text)
    assert match, f"{label(msgid)!r} not found in the statement"
    return Decimal(match.group(1).replace(",", ""))


@pytest.fixture
def statement(november):
    return november


def test_the_totals_read_back_from_the_pdf_equal_the_ledger(statement):
    text = pdf_text(statement.statement.read())
    ledger = CommissionEntry.objects.filter(settlement=statement).aggregate(s=Sum("amount"))["s"]

    assert ledger == Decimal("9.62")
    assert total_in(text, "Balance brought forward") == Decimal("0.00")
    assert total_in(text, "Net commission") == ledger == statement.net_total
    assert total_in(text, "Withdrawals paid") == Decimal("5.00")
    assert total_in(text, "Balance carried forward") == Decimal("4.62")
    assert statement.verification_code in text


def test_the_pdf_is_in_chinese_with_the_leader_the_period_and_every_line(statement):
    text = pdf_text(statement.statement.read())
    numbers = set(
        CommissionEntry.objects.filter(settlement=statement, order__isnull=False).values_list(
            "order__number", flat=True
        )
    )

    assert "王丽" in text
    assert "2026-11-01" in text and "2026-11-30" in text
    assert "西红柿" in text and "土鸡蛋" in text and "十一月拉新奖励" in text
    assert all(number in text for number in numbers)
    assert "CMB-20261128-01" in text
    for amount in ("0.78", "3.84", "1.28", "-1.28", "5.00"):
        assert amount in text


def test_making_it_again_gives_the_same_totals_and_code(statement, caplog):
    first_text = pdf_text(statement.statement.read())
    with caplog.at_level(logging.INFO):
        again = generate_statement(settlement_id=statement.pk)
    second_text = pdf_text(again.statement.read())

    assert again.verification_code == statement.verification_code
    for msgid in ("Net commission", "Balance carried forward", "Commission earned"):
        assert total_in(second_text, msgid) == total_in(first_text, msgid)
    assert "Using fontTools instead of HarfBuzz-Subset" not in caplog.text


def test_the_next_period_brings_the_balance_forward(statement, leader, operator):
    from datetime import date, datetime

    from leaders.commission.services import add_adjustment, close_ended_periods, settle_commissions
    from tuangou.timeutils import SHANGHAI

    from .money import at

    with at(datetime(2026, 12, 10, 9, 0, tzinfo=SHANGHAI)):
        add_adjustment(
            leader=leader, amount="-1.00", reason="更正", entered_by=operator, approved_by=operator
        )
        settle_commissions()
    close_ended_periods(today=date(2027, 1, 1))
    december = Settlement.objects.get(leader=leader, period_start=date(2026, 12, 1))
    s = statement_for(settlement=december)
    assert (s.brought_forward, s.net_total, s.carried_forward) == (
        Decimal("4.62"),
        Decimal("-1.00"),
        Decimal("3.62"),
    )


def test_a_changed_ledger_would_change_the_verification_code(statement):
    s = statement_for(settlement=statement)
    original = s.verification_code
    s.net_total += Decimal("0.01")
    from leaders.commission.selectors import verification_code

    assert verification_code(s) != original


def test_an_entry_is_on_the_statement_of_the_period_it_became_eligible_in(
    clock, shopper, point, sku, leader, leader_user, settings
):
    """Ordered and picked up in November, out of a 5-day window on 2 December:
    it is December's commission, and the statement says why."""
    settings.AFTER_SALE_WINDOW_DAYS = 5
    order = paid_order(shopper, point, (sku, 2))  # 7.80 → 0.78, confirmed 25 Nov
    with at(TOMORROW_10):
        deliver(point, leader_user, TOMORROW)
        hand_out_all(point, leader_user, order)
    with at(datetime(2026, 11, 30, 2, 0, tzinfo=SHANGHAI)):
        assert settle_commissions() == 0
    with at(datetime(2026, 12, 2, 2, 0, tzinfo=SHANGHAI)):
        assert settle_commissions() == 1
    with at(datetime(2027, 1, 1, 2, 30, tzinfo=SHANGHAI)):
        [december] = close_ended_periods(enqueue=False)
        december = generate_statement(settlement_id=december.pk)
    assert (december.period_start, december.period_end) == (date(2026, 12, 1), date(2026, 12, 31))
    assert not Settlement.objects.filter(leader=leader, period_start=date(2026, 11, 1)).exists()

    text = pdf_text(december.statement.read())
    compact = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", label("Settled on")) == "结算日期"
    assert "结算日期" in compact
    assert "条目计入其满足结算条件时所在的周期" in compact
    assert "“结算日期”即其满足结算条件的日期" in compact
    assert f"2026-11-252026-12-02{order.number}" in compact
    assert total_in(text, "Net commission") == Decimal("0.78")
