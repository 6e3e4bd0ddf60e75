"""The operators' dashboard: today vs the same time last week, per hour, cutoff, low stock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from analytics.facts import rebuild_facts
from analytics.selectors import today_so_far
from catalog.cutoff import order_deadline
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TODAY, TOMORROW, at
from tests.orders.pickup_support import paid_order

pytestmark = pytest.mark.django_db
D = Decimal
LAST_WEEK = TODAY - timedelta(days=7)


@pytest.fixture
def two_weeks(clock, shopper, other_shopper, point, sku, egg_sku):
    """Last week: 10:00 (counts) and 16:00 (after this hour of the day: does not).
    Today: 09:30 and 11:00 (two orders), so far at 15:00."""
    for day in (LAST_WEEK + timedelta(days=1), TOMORROW):
        for s in (sku, egg_sku):
            set_stock(sku=s, warehouse=point.warehouse, delivery_date=day, quantity=50)
    clock.move_to(at(10, 0, day=LAST_WEEK))
    paid_order(shopper, point, (sku, 1))  # ¥3.90
    clock.move_to(at(16, 0, day=LAST_WEEK))
    paid_order(other_shopper, point, (egg_sku, 1))  # after 15:00: not counted
    clock.move_to(at(9, 30))
    paid_order(shopper, point, (sku, 2), (egg_sku, 1))  # ¥20.60
    clock.move_to(at(11, 0))
    paid_order(other_shopper, point, (egg_sku, 2))  # ¥25.60
    clock.move_to(NOON_ISH)


def test_today_so_far_compares_with_the_same_time_last_week(two_weeks):
    result = today_so_far(now=NOON_ISH)
    assert (result.today.orders, result.today.gmv) == (2, D("46.20"))
    assert (result.last_week.orders, result.last_week.gmv) == (1, D("3.90"))
    assert result.today.hours[9] == 1 and result.today.hours[11] == 1
    assert sum(result.today.hours) == 2
    # The hours: last week's whole day (what is still to come today).
    assert result.last_week.hours[10] == 1 and result.last_week.hours[16] == 1
    assert result.orders_change == D(1)  # +100%


def test_the_dashboard_shows_today_the_cutoff_and_what_runs_out(
    client, operator, two_weeks, point, django_assert_max_num_queries
):
    scarce = SkuFactory(product__name="草莓", spec="250g/盒")
    set_stock(sku=scarce, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=3)
    plenty = SkuFactory(product__name="大白菜", spec="1颗")
    set_stock(sku=plenty, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=80)
    rebuild_facts(start=TODAY - timedelta(days=8), end=TODAY - timedelta(days=1))
    client.force_login(operator)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("analytics:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "¥46.20" in html  # today so far
    assert "+100.0%" in html  # orders vs last week
    deadline = order_deadline(warehouse=point.warehouse, at=NOON_ISH)
    assert f'data-countdown="{deadline.cutoff_iso}"' in html
    assert f'data-sku="{scarce.pk}"' in html
    assert f'data-sku="{plenty.pk}"' not in html
    assert 'id="dashboard-chart-data"' in html


def test_the_hourly_chart_leaves_the_hours_to_come_empty(client, operator, two_weeks):
    client.force_login(operator)
    response = client.get(reverse("analytics:dashboard"))
    chart = response.context["chart"]
    today = chart["series"][0]["data"]
    assert today[9] == 1 and today[15] == 0
    assert today[16] is None and today[23] is None
    assert chart["series"][1]["data"][16] == 1  # last week's whole day is drawn


def test_a_leader_or_shopper_never_sees_the_dashboard(client, shopper, leader, clock):
    for user in (shopper, leader.user):
        client.force_login(user)
        assert client.get(reverse("analytics:dashboard")).status_code == 403
