"""The money pages on a phone: balances, the 30-day chart, a withdrawal."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from leaders.commission.models import Withdrawal
from leaders.commission.services import add_adjustment, settle_commissions

from .browsers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.ticking, pytest.mark.django_db(transaction=True)]


def test_a_leader_reads_their_balance_and_withdraws_on_a_phone(
    clock, page, context, live_server, leader, leader_user, operator, tmp_path
):
    add_adjustment(
        leader=leader, amount="66.60", reason="拉新奖励", entered_by=operator, approved_by=operator
    )
    settle_commissions()
    sign_in(context, live_server, leader_user)

    page.goto(f"{live_server.url}/leader/money/")
    assert page.locator('[data-balance="available"]').inner_text() == "¥66.60"
    page.locator("[data-money-chart][data-chart-ready=true]").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # An adjustment is not a day's sales: today's column reads ¥0.00 (a tap
    # on its empty column, above the axis, picks the day).
    box = page.locator("[data-money-chart]").bounding_box()
    x, y = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('[data-money-chart]'))"
        ".convertToPixel({seriesIndex: 0}, [29, 0])"
    )
    page.mouse.click(box["x"] + x, box["y"] + y - 20)
    assert page.locator("[data-chart-detail]").inner_text().strip().endswith("¥0.00")
    if os.environ.get("MONEY_SCREENSHOTS"):
        page.screenshot(path=str(tmp_path / "money.png"), full_page=True)

    page.get_by_role("link", name="提现").first.click()
    page.get_by_label("收款方式").select_option("bank")
    assert page.locator(".bank-only").first.is_visible()
    page.get_by_label("金额（元）").fill("50")
    page.get_by_label("开户行").fill("长沙银行")
    page.get_by_label("银行账号").fill("6214000011112222")
    page.get_by_role("button", name="申请提现").click()

    page.wait_for_selector("[data-withdrawal]")
    assert page.locator("[data-available]").inner_text() == "¥16.60"
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.amount == Decimal("50.00")
    assert withdrawal.number in page.locator("[data-withdrawal]").first.inner_text()
