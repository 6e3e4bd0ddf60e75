# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""Finance pages (finance role only): settlements by period, statements one
by one or as a ZIP, CSV, withdrawals approved once, payout batches; the admin
downloads too. From the demo data, the PDFs' totals equal the ledger."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from leaders.commission.models import (
    CommissionAccount,
    CommissionEntry,
    EntryKind,
    PayoutBatch,
    Settlement,
    SettlementStatus,
    Withdrawal,
    WithdrawalStatus,
)
from leaders.commission.selectors import statement_for
from leaders.commission.services import add_adjustment, request_withdrawal, settle_commissions
from tests.orders.conftest import (  # noqa: F401 - fixtures
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

from .money import november  # noqa: F401 - fixture
from .test_statements import pdf_text, total_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(clock, leader, operator):
    add_adjustment(
        leader=leader, amount="80.00", reason="奖励", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    return request_withdrawal(
        leader=leader,
        amount="30.00",
        method="bank",
        account_name="王丽",
        bank_name="长沙银行",
        account_number="6214000011112222",
    )


def _finance_urls(settlement, withdrawal=None):
    start = settlement.period_start.isoformat()
    urls = [
        ("get", reverse("leaders:finance")),
        ("get", reverse("leaders:finance_period", args=[start])),
        ("get", reverse("leaders:finance_period_csv", args=[start])),
        ("get", reverse("leaders:finance_period_zip", args=[start])),
        ("get", reverse("leaders:finance_statement_pdf", args=[settlement.code])),
        ("post", reverse("leaders:finance_regenerate", args=[settlement.code])),
        ("get", reverse("leaders:finance_withdrawals")),
        ("post", reverse("leaders:finance_payout")),
    ]
    if withdrawal is not None:
        urls.append(
            (
                "post",
                reverse("leaders:finance_withdrawal_action", args=[withdrawal.number, "approve"]),
            )
        )
    return urls


def test_operators_leaders_and_shoppers_are_refused_every_finance_url(
    client, november, waiting, operator, leader_user, shopper
):
    for user in (operator, leader_user, shopper):
        client.force_login(user)
        for method, url in _finance_urls(november, waiting):
            assert getattr(client, method)(url).status_code == 403, (user, url)
    waiting.refresh_from_db()
    assert waiting.status == WithdrawalStatus.REQUESTED


def test_anonymous_visitors_are_sent_to_sign_in(client, november):
    response = client.get(reverse("leaders:finance"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_finance_sees_settlements_by_period_with_totals_per_leader(client, november, finance):
    client.force_login(finance)

    home = client.get(reverse("leaders:finance")).content.decode()
    assert 'data-period="2026-11-01"' in home
    page = client.get(reverse("leaders:finance_period", args=["2026-11-01"]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "王丽" in html and "9.62" in html and november.verification_code in html
    assert "data-period-net>9.62" in html


def test_finance_downloads_one_statement_and_the_periods_zip(client, november, finance):
    client.force_login(finance)

    one = client.get(reverse("leaders:finance_statement_pdf", args=[november.code]))
    assert one["Content-Type"] == "application/pdf"
    assert total_in(pdf_text(b"".join(one.streaming_content)), "Net commission") == Decimal("9.62")

    archive = client.get(reverse("leaders:finance_period_zip", args=["2026-11-01"]))
    assert archive["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        [name] = z.namelist()
        assert name.endswith(".pdf") and "王丽" in name
        assert total_in(pdf_text(z.read(name)), "Balance carried forward") == Decimal("4.62")


def test_the_period_csv_lists_each_leaders_totals(client, november, finance):
    client.force_login(finance)
    response = client.get(reverse("leaders:finance_period_csv", args=["2026-11-01"]))
    rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert rows[1][0] == "王丽"
    assert rows[1][4:9] == ["5", "5.90", "-1.28", "5.00", "9.62"]


def _messages(response) -> list[tuple[str, str]]:
    """The Django messages shown on a followed response: (level tag, text)."""
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def test_a_double_click_on_approve_approves_once(client, waiting, finance):
    client.force_login(finance)
    url = reverse("leaders:finance_withdrawal_action", args=[waiting.number, "approve"])

    first = client.post(url, {"back": "requested"}, follow=True)
    second = client.post(url, {"back": "requested"}, follow=True)

    waiting.refresh_from_db()
    assert (waiting.status, waiting.decided_by) == (WithdrawalStatus.APPROVED, finance)
    # The first click says it approved it; the second that it already was, and
    # nothing changed (one money move: the reserve stays 30.00).
    assert _messages(first) == [("success", f"已通过提现 {waiting.number}（¥30.00），待打款。")]
    assert _messages(second) == [
        ("warning", f"提现 {waiting.number} 已是“已通过”状态，未做任何更改。")
    ]
    account = CommissionAccount.objects.get(leader=waiting.leader)
    assert (account.reserved, account.withdrawn) == (Decimal("30.00"), Decimal("0.00"))


def test_finance_rejects_with_a_reason_and_the_money_comes_back(client, waiting, finance, leader):
    client.force_login(finance)
    client.post(
        reverse("leaders:finance_withdrawal_action", args=[waiting.number, "reject"]),
        {"reason": "户名不符"},
    )
    waiting.refresh_from_db()
    assert (waiting.status, waiting.reject_reason) == (WithdrawalStatus.REJECTED, "户名不符")
    assert leader.commission_account.available == Decimal("80.00")


def test_finance_batches_approved_withdrawals_and_downloads_the_bank_file(client, waiting, finance):
    client.force_login(finance)
    client.post(reverse("leaders:finance_withdrawal_action", args=[waiting.number, "approve"]))

    client.post(reverse("leaders:finance_payout"), {"withdrawal": [waiting.number]})
    batch = PayoutBatch.objects.get()
    response = client.get(reverse("leaders:finance_batch_csv", args=[batch.number]))
    assert (
        f"{batch.number},{waiting.number},王丽,长沙银行,6214000011112222,30.00"
        in response.content.decode()
    )

    client.post(
        reverse("leaders:finance_withdrawal_action", args=[waiting.number, "paid"]),
        {"reference": "CSYH-1"},
    )
    waiting.refresh_from_db()
    assert (waiting.status, waiting.transfer_reference) == (WithdrawalStatus.PAID, "CSYH-1")


def test_the_admin_downloads_a_periods_statements_as_a_zip(client, november, finance):
    client.force_login(finance)
    response = client.post(
        reverse("admin:leaders_settlement_changelist"),
        {"action": "download_statements", "_selected_action": [november.pk]},
    )
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        assert len(z.namelist()) == 1


def test_in_the_admin_an_operator_adds_an_adjustment_but_cannot_approve_withdrawals(
    client, waiting, operator, leader
):
    client.force_login(operator)
    response = client.post(
        reverse("admin:leaders_commissionentry_add"),
        {"leader": leader.pk, "amount": "-3.50", "reason": "重复入账更正"},
    )
    assert response.status_code == 302
    entry = CommissionEntry.objects.get(reason="重复入账更正")
    assert (entry.kind, entry.amount, entry.approved_by) == (
        EntryKind.ADJUSTMENT,
        Decimal("-3.50"),
        operator,
    )

    changelist = client.get(reverse("admin:leaders_withdrawal_changelist")).content.decode()
    assert "approve_selected" not in changelist
    client.post(
        reverse("admin:leaders_withdrawal_changelist"),
        {"action": "approve_selected", "_selected_action": [waiting.pk]},
    )
    waiting.refresh_from_db()
    assert waiting.status == WithdrawalStatus.REQUESTED


def test_in_the_admin_finance_approves_a_withdrawal(client, waiting, finance):
    client.force_login(finance)
    client.post(
        reverse("admin:leaders_withdrawal_changelist"),
        {"action": "approve_selected", "_selected_action": [waiting.pk]},
    )
    waiting.refresh_from_db()
    assert waiting.status == WithdrawalStatus.APPROVED


def test_from_the_demo_data_every_statement_of_a_closed_period_equals_the_ledger(
    client, clock, settings
):
    """The issue's 'done when': seed the demo, download a period's ZIP as
    finance, read each PDF's totals, compare them with the ledger to the fen."""
    from catalog import demo as catalog_demo
    from leaders import demo as leaders_demo
    from leaders.commission.demo import seed_commission_demo
    from orders import demo as orders_demo
    from tuangou.accounts import demo as accounts_demo
    from tuangou.accounts.models import User

    out = io.StringIO()
    for module in (accounts_demo, catalog_demo, leaders_demo, orders_demo):
        module.seed(stdout=out)
    seed_commission_demo(stdout=out)
    seed_commission_demo(stdout=out)  # idempotent

    closed = Settlement.objects.filter(status=SettlementStatus.CLOSED)
    assert closed.exists(), out.getvalue()
    assert Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED).exists()
    assert Withdrawal.objects.filter(status=WithdrawalStatus.PAID).exists()
    start = closed.order_by("-period_start").first().period_start

    client.force_login(User.objects.get(username="finance"))
    archive = client.get(reverse("leaders:finance_period_zip", args=[start.isoformat()]))
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        names = z.namelist()
        settlements = list(closed.filter(period_start=start).select_related("leader"))
        assert len(names) == len(settlements) >= 1
        for settlement in settlements:
            [name] = [n for n in names if n.endswith(f"-{settlement.leader_id}.pdf")]
            text = pdf_text(z.read(name))
            ledger = CommissionEntry.objects.filter(settlement=settlement).aggregate(
                s=Sum("amount")
            )["s"]
            s = statement_for(settlement=settlement)
            assert total_in(text, "Net commission") == ledger == settlement.net_total
            assert total_in(text, "Commission earned") == s.earned_total
            assert total_in(text, "Balance carried forward") == s.carried_forward
            assert settlement.verification_code in text


# --- nightly reconciliation of the account counters with the ledger ------------------


def test_matching_accounts_reconcile_quietly(waiting, leader, finance, client, caplog):
    from leaders.commission.tasks import reconcile_commission_accounts_task

    assert reconcile_commission_accounts_task.apply().get() == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    client.force_login(finance)
    assert "data-mismatches" not in client.get(reverse("leaders:finance")).content.decode()


def test_a_corrupted_counter_is_logged_and_shown_to_finance(
    waiting, leader, finance, client, caplog
):
    from leaders.commission.selectors import account_mismatches, ledger_balance
    from leaders.commission.tasks import reconcile_commission_accounts_task

    # Someone edits the row by hand: 10 yuan appear that the ledger never earned.
    CommissionAccount.objects.filter(leader=leader).update(settled=Decimal("90.00"))
    assert ledger_balance(leader=leader)["settled"] == Decimal("80.00")

    with caplog.at_level("ERROR", logger="tuangou.commission"):
        assert reconcile_commission_accounts_task.apply().get() == 1
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == (
        f"commission account mismatch: leader {leader.pk} (王丽) "
        "settled counter 90.00, ledger 80.00"
    )
    [mismatch] = account_mismatches()
    assert (mismatch.field, mismatch.counter, mismatch.ledger, mismatch.difference) == (
        "settled",
        Decimal("90.00"),
        Decimal("80.00"),
        Decimal("10.00"),
    )
    client.force_login(finance)
    html = client.get(reverse("leaders:finance")).content.decode()
    assert 'data-mismatches="1"' in html
    assert f'<tr data-leader="{leader.pk}" data-field="settled"><td>王丽</td>' in html
    assert "¥90.00" in html and "¥80.00" in html and "¥10.00" in html
    # Nothing is corrected behind finance's back.
    assert CommissionAccount.objects.get(leader=leader).settled == Decimal("90.00")


def test_the_reconciliation_checks_reserved_and_withdrawn_too_in_one_query(
    waiting, leader, other_leader, django_assert_num_queries
):
    from leaders.commission.selectors import account_mismatches

    CommissionAccount.objects.create(leader=other_leader, withdrawn=Decimal("5.00"))
    CommissionAccount.objects.filter(leader=leader).update(reserved=Decimal("0.00"))
    with django_assert_num_queries(1):
        found = account_mismatches()
    assert [(m.leader_id, m.field, m.counter, m.ledger) for m in found] == [
        (leader.pk, "reserved", Decimal("0.00"), Decimal("30.00")),
        (other_leader.pk, "withdrawn", Decimal("5.00"), Decimal("0.00")),
    ]


def test_the_reconciliation_runs_every_night_after_the_settlement():
    from leaders.schedules import BEAT_SCHEDULE

    entry = BEAT_SCHEDULE["leaders-reconcile-commission-accounts"]
    assert entry["task"] == "leaders.commission.tasks.reconcile_commission_accounts_task"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {0})
