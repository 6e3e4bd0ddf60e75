"""拼团 and delivery facts: groups made through the groupbuy services, runs as logistics'
efficiency tests set them; the reports agree with logistics' own numbers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from analytics.facts import build_delivery_facts, build_groupbuy_facts, rebuild_facts
from analytics.models import DeliveryRunFact, GroupBuyDayFact
from analytics.selectors import delivery_report, groupbuy_report
from groupbuy.models import Group, GroupStatus
from groupbuy.services import expire_group, join_group, open_group
from logistics.selectors import delivery_efficiency
from tests.clock import NOON_ISH, TODAY
from tests.groupbuy.conftest import campaign, make_campaign, pay, sku  # noqa: F401 - fixtures
from tests.leaders.factories import UserFactory
from tests.logistics.conftest import driver, other_driver  # noqa: F401 - fixtures
from tests.logistics.test_efficiency import D1, D2, fleet  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def groups(clock, campaign, shopper, other_shopper, point):  # noqa: F811
    """Today: alice opens and bob fills a group in 30 min; carol opens one nobody joins,
    which fails at its 24 h deadline tomorrow."""
    first = open_group(campaign=campaign, user=shopper, pickup_point=point)
    pay(first.order)
    clock.shift(timedelta(minutes=30))
    second = join_group(
        group=Group.objects.get(pk=first.group_id), user=other_shopper, pickup_point=point
    )
    pay(second.order)
    carol = UserFactory(nickname="王阿姨")
    lonely = open_group(campaign=campaign, user=carol, pickup_point=point)
    pay(lonely.order)
    clock.move_to(NOON_ISH + timedelta(hours=25))
    assert expire_group(group_id=lonely.group_id) == "failed"
    assert Group.objects.get(pk=first.group_id).status == GroupStatus.SUCCEEDED
    return first.group, lonely.group


def test_groupbuy_facts_count_started_filled_failed_members_and_time_to_fill(
    groups,
    campaign,  # noqa: F811
):
    build_groupbuy_facts(start=TODAY, end=TODAY + timedelta(days=1))
    rows = {r.day: r for r in GroupBuyDayFact.objects.filter(campaign=campaign)}
    today, tomorrow = rows[TODAY], rows[TODAY + timedelta(days=1)]
    assert (today.started, today.filled, today.failed, today.members) == (2, 1, 0, 3)
    # GMV as everywhere: goods at the 团购价 (¥3.90) before the 拼团 discount.
    assert today.gmv == D("11.70")
    assert today.fill_seconds == 30 * 60
    assert (tomorrow.started, tomorrow.filled, tomorrow.failed, tomorrow.members) == (0, 0, 1, 0)

    report = groupbuy_report(start=TODAY, end=TODAY + timedelta(days=1))
    (row,) = report.campaigns
    assert (row.title, row.started, row.filled, row.failed) == ("西红柿 2人团", 2, 1, 1)
    assert row.fill_rate == D("0.5")
    assert row.average_fill_minutes == D("30.0")
    assert report.total.gmv == D("11.70")


def test_groupbuy_page_shows_the_campaign(client, operator, groups):
    rebuild_facts(start=TODAY, end=TODAY + timedelta(days=1))
    client.force_login(operator)
    response = client.get(
        "/reports/groupbuy/",
        {"start": TODAY.isoformat(), "end": (TODAY + timedelta(days=1)).isoformat()},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "西红柿 2人团" in html
    assert "50.0%" in html
    assert "¥11.70" in html


def test_delivery_facts_agree_with_logistics_efficiency(fleet):  # noqa: F811
    build_delivery_facts(start=D1 - timedelta(days=30), end=D2)
    # The cancelled run is left out; the old one (20 days before) is in its own day.
    assert DeliveryRunFact.objects.count() == 4
    ours = delivery_report(start=D1, end=D2)
    theirs = delivery_efficiency(start=D1, end=D2)
    assert ours.total.runs == theirs.total.runs == 3
    assert (ours.total.measured, ours.total.on_time, ours.total.late) == (
        theirs.total.measured,
        theirs.total.on_time,
        theirs.total.late,
    )
    assert ours.total.late_minutes == 75  # 10 + 20 + 45
    assert ours.total.max_late_minutes == 45
    assert ours.total.average_late_minutes == D("25.0")
    routes = {r.name.split()[0]: r for r in ours.by_route}
    assert (routes["R11"].on_time, routes["R11"].measured) == (3, 5)
    assert (routes["R12"].late, routes["R12"].late_minutes) == (1, 45)
    drivers = {r.name: r for r in ours.by_driver}
    assert drivers["赵师傅"].max_late_minutes == 45
    assert drivers["李师傅"].on_time_rate == D(1) / D(3)


def test_the_delivery_page_shows_routes_and_drivers(client, operator, fleet):  # noqa: F811
    build_delivery_facts(start=D1, end=D2)
    client.force_login(operator)
    response = client.get("/reports/delivery/", {"start": D1.isoformat(), "end": D2.isoformat()})
    html = response.content.decode()
    assert response.status_code == 200
    assert "R11 北线" in html and "赵师傅" in html
    assert "25.0 / 45" in html


def test_a_rebuild_of_runs_is_idempotent(fleet):  # noqa: F811
    first = build_delivery_facts(start=D1, end=D2)
    rows = sorted(DeliveryRunFact.objects.values_list("run_id", "on_time", "late_minutes"))
    assert build_delivery_facts(start=D1, end=D2) == first == 3
    assert sorted(DeliveryRunFact.objects.values_list("run_id", "on_time", "late_minutes")) == rows
