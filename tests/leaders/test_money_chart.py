# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""The leader's 30-day money chart: the view hands the chart its data as JSON
(json_script, no inline script), every day with its amount to the fen; on a
phone ECharts draws it with a ¥ value axis, the best day and the daily average
marked, and a tap on a day shows its amount."""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from leaders.commission.models import CommissionEntry
from tests.orders.conftest import (  # noqa: F401 - fixtures
    clock,
    community,
    leader,
    pickup_point,
    point,
    sku,
)

from .browsers import new_phone
from .money import make_bulk_entries, paid_order

TODAY = "2026-11-25"  # NOON_ISH, the clock fixture's moment
FOUR_DAYS_AGO = "2026-11-21"


@pytest.fixture
def two_days(clock, shopper, point, sku, leader, leader_user):
    """Three 0.37 entries four days ago, and today's real order's commission."""
    make_bulk_entries(leader=leader, point=point, user=shopper, sku=sku, count=3, orders=3)
    order = paid_order(shopper, point, (sku, 2))
    today = CommissionEntry.objects.get(order=order).amount
    assert today > 0
    return today


def _chart_json(html: str) -> dict:
    found = re.search(r'<script id="money-chart-data" type="application/json">(.*?)</script>', html)
    assert found, "no chart data"
    return json.loads(found.group(1))


@pytest.mark.django_db
def test_the_page_hands_the_chart_every_day_and_its_amount(client, two_days, leader_user):
    client.force_login(leader_user)
    html = client.get(reverse("leaders:money")).content.decode()
    data = _chart_json(html)

    assert len(data["dates"]) == len(data["labels"]) == len(data["amounts"]) == 30
    assert (data["dates"][0], data["dates"][-1]) == ("2026-10-27", TODAY)
    assert (data["labels"][0], data["labels"][-1]) == ("10-27", "11-25")
    by_day = dict(zip(data["dates"], data["amounts"], strict=True))
    assert by_day[FOUR_DAYS_AGO] == "1.11"
    assert by_day[TODAY] == f"{two_days:.2f}"
    assert [d for d, a in by_day.items() if a != "0.00"] == [FOUR_DAYS_AGO, TODAY]
    assert data["total"] == f"{Decimal('1.11') + two_days:.2f}"
    assert data["locale"] == "ZH"
    assert data["text"] == {
        "series": "佣金",
        "max": "最高",
        "average": "日均",
        "empty": "近 30 天还没有佣金。",
    }
    # The same numbers without JavaScript: the per-day list, newest first.
    assert re.findall(r'data-chart-day="([\d-]+)"', html) == [TODAY, FOUR_DAYS_AGO]
    assert f"<b data-chart-total>¥{data['total']}</b>" in html


@pytest.mark.django_db
def test_the_page_has_no_inline_script(client, two_days, leader_user):
    client.force_login(leader_user)
    html = client.get(reverse("leaders:money")).content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts
    for attrs in scripts:
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
    assert '/static/js/vendor/echarts/echarts.common.min.js"' in html


@pytest.mark.django_db
def test_a_new_leader_sees_an_empty_chart_that_says_so(client, clock, leader, leader_user):
    client.force_login(leader_user)
    html = client.get(reverse("leaders:money")).content.decode()
    data = _chart_json(html)
    assert set(data["amounts"]) == {"0.00"} and data["total"] == "0.00"
    assert "近 30 天还没有佣金。" in html
    assert "data-chart-day=" not in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_chart_has_a_value_axis_marks_and_answers_a_tap(
    browser, browser_context_args, live_server, two_days, leader_user, tmp_path
):
    context, page = new_phone(browser, browser_context_args, live_server, leader_user)
    page.goto(f"{live_server.url}{reverse('leaders:money')}")
    chart = page.locator("[data-money-chart][data-chart-ready=true]")
    chart.wait_for()

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = chart.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] == 200
    texts = [t.strip() for t in chart.locator("svg text").all_text_contents()]
    # The x axis (a label a week), the ¥ value axis, the best day, the average.
    assert {"10-27", "11-03", "11-10", "11-17", "11-24"} <= set(texts)
    assert "¥0" in texts and any(re.fullmatch(r"¥\d+(\.\d+)?", t) and t != "¥0" for t in texts)
    assert f"¥{two_days:.2f}" in texts or "¥1.11" in texts  # the best day's pin
    average = (Decimal("1.11") + two_days) / 30
    assert f"日均 ¥{average:.2f}" in texts

    # A tap on the column of four days ago, above its bar. Under a loaded
    # machine the chart may still be laying itself out (ResizeObserver) when
    # the first tap lands: tap again, at the column's position as it is then,
    # until the detail line answers (a few tries; the assertion is the same).
    detail = page.locator("[data-chart-detail]")
    for _attempt in range(4):
        x, y = page.evaluate(
            """() => {
                const el = document.querySelector('[data-money-chart]');
                return echarts.getInstanceByDom(el).convertToPixel({seriesIndex: 0}, [25, 0]);
            }"""
        )
        chart.click(position={"x": x, "y": y - 40})
        try:
            expect(detail).to_have_text(f"{FOUR_DAYS_AGO} ¥1.11", timeout=2000)
            break
        except AssertionError:
            continue
    expect(detail).to_have_text(f"{FOUR_DAYS_AGO} ¥1.11")
    if os.environ.get("MONEY_SCREENSHOTS"):
        page.screenshot(path=str(tmp_path / "money-chart.png"), full_page=True)
    context.close()
