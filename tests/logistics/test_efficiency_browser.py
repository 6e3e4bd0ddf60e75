"""The efficiency page on a phone: the chart draws from its JSON, tables fit, the
range form refuses a backwards range with a message."""

from __future__ import annotations

import pytest

from tests.leaders.browsers import sign_in

from .test_efficiency import fleet  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.ticking, pytest.mark.django_db(transaction=True)]


def test_an_operator_reads_the_efficiency_page_on_a_phone(
    clock,
    page,
    context,
    live_server,
    operator,
    fleet,  # noqa: F811 - fixture
):
    sign_in(context, live_server, operator)

    page.goto(f"{live_server.url}/delivery/reports/efficiency/?start=2026-11-23&end=2026-11-24")

    chart = page.locator("[data-efficiency-chart][data-chart-ready=true]")
    chart.wait_for()
    assert chart.get_attribute("data-chart-series") == "2"
    names = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('[data-efficiency-chart]'))"
        ".getOption().series.map(function (s) { return s.name + ':' + s.data.join(','); })"
    )
    assert names == ["R11 北线:33.3,100", "R12 南线:0,"]
    assert page.locator("[data-total-rate]").inner_text() == "50.0%"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator('[data-export="xlsx"]').get_attribute("href") == (
        "/delivery/reports/efficiency/export.xlsx?start=2026-11-23&end=2026-11-24"
    )

    page.locator("#id_start").fill("2026-11-24")
    page.locator("#id_end").fill("2026-11-01")
    page.get_by_role("button", name="查看").click()
    page.locator("[data-range-errors]").wait_for()
    assert page.locator("[data-range-errors]").inner_text() == "结束日期早于开始日期。"
    assert page.locator("[data-efficiency-chart]").count() == 0
