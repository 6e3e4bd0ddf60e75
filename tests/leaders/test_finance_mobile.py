# ruff: noqa: F811 - the clock fixture imported from tests.catalog.conftest
"""Finance pages on a 390x844 phone: no page scrolls sideways, and every action
(通过, 驳回, 标记已打款) is on screen and can be tapped."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse

from leaders.commission.models import CommissionAccount, Withdrawal, WithdrawalStatus
from leaders.commission.services import add_adjustment, request_withdrawal, settle_commissions
from tests.catalog.conftest import clock  # noqa: F401 - fixture

from .browsers import new_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390


@pytest.fixture
def two_waiting(clock, leader, other_leader, operator):
    """Two leaders, each with a requested withdrawal (long bank details, as in life)."""
    made = []
    for who, amount, account in (
        (leader, "120.00", "6214000011112222333"),
        (other_leader, "45.50", "6228480402564890018"),
    ):
        add_adjustment(
            leader=who,
            amount="300.00",
            reason="拉新奖励",
            entered_by=operator,
            approved_by=operator,
        )
        settle_commissions()
        made.append(
            request_withdrawal(
                leader=who,
                amount=amount,
                method="bank",
                account_name=who.real_name,
                bank_name="中国农业银行长沙岳麓支行营业部",
                account_number=account,
            )
        )
    return made


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert widths[2] == WIDTH
    assert max(widths[:2]) <= WIDTH, widths


def _on_screen(page, locator) -> None:
    """Visible, inside the viewport's width, and big enough for a thumb."""
    locator.scroll_into_view_if_needed()
    assert locator.is_visible()
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box
    assert box["height"] >= 32, box


def _shot(page, tmp_path, name: str) -> None:
    if os.environ.get("FINANCE_SCREENSHOTS"):
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def test_finance_approves_rejects_and_pays_on_a_phone(
    browser, browser_context_args, live_server, two_waiting, finance, tmp_path
):
    mine, theirs = two_waiting
    # A leader whose balance counter drifted: the mismatch table shows on the home page.
    CommissionAccount.objects.filter(leader_id=theirs.leader_id).update(settled=F("settled") + 1)
    context, page = new_phone(browser, browser_context_args, live_server, finance)
    url = live_server.url

    page.goto(url + reverse("leaders:finance"))
    assert page.locator("[data-mismatches]").is_visible()
    _no_sideways_scroll(page)
    _shot(page, tmp_path, "finance-home")
    period = page.locator("[data-period] a").first
    _on_screen(page, period)
    period.click()
    page.wait_for_selector("[data-settlement]")
    _no_sideways_scroll(page)
    _shot(page, tmp_path, "finance-period")

    page.goto(url + reverse("leaders:finance_withdrawals"))
    _no_sideways_scroll(page)
    _shot(page, tmp_path, "finance-withdrawals")
    approve = page.locator(f'[data-withdrawal="{mine.number}"]').get_by_role("button", name="通过")
    _on_screen(page, approve)
    approve.click()  # Playwright's click fails if anything covers the button
    assert page.locator(".msg-success").inner_text() == (
        f"已通过提现 {mine.number}（¥120.00），待打款。"
    )
    mine.refresh_from_db()
    assert mine.status == WithdrawalStatus.APPROVED

    row = page.locator(f'[data-withdrawal="{theirs.number}"]')
    reason = row.get_by_label("驳回原因")
    _on_screen(page, reason)
    reason.fill("户名与实名不符")
    reject = row.get_by_role("button", name="驳回")
    _on_screen(page, reject)
    reject.click()
    assert page.locator(".msg-success").inner_text() == (
        f"已驳回提现 {theirs.number}，¥45.50 已退回周明的可提现余额。"
    )
    theirs.refresh_from_db()
    assert (theirs.status, theirs.reject_reason) == (WithdrawalStatus.REJECTED, "户名与实名不符")

    page.goto(url + reverse("leaders:finance_withdrawals") + "?status=approved")
    _no_sideways_scroll(page)
    _shot(page, tmp_path, "finance-approved")
    row = page.locator(f'[data-withdrawal="{mine.number}"]')
    # The checkbox's label is the thumb-sized target.
    assert row.get_by_role("checkbox").is_visible()
    _on_screen(page, row.locator("label", has_text="加入打款批次"))
    reference = row.get_by_label("转账流水号")
    _on_screen(page, reference)
    reference.fill("NYYH-20261125-0001")
    paid = row.get_by_role("button", name="标记已打款")
    _on_screen(page, paid)
    paid.click()
    assert page.locator(".msg-success").inner_text() == (
        f"提现 {mine.number}（¥120.00）已标记为已打款，转账流水号 NYYH-20261125-0001。"
    )
    _no_sideways_scroll(page)
    mine.refresh_from_db()
    assert (mine.status, mine.transfer_reference) == (WithdrawalStatus.PAID, "NYYH-20261125-0001")
    assert Withdrawal.objects.get(pk=theirs.pk).amount == Decimal("45.50")
    context.close()
