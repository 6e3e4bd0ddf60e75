"""Report pages: numbers from the facts, a pinned number of queries, permissions, bad ranges."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from analytics.facts import rebuild_facts
from analytics.selectors import leader_board, sales_report, shopper_behaviour
from tests.clock import TODAY

pytestmark = pytest.mark.django_db

D = Decimal
RANGE = {"start": (TODAY - timedelta(days=2)).isoformat(), "end": TODAY.isoformat()}


def _get(client, name, user, params=None, **kwargs):
    client.force_login(user)
    return client.get(reverse(f"analytics:{name}", kwargs=kwargs or None), params or {})


# --- numbers -------------------------------------------------------------------------------


def test_the_sales_report_totals_match_the_orders(history, built):
    report = sales_report(start=history.days[0], end=history.days[-1])
    # 74.60 on the first day, 37.30 on each of the two others; 10 orders in all.
    assert (report.total.orders, report.total.gmv) == (10, D("149.20"))
    assert report.total.refunds == D("3.90")
    assert report.total.aov == D("14.92")
    assert report.last_day.gmv == D("37.30")
    assert report.day_over_day == D("0")
    assert report.week_over_week is None  # nothing the week before
    names = [r.name for r in report.by_product]
    assert names == ["土鸡蛋", "西红柿"]
    assert [r.gmv for r in report.by_product] == [D("102.40"), D("46.80")]


def test_the_sales_page_renders_the_numbers_in_chinese_format(client, operator, history, built):
    response = _get(client, "sales", operator, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "¥149.20" in html
    assert "¥14.92" in html
    assert 'id="sales-chart-data"' in html
    assert "<script>" not in html.split("</head>")[1].replace('type="application/json"', "")


def test_the_leaderboard_ranks_by_gmv(history, built, leader, other_leader):
    rows = leader_board(start=history.days[0], end=history.days[-1])
    assert [r.leader_id for r in rows] == [other_leader.pk, leader.pk]
    mine = rows[1]
    assert (mine.gmv, mine.orders, mine.shoppers, mine.new_shoppers) == (D("73.50"), 6, 6, 2)
    assert mine.repurchase_rate == D(4) / D(6)
    assert mine.pickup_rate == D(0)


def test_behaviour_counts_frequency_cohorts_and_pairs(history, built):
    report = shopper_behaviour(start=history.days[0], end=history.days[-1])
    assert report.shoppers == 2
    assert report.repeat_rate == D(1)
    assert {b.label: b.shoppers for b in report.frequency}["6–10"] == 1
    assert {b.label: b.shoppers for b in report.frequency}["3–5"] == 1
    assert [(c.month.isoformat(), c.size, c.retained) for c in report.cohorts] == [
        ("2026-11-01", 2, [2])
    ]
    (pair,) = report.pairs
    assert pair.orders == 4
    assert pair.support == D(4) / D(10)
    # tomato in 7 orders, eggs in 7: 4 × 10 / (7 × 7)
    assert pair.lift == D("0.82")


# --- pages, query budgets ----------------------------------------------------------------


PAGES = [
    ("dashboard", 8),
    ("sales", 11),
    ("leaders", 5),
    ("behaviour", 11),
    ("groupbuy", 6),
    ("delivery", 8),
]


@pytest.mark.parametrize(("name", "budget"), PAGES)
def test_each_page_renders_within_its_query_budget(
    client, operator, history, built, name, budget, django_assert_max_num_queries
):
    client.force_login(operator)
    url = reverse(f"analytics:{name}")
    params = {} if name == "dashboard" else RANGE
    with django_assert_max_num_queries(budget):
        response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]


def test_a_longer_range_costs_no_more_queries(
    client, operator, history, built, django_assert_max_num_queries
):
    rebuild_facts(start=TODAY - timedelta(days=60), end=TODAY)
    client.force_login(operator)
    for name, budget in PAGES[1:]:
        with django_assert_max_num_queries(budget):
            response = client.get(
                reverse(f"analytics:{name}"),
                {"start": (TODAY - timedelta(days=700)).isoformat(), "end": TODAY.isoformat()},
            )
        assert response.status_code == 200


# --- who sees what ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n, _b in PAGES])
def test_finance_sees_every_report(client, finance, clock, name):
    assert _get(client, name, finance).status_code == 200


@pytest.mark.parametrize("name", [n for n, _b in PAGES])
def test_shoppers_and_leaders_never_reach_reports(client, shopper, leader, clock, name):
    assert _get(client, name, shopper).status_code == 403
    assert _get(client, name, leader.user).status_code == 403


def test_a_stranger_is_sent_to_log_in(client, clock):
    response = client.get(reverse("analytics:sales"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_leader_sees_their_own_numbers_and_never_another_leaders(
    client, history, built, leader, other_leader
):
    response = _get(client, "my_performance", leader.user)
    assert response.status_code == 200
    html = response.content.decode()
    assert "¥49.00" in html  # their own GMV over the 30 closed days (today is not closed)
    own = _get(client, "leader", leader.user, leader_id=leader.pk)
    assert own.status_code == 200
    other = _get(client, "leader", leader.user, leader_id=other_leader.pk)
    assert other.status_code == 404
    assert "¥" not in other.content.decode()


def test_an_operator_opens_any_leaders_trend(client, operator, history, built, other_leader):
    response = _get(client, "leader", operator, leader_id=other_leader.pk)
    assert response.status_code == 200
    html = response.content.decode()
    assert other_leader.real_name in html
    assert "¥50.10" in html  # 周明's GMV on the first day
    assert 'href="/reports/sales/"' in html  # the reports' navigation, not the leader desk
    assert _get(client, "leader", operator, leader_id=999999).status_code == 404


def test_a_shopper_has_no_performance_page(client, shopper, clock):
    assert _get(client, "my_performance", shopper).status_code == 403


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-11-20", "end": "2026-11-01"}, "结束日期早于开始日期"),
        ({"start": "2024-01-01", "end": "2026-11-01"}, "两年"),
        ({"start": "9999-12-01", "end": "9999-12-31"}, "今天"),
        ({"start": "2026-13-01", "end": "2026-11-01"}, "YYYY-MM-DD"),
        ({"warehouse": "999999"}, "没有这个仓库"),
        ({"community": "abc"}, "没有这个小区"),
    ],
)
def test_a_bad_range_or_filter_is_a_400_page_with_a_chinese_message(
    client, operator, clock, params, message, django_assert_max_num_queries
):
    client.force_login(operator)
    with django_assert_max_num_queries(7) as queries:
        response = client.get(reverse("analytics:sales"), params, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert not [q for q in queries.captured_queries if "analytics_" in q["sql"]]
    html = response.content.decode()
    assert message in html
    assert 'name="start"' in html  # the form is there to correct it
    assert "sales-chart-data" not in html  # nothing computed


def test_a_community_filter_narrows_every_table(history, built, point):
    report = sales_report(
        start=history.days[0], end=history.days[-1], community_id=point.community_id
    )
    # 幸福里: 20.60 + 3.90 a day for three days.
    assert (report.total.orders, report.total.gmv) == (6, D("73.50"))
    assert [(r.name, r.gmv) for r in report.by_product] == [
        ("土鸡蛋", D("38.40")),
        ("西红柿", D("35.10")),
    ]
    assert [r.name for r in report.by_community] == [point.community.name]


def test_the_leader_pages_run_a_fixed_number_of_queries(
    client, operator, leader, history, built, django_assert_max_num_queries
):
    client.force_login(operator)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("analytics:leader", kwargs={"leader_id": leader.pk}))
    assert response.status_code == 200
    client.force_login(leader.user)
    with django_assert_max_num_queries(4):  # the trend is one query, whatever the days
        response = client.get(reverse("analytics:my_performance"))
    assert response.status_code == 200


def test_a_leader_id_beyond_any_integer_is_a_404(client, operator, clock):
    client.force_login(operator)
    response = client.get("/reports/leaders/99999999999999999999999/")
    assert response.status_code == 404
