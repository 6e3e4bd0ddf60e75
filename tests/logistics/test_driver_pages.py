"""The driver's phone pages: who gets in, what they see, the buttons, IDOR, bad input.

李师傅 (driver) drives R01 (幸福里便利店 then 阳光花园物业); 赵师傅
(other_driver) drives R02 through a third point. Every URL of a run or stop
is tried with the other driver's id: 404, and nothing written.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from logistics.models import RunStatus, RunStop, StopException, StopStatus
from logistics.services.runs import depart_run, hand_over_stop
from orders.models import OrderStatus
from tests.clock import TOMORROW
from tests.leaders.factories import PickupPointFactory

from .conftest import RouteFactory, delivery_morning, paid_order, put_on_route
from .runs_support import make_run, stops_of

pytestmark = pytest.mark.django_db


def jpeg(size=(400, 300)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "JPEG")
    return SimpleUploadedFile("p.jpg", buffer.getvalue(), content_type="image/jpeg")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def follow_messages(client, response) -> list[str]:
    assert response.status_code == 302, response
    page = client.get(response["Location"])
    return [str(m) for m in page.context["messages"]]


@pytest.fixture
def runs(
    clock, make_user, shopper, other_shopper, point, other_pickup_point, sku, route, other_driver
):
    """Tomorrow: R01 (李师傅) with alice's and bob's orders; R02 (赵师傅) elsewhere."""
    orders = {
        "alice": paid_order(shopper, point, (sku, 2)),
        "bob": paid_order(other_shopper, other_pickup_point, (sku, 1)),
    }
    third = PickupPointFactory(warehouse=point.warehouse, name="桃子湖自提点")
    orders["carol"] = paid_order(make_user("carol", "+8613800000003"), third, (sku, 1))
    r02 = RouteFactory(code="R02", name="河西线", default_driver=other_driver)
    put_on_route(r02, third)
    sku.weight_grams = 500  # the wave weighs each stop: alice's two make 1.0 kg
    sku.save(update_fields=["weight_grams"])
    mine, theirs = make_run(route, TOMORROW), make_run(r02, TOMORROW)
    clock.move_to(delivery_morning(6))
    return mine, theirs, orders


@pytest.fixture
def as_driver(client, driver):
    client.force_login(driver.user)
    return client


def _urls(run, stop) -> list[tuple[str, str]]:
    return [
        ("get", reverse("logistics:driver_run", args=[run.pk])),
        ("post", reverse("logistics:driver_depart", args=[run.pk])),
        ("post", reverse("logistics:driver_arrive", args=[stop.pk])),
        ("post", reverse("logistics:driver_hand_over", args=[stop.pk])),
        ("post", reverse("logistics:driver_exception", args=[stop.pk])),
    ]


class TestAccess:
    def test_signed_out_visitors_are_sent_to_sign_in(self, client, runs):
        mine, _theirs, _orders = runs
        stop = stops_of(mine)[0]
        for method, url in [("get", reverse("logistics:driver_today")), *_urls(mine, stop)]:
            response = getattr(client, method)(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("account_request_login_code"))
        assert RunStop.objects.get(pk=stop.pk).status == StopStatus.PENDING

    def test_users_without_a_driver_profile_get_403(self, client, runs, shopper, operator):
        mine, _theirs, _orders = runs
        for user in (shopper, operator):
            client.force_login(user)
            response = client.get(reverse("logistics:driver_today"))
            assert response.status_code == 403
            assert "这里是配送员的页面" in response.content.decode()
            response = client.post(reverse("logistics:driver_depart", args=[mine.pk]))
            assert response.status_code == 403
        mine.refresh_from_db()
        assert mine.status == RunStatus.PLANNED

    def test_an_inactive_driver_gets_403(self, client, runs, driver):
        driver.is_active = False
        driver.save(update_fields=["is_active"])
        client.force_login(driver.user)
        assert client.get(reverse("logistics:driver_today")).status_code == 403

    def test_another_drivers_run_and_stops_are_not_found_anywhere(self, client, runs, other_driver):
        mine, _theirs, orders = runs
        stop = stops_of(mine)[0]
        client.force_login(other_driver.user)
        for method, url in _urls(mine, stop):
            data = {"kind": StopException.POINT_CLOSED} if "exception" in url else {}
            assert getattr(client, method)(url, data).status_code == 404, url
        mine.refresh_from_db()
        assert mine.status == RunStatus.PLANNED
        stop.refresh_from_db()
        assert (stop.status, stop.exception) == (StopStatus.PENDING, "")
        orders["alice"].refresh_from_db()
        assert orders["alice"].status == OrderStatus.CONFIRMED

    def test_unknown_ids_are_not_found(self, as_driver, runs):
        for method, url in _urls(type("R", (), {"pk": 999999})(), type("S", (), {"pk": 999999})()):
            assert getattr(as_driver, method)(url).status_code == 404, url

    def test_the_buttons_take_only_post(self, as_driver, runs):
        mine, _theirs, _orders = runs
        stop = stops_of(mine)[0]
        for method, url in _urls(mine, stop):
            if method == "post":
                assert as_driver.get(url).status_code == 405, url
        mine.refresh_from_db()
        assert mine.status == RunStatus.PLANNED

    def test_a_post_without_the_csrf_token_is_refused(self, runs, driver):
        mine, _theirs, _orders = runs
        client = Client(enforce_csrf_checks=True)
        client.force_login(driver.user)
        response = client.post(reverse("logistics:driver_depart", args=[mine.pk]))
        assert response.status_code == 403
        mine.refresh_from_db()
        assert mine.status == RunStatus.PLANNED


class TestPages:
    def test_today_lists_only_my_runs_of_today(self, as_driver, runs, route, clock):
        mine, _theirs, _orders = runs
        response = as_driver.get(reverse("logistics:driver_today"))
        html = response.content.decode()
        assert response.status_code == 200
        assert "今天的配送任务" in html
        assert re.findall(r'data-run="(\d+)"', html) == [str(mine.pk)]
        assert "R01 岳麓线" in html
        assert "已完成 0/2 个站点" in html
        assert "06:00 出发" in html
        assert 'data-run-status="planned">待出发<' in html
        # The day before, tomorrow's run is not "today".
        clock.move_to(delivery_morning(6) - timedelta(days=1))
        html = as_driver.get(reverse("logistics:driver_today")).content.decode()
        assert "data-run=" not in html
        assert "今天没有你的配送任务。" in html

    def test_a_run_of_an_earlier_day_still_on_the_road_stays_listed(self, as_driver, runs, clock):
        mine, _theirs, _orders = runs
        depart_run(run=mine, driver=mine.driver)
        clock.move_to(delivery_morning(6) + timedelta(days=1))
        html = as_driver.get(reverse("logistics:driver_today")).content.decode()
        assert re.findall(r'data-run="(\d+)"', html) == [str(mine.pk)]
        assert "11-26 的任务还在配送中" in html
        # Once finished it is gone from the next days' list.
        RunStop.objects.filter(run=mine).update(status=StopStatus.HANDED_OVER)
        mine.status = RunStatus.FINISHED
        mine.save(update_fields=["status"])
        html = as_driver.get(reverse("logistics:driver_today")).content.decode()
        assert "data-run=" not in html

    def test_the_run_page_shows_the_stops_in_order_with_what_the_driver_needs(
        self, as_driver, runs, point, other_pickup_point
    ):
        mine, _theirs, _orders = runs
        first, second = stops_of(mine)
        html = as_driver.get(reverse("logistics:driver_run", args=[mine.pk])).content.decode()
        assert re.findall(r'data-stop="(\d+)"', html) == [str(first.pk), str(second.pk)]
        assert html.index("幸福里便利店") < html.index("阳光花园物业")
        assert "长沙市岳麓区麓谷大道100号" in html
        assert (
            'href="https://uri.amap.com/marker?position=112.938800,28.228000'
            "&amp;name=%E5%B9%B8%E7%A6%8F%E9%87%8C%E4%BE%BF%E5%88%A9%E5%BA%97"
            '&amp;src=tuangou&amp;coordinate=gaode&amp;callnative=1"'
        ) in html
        assert 'href="tel:+8613800000011"' in html  # 王丽, the leader of 幸福里
        assert "团长 王丽" in html
        assert "<b data-orders>1</b>" in html
        assert "<b data-crates>1</b>" in html
        assert "<b data-due>10:00</b>" in html
        assert "<b>1.0 kg</b>" in html
        assert "data-depart" in html
        assert "data-arrive" not in html  # not departed yet
        assert "请先出发，再到达各站点。" in html
        assert "<script" not in html.split("</head>")[1]  # no inline script in the body

    def test_a_point_without_coordinates_links_to_a_map_search(self, as_driver, runs, point):
        mine, _theirs, _orders = runs
        point.latitude = point.longitude = None
        point.save(update_fields=["latitude", "longitude"])
        html = as_driver.get(reverse("logistics:driver_run", args=[mine.pk])).content.decode()
        assert (
            "https://uri.amap.com/search?keyword=%E9%95%BF%E6%B2%99%E5%B8%82"
            "%E5%B2%B3%E9%BA%93%E5%8C%BA%E9%BA%93%E8%B0%B7%E5%A4%A7%E9%81%93100%E5%8F%B7"
            "&amp;src=tuangou"
        ) in html

    def test_the_run_page_reads_a_fixed_number_of_queries(
        self, as_driver, runs, django_assert_num_queries
    ):
        mine, _theirs, _orders = runs
        url = reverse("logistics:driver_run", args=[mine.pk])
        as_driver.get(url)
        # driver, run, the uncollected goods to take back, stops (points and
        # leaders joined); the session and the signed-in user are in Redis
        with django_assert_num_queries(4):
            assert as_driver.get(url).status_code == 200


class TestButtons:
    def test_depart_arrive_hand_over_through_the_pages(self, as_driver, runs, clock):
        mine, _theirs, orders = runs
        first, second = stops_of(mine)
        response = as_driver.post(reverse("logistics:driver_depart", args=[mine.pk]))
        assert response["Location"] == reverse("logistics:driver_run", args=[mine.pk])
        assert follow_messages(as_driver, response) == ["已出发：2 个订单已在配送中。"]
        again = as_driver.post(reverse("logistics:driver_depart", args=[mine.pk]))
        assert follow_messages(as_driver, again) == ["已出发。"]
        orders["alice"].refresh_from_db()
        assert orders["alice"].status == OrderStatus.IN_DELIVERY

        clock.move_to(delivery_morning(7))
        response = as_driver.post(reverse("logistics:driver_arrive", args=[first.pk]))
        assert response["Location"] == (
            reverse("logistics:driver_run", args=[mine.pk]) + f"#stop-{first.pk}"
        )
        assert follow_messages(as_driver, response) == ["已到达 幸福里便利店。"]

        clock.move_to(
            delivery_morning(
                7,
            )
            + timedelta(minutes=10)
        )
        response = as_driver.post(
            reverse("logistics:driver_hand_over", args=[first.pk]),
            {"note": "放在冷柜", "photo": jpeg()},
        )
        assert follow_messages(as_driver, response) == ["已在 幸福里便利店 交接，已通知团长签收。"]
        first.refresh_from_db()
        assert first.status == StopStatus.HANDED_OVER
        assert first.note == "放在冷柜"
        assert first.photo.name.startswith("logistics/handover/")
        again = as_driver.post(reverse("logistics:driver_hand_over", args=[first.pk]), {})
        assert follow_messages(as_driver, again) == ["已交接过了。"]

        response = as_driver.post(
            reverse("logistics:driver_exception", args=[second.pk]),
            {"kind": StopException.LEADER_ABSENT, "note": "电话没人接"},
        )
        assert follow_messages(as_driver, response) == [
            "已上报：团长不在。本站货物请带回仓库。",
            "全部站点已完成，本次配送结束。",
        ]
        mine.refresh_from_db()
        assert mine.status == RunStatus.FINISHED
        html = as_driver.get(reverse("logistics:driver_run", args=[mine.pk])).content.decode()
        assert "<b data-arrived-at>07:00</b>" in html
        assert "<b data-handed-over-at>07:10</b>" in html
        assert 'data-exception="leader_absent">团长不在<' in html
        assert "data-hand-over-form" not in html  # nothing left to do

    def test_arriving_before_departing_says_so_and_writes_nothing(self, as_driver, runs):
        mine, _theirs, _orders = runs
        first = stops_of(mine)[0]
        response = as_driver.post(reverse("logistics:driver_arrive", args=[first.pk]))
        assert follow_messages(as_driver, response) == ["请先出发，再到达各站点。"]
        first.refresh_from_db()
        assert (first.status, first.arrived_at) == (StopStatus.PENDING, None)

    @pytest.mark.parametrize("kind", ["", "stolen", "x" * 500])
    def test_an_unknown_exception_kind_says_so(self, as_driver, runs, kind):
        mine, _theirs, _orders = runs
        first = stops_of(mine)[0]
        depart_run(run=mine, driver=mine.driver)
        response = as_driver.post(
            reverse("logistics:driver_exception", args=[first.pk]), {"kind": kind}
        )
        assert follow_messages(as_driver, response) == ["请选择站点发生了什么。"]
        first.refresh_from_db()
        assert (first.status, first.exception) == (StopStatus.PENDING, "")

    def test_a_file_that_is_not_a_picture_says_so(self, as_driver, runs):
        mine, _theirs, _orders = runs
        first = stops_of(mine)[0]
        depart_run(run=mine, driver=mine.driver)
        fake = SimpleUploadedFile("x.png", b"<?php echo 1; ?>", content_type="image/png")
        response = as_driver.post(
            reverse("logistics:driver_hand_over", args=[first.pk]), {"photo": fake}
        )
        assert follow_messages(as_driver, response) == [
            "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。"
        ]
        first.refresh_from_db()
        assert (first.status, first.photo.name) == (StopStatus.PENDING, "")

    def test_an_oversized_photo_says_so(self, as_driver, runs):
        mine, _theirs, _orders = runs
        first = stops_of(mine)[0]
        depart_run(run=mine, driver=mine.driver)
        big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"0" * (5 * 2**20), "image/jpeg")
        response = as_driver.post(
            reverse("logistics:driver_exception", args=[first.pk]),
            {"kind": StopException.DAMAGED, "photo": big},
        )
        assert follow_messages(as_driver, response) == ["图片太大了，请上传 5 MB 以内的图片。"]
        first.refresh_from_db()
        assert (first.exception, first.photo.name) == ("", "")

    def test_a_too_long_note_says_so(self, as_driver, runs):
        mine, _theirs, _orders = runs
        first = stops_of(mine)[0]
        depart_run(run=mine, driver=mine.driver)
        response = as_driver.post(
            reverse("logistics:driver_hand_over", args=[first.pk]), {"note": "长" * 201}
        )
        assert follow_messages(as_driver, response) == ["最多 200 个字。"]
        assert RunStop.objects.get(pk=first.pk).status == StopStatus.PENDING


class TestStopPhoto:
    @pytest.fixture
    def photo_stop(self, runs):
        mine, _theirs, _orders = runs
        first = stops_of(mine)[0]
        depart_run(run=mine, driver=mine.driver)
        hand_over_stop(stop=first, driver=mine.driver, photo=jpeg())
        return first

    def _get(self, client, stop):
        return client.get(reverse("logistics:stop_photo", args=[stop.pk]))

    def test_the_driver_the_points_leader_and_logistics_staff_see_it(
        self, client, photo_stop, driver, leader_user, operator
    ):
        for user in (driver.user, leader_user, operator):
            client.force_login(user)
            response = self._get(client, photo_stop)
            assert response.status_code == 200, user
            assert response["Content-Type"] == "image/jpeg"
            assert response["Cache-Control"] == "private, no-store"
            assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"

    def test_nobody_else_does(
        self, client, photo_stop, other_driver, other_leader_user, shopper, make_user
    ):
        assert self._get(client, photo_stop).status_code == 404  # signed out
        staff = make_user("sam", "+8613900000109")
        staff.is_staff = True
        staff.save(update_fields=["is_staff"])
        staff.user_permissions.add(Permission.objects.get(codename="view_order"))
        for user in (other_driver.user, other_leader_user, shopper, staff):
            client.force_login(user)
            assert self._get(client, photo_stop).status_code == 404, user

    def test_a_stop_without_a_photo_is_not_found(self, client, runs, driver):
        mine, _theirs, _orders = runs
        client.force_login(driver.user)
        second = stops_of(mine)[1]
        assert self._get(client, second).status_code == 404
