"""Reports on a phone: the charts draw from their JSON with 万/¥ axes, tables fit the width,
a backwards range is refused with a Chinese message and no chart."""

from __future__ import annotations

import pytest

from tests.clock import browser_clock
from tests.leaders.browsers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.ticking, pytest.mark.django_db(transaction=True)]


def test_an_operator_reads_the_sales_report_and_dashboard_on_a_phone(
    clock, page, context, live_server, operator, history, built
):
    sign_in(context, live_server, operator)
    browser_clock(context)
    page.goto(f"{live_server.url}/reports/sales/?start=2026-11-23&end=2026-11-25")
    chart = page.locator("[data-analytics-chart][data-chart-ready=true]")
    chart.wait_for()
    assert chart.get_attribute("data-chart-series") == "2"
    gmv = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('[data-analytics-chart]'))"
        ".getOption().series[0].data"
    )
    assert gmv == [74.6, 37.3, 37.3]
    assert page.locator("[data-total-gmv]").inner_text() == "¥149.20"
    assert page.locator("[data-total-aov]").inner_text() == "¥14.92"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.locator("#id_start").fill("2026-11-24")
    page.locator("#id_end").fill("2026-11-01")
    page.locator("[data-report-form] button[type=submit]").click()
    page.locator("[data-report-errors]").wait_for()
    assert "结束日期早于开始日期" in page.locator("[data-report-errors]").inner_text()
    assert page.locator("[data-analytics-chart]").count() == 0

    page.goto(f"{live_server.url}/reports/")
    page.locator("[data-analytics-chart][data-chart-ready=true]").wait_for()
    # 15:00 now, the cutoff at 23:00: about eight hours to go.
    page.wait_for_function(
        "document.querySelector('[data-cutoff] .countdown').textContent.startsWith('07:5')"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_leader_reads_their_own_performance_on_a_phone(
    clock, page, context, live_server, leader, history, built
):
    sign_in(context, live_server, leader.user)
    page.goto(f"{live_server.url}/reports/me/")
    page.locator("[data-analytics-chart][data-chart-ready=true]").wait_for()
    assert page.locator("[data-total-gmv]").inner_text() == "¥49.00"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
