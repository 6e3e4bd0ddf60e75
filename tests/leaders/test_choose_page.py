"""The choose page: nearest first from the browser's location, or search by community."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from leaders import selectors, services
from tuangou import timeutils

from .factories import CommunityFactory, PickupPointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_points(leader, other_leader):
    yuelu = CommunityFactory(name="麓谷小镇", district="岳麓区")
    kaifu = CommunityFactory(name="四方坪小区", district="开福区")
    far = PickupPointFactory(
        leader=other_leader,
        community=kaifu,
        name="四方坪超市",
        latitude=Decimal("28.250000"),
        longitude=Decimal("113.010000"),
    )
    near = PickupPointFactory(
        leader=leader,
        community=yuelu,
        name="麓谷便利店",
        latitude=Decimal("28.229000"),
        longitude=Decimal("112.939000"),
    )
    nowhere = PickupPointFactory(leader=leader, community=yuelu, name="没有坐标的点")
    return near, far, nowhere


def test_points_are_listed_nearest_first_from_the_browser_location(three_points):
    near, far, nowhere = three_points
    points = selectors.points_for_choosing(
        latitude=Decimal("28.2280"), longitude=Decimal("112.9388")
    )
    assert [p.name for p in points] == [near.name, far.name, nowhere.name]
    assert points[0].distance_km == pytest.approx(0.113, abs=0.01)
    assert points[1].distance_km == pytest.approx(7.35, abs=0.1)
    assert points[2].distance_km is None


def test_the_page_shows_distances_when_located(client, three_points):
    page = client.get(reverse("leaders:choose_point"), {"lat": "28.2280", "lng": "112.9388"})
    html = page.content.decode()
    assert html.index("麓谷便利店") < html.index("四方坪超市")
    assert "0.1 公里" in html
    assert "7.3 公里" in html or "7.4 公里" in html
    assert "已按距离由近到远排序。" in html


def test_bad_coordinates_are_ignored(client, three_points):
    response = client.get(reverse("leaders:choose_point"), {"lat": "abc", "lng": "999"})
    assert response.status_code == 200
    assert "公里" not in response.content.decode()


def test_points_can_be_searched_by_community_name(client, three_points):
    page = client.get(reverse("leaders:choose_point"), {"q": "四方坪"}).content.decode()
    assert "四方坪超市" in page
    assert "麓谷便利店" not in page


def test_a_search_with_no_match_says_so(client, three_points):
    page = client.get(reverse("leaders:choose_point"), {"q": "不存在的小区"}).content.decode()
    assert "没有找到自提点，换个小区名试试。" in page


def test_a_paused_point_tells_shoppers_there_is_no_pickup_today(client, pickup_point):
    with time_machine.travel(timeutils.local_datetime(date(2026, 11, 20), time(9, 0)), tick=False):
        services.pause_pickup_point_for_day(point=pickup_point, day=date(2026, 11, 20))
        page = client.get(reverse("leaders:choose_point")).content.decode()
    assert "今日暂停自提" in page


def test_the_page_answers_htmx_with_the_list_only(client, three_points):
    response = client.get(reverse("leaders:choose_point"), {"q": "麓谷"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "麓谷便利店" in html


def test_anonymous_visitors_must_sign_in_to_choose(client, pickup_point):
    response = client.post(reverse("leaders:choose_point"), {"point": pickup_point.pk})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_request_login_code"))


def test_the_open_days_rule_for_orders(pickup_point):
    pickup_point.opening_hours = {"0": ["08:00", "21:00"]}  # Mondays only
    pickup_point.save()
    monday, tuesday = date(2026, 11, 23), date(2026, 11, 24)
    with time_machine.travel(timeutils.local_datetime(date(2026, 11, 20), time(9, 0)), tick=False):
        assert selectors.pickup_point_is_open_on(pickup_point=pickup_point, day=monday)
        assert not selectors.pickup_point_is_open_on(pickup_point=pickup_point, day=tuesday)
        services.pause_pickup_point_for_day(point=pickup_point, day=monday)
        assert not selectors.pickup_point_is_open_on(pickup_point=pickup_point, day=monday)


def test_paused_days_are_listed_for_notices(pickup_point):
    with time_machine.travel(timeutils.local_datetime(date(2026, 11, 20), time(9, 0)), tick=False):
        for day in (date(2026, 11, 21), date(2026, 11, 25), date(2026, 12, 20)):
            services.pause_pickup_point_for_day(point=pickup_point, day=day)
    days = selectors.paused_days_for_point(pickup_point=pickup_point, start=date(2026, 11, 20))
    assert days == [date(2026, 11, 21), date(2026, 11, 25)]
