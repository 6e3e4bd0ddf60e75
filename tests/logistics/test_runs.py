"""Drivers on the road: depart, arrive, hand over, report a problem (issue #12, item 4).

Runs are made as the wave makes them (runs_support.make_run); orders through
the real checkout and sandbox payment. Route R01 visits 幸福里便利店 (point)
then 阳光花园物业 (other_pickup_point); 李师傅 (driver) drives it.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from logistics.models import (
    DeliveryRun,
    InventoryItem,
    RunStatus,
    RunStop,
    StopException,
    StopStatus,
)
from logistics.services.runs import (
    RunError,
    arrive_at_stop,
    depart_run,
    dispatch_unrouted_orders,
    hand_over_stop,
    report_stop_exception,
)
from logistics.tasks import dispatch_unrouted_orders_task, tell_leader_of_handover_task
from orders.models import Notice, Order, OrderEvent, OrderStatus
from orders.services.delivery import sign_for_delivery
from tests.clock import TOMORROW
from tests.leaders.factories import PickupPointFactory
from tuangou.private_files import private_storage
from tuangou.statemachine import IllegalTransition

from .conftest import delivery_morning, paid_order
from .runs_support import make_run, stops_of

pytestmark = pytest.mark.django_db


def _status(order: Order) -> str:
    order.refresh_from_db()
    return order.status


def _sms(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tuangou.sms"]


def jpeg(size=(400, 300), color=(200, 80, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return SimpleUploadedFile("handover.jpg", buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def day(clock, shopper, other_shopper, point, other_pickup_point, sku, route):
    """Tomorrow's orders: alice at 幸福里 (2), bob at 阳光花园 (1), and the run of R01."""
    orders = {
        "alice": paid_order(shopper, point, (sku, 2)),
        "bob": paid_order(other_shopper, other_pickup_point, (sku, 1)),
    }
    run = make_run(route, TOMORROW)
    return run, orders


@pytest.fixture
def morning(clock):
    clock.move_to(delivery_morning(6))
    return clock


class TestDepart:
    def test_departing_moves_the_runs_orders_on_the_way_and_tells_the_shoppers(
        self, day, morning, driver, shopper
    ):
        run, orders = day
        departed = depart_run(run=run, driver=driver)
        assert departed.status == RunStatus.DEPARTED
        assert departed.dispatched_count == 2
        run.refresh_from_db()
        assert run.status == RunStatus.DEPARTED
        assert run.departed_at == delivery_morning(6)
        assert _status(orders["alice"]) == OrderStatus.IN_DELIVERY
        assert _status(orders["bob"]) == OrderStatus.IN_DELIVERY
        assert list(
            Notice.objects.filter(user=shopper, kind="in_delivery").values_list(
                "order_id", flat=True
            )
        ) == [orders["alice"].pk]
        event = OrderEvent.objects.get(order=orders["alice"], to_status=OrderStatus.IN_DELIVERY)
        assert (event.actor_id, event.note) == (driver.user_id, "dispatched")

    def test_departing_twice_changes_nothing(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        events, notices = OrderEvent.objects.count(), Notice.objects.count()
        morning.shift(timedelta(minutes=5))
        again = depart_run(run=run, driver=driver)
        assert again.dispatched_count == 0
        run.refresh_from_db()
        assert run.departed_at == delivery_morning(6)
        assert (OrderEvent.objects.count(), Notice.objects.count()) == (events, notices)

    def test_departing_takes_the_packed_goods_off_the_warehouse_floor_once(
        self, day, morning, driver, sku, point
    ):
        run, _orders = day
        InventoryItem.objects.create(warehouse=point.warehouse, sku=sku, on_hand=10)
        depart_run(run=run, driver=driver)
        assert InventoryItem.objects.get(sku=sku).on_hand == 7  # 2 for alice, 1 for bob
        depart_run(run=run, driver=driver)
        assert InventoryItem.objects.get(sku=sku).on_hand == 7

    def test_only_the_runs_points_and_day_leave(self, day, morning, driver, make_user, sku, point):
        run, orders = day
        elsewhere = PickupPointFactory(warehouse=point.warehouse, name="无线路自提点")
        someone = make_user("carol", "+8613800000003")
        morning.move_to(delivery_morning(6) - timedelta(days=1, hours=-9))  # the day before, 15:00
        unrouted = paid_order(someone, elsewhere, (sku, 1))
        morning.move_to(delivery_morning(6))
        depart_run(run=run, driver=driver)
        assert _status(unrouted) == OrderStatus.CONFIRMED
        assert _status(orders["alice"]) == OrderStatus.IN_DELIVERY

    def test_another_driver_cannot_depart_the_run(self, day, morning, other_driver):
        run, orders = day
        with pytest.raises(RunError) as refused:
            depart_run(run=run, driver=other_driver)
        assert refused.value.message == "这不是你的配送任务。"
        run.refresh_from_db()
        assert (run.status, run.departed_at) == (RunStatus.PLANNED, None)
        assert _status(orders["alice"]) == OrderStatus.CONFIRMED

    def test_a_run_cannot_depart_before_its_day(self, day, driver):
        run, orders = day  # the clock is still at 15:00 the day before
        with pytest.raises(RunError) as refused:
            depart_run(run=run, driver=driver)
        assert refused.value.message == "这是 11-26 的配送任务：请在当天出发。"
        run.refresh_from_db()
        assert run.status == RunStatus.PLANNED
        assert _status(orders["alice"]) == OrderStatus.CONFIRMED

    def test_a_cancelled_run_cannot_depart(self, day, morning, driver):
        run, _orders = day
        DeliveryRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)
        with pytest.raises(IllegalTransition):
            depart_run(run=run, driver=driver)
        run.refresh_from_db()
        assert run.departed_at is None

    def test_a_run_the_wave_rebuilt_meanwhile_says_so(self, day, morning, driver):
        run, _orders = day
        stale = DeliveryRun.objects.get(pk=run.pk)
        DeliveryRun.objects.filter(pk=run.pk).delete()
        with pytest.raises(RunError) as refused:
            depart_run(run=stale, driver=driver)
        assert refused.value.message == "这个任务已重新排线：请重新打开今天的配送任务。"


class TestArrive:
    def test_arriving_before_departing_is_refused_and_writes_nothing(self, day, morning, driver):
        run, _orders = day
        first = stops_of(run)[0]
        with pytest.raises(RunError) as refused:
            arrive_at_stop(stop=first, driver=driver)
        assert refused.value.message == "请先出发，再到达各站点。"
        first.refresh_from_db()
        assert (first.status, first.arrived_at) == (StopStatus.PENDING, None)

    def test_arriving_records_the_time_once(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        morning.move_to(delivery_morning(7))
        assert arrive_at_stop(stop=first, driver=driver).status == StopStatus.ARRIVED
        morning.move_to(delivery_morning(8))
        arrive_at_stop(stop=first, driver=driver)
        first.refresh_from_db()
        assert (first.status, first.arrived_at) == (StopStatus.ARRIVED, delivery_morning(7))

    def test_another_driver_cannot_arrive(self, day, morning, driver, other_driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        with pytest.raises(RunError):
            arrive_at_stop(stop=first, driver=other_driver)
        first.refresh_from_db()
        assert first.status == StopStatus.PENDING


class TestHandOver:
    def test_handing_over_records_it_and_texts_the_leader_once(
        self, day, morning, driver, caplog, django_capture_on_commit_callbacks
    ):
        caplog.set_level(logging.INFO, logger="tuangou.sms")
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        arrive_at_stop(stop=first, driver=driver)
        morning.move_to(delivery_morning(7))
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            stop = hand_over_stop(stop=first, driver=driver, note="  放在门口  货架 ")
        assert len(callbacks) == 1
        assert stop.status == StopStatus.HANDED_OVER
        first.refresh_from_db()
        assert first.status == StopStatus.HANDED_OVER
        assert first.handed_over_at == delivery_morning(7)
        assert first.note == "放在门口 货架"
        assert _sms(caplog) == [
            "SMS to +8613800000011 [delivery_arrived] "
            "crates=1 day=11-26 orders=1 point=幸福里便利店"
        ]
        # The task delivered again stays quiet.
        assert tell_leader_of_handover_task(first.pk) is False
        assert len(_sms(caplog)) == 1
        run.refresh_from_db()
        assert run.status == RunStatus.DEPARTED  # 阳光花园 is still to do

    def test_handing_over_twice_changes_nothing(
        self, day, morning, driver, caplog, django_capture_on_commit_callbacks
    ):
        caplog.set_level(logging.INFO, logger="tuangou.sms")
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        arrive_at_stop(stop=first, driver=driver)
        with django_capture_on_commit_callbacks(execute=True):
            hand_over_stop(stop=first, driver=driver, note="第一次")
        morning.shift(timedelta(minutes=3))
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            hand_over_stop(stop=first, driver=driver, note="第二次", photo=jpeg())
        assert callbacks == []
        first.refresh_from_db()
        assert first.handed_over_at == delivery_morning(6)
        assert first.note == "第一次"
        assert first.photo.name == ""
        assert len(_sms(caplog)) == 1

    def test_a_hand_over_at_a_stop_not_yet_arrived_records_the_arrival(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        morning.move_to(delivery_morning(7))
        hand_over_stop(stop=first, driver=driver)
        first.refresh_from_db()
        assert first.status == StopStatus.HANDED_OVER
        assert first.arrived_at == first.handed_over_at == delivery_morning(7)

    def test_a_hand_over_before_departing_is_refused(self, day, morning, driver):
        run, _orders = day
        first = stops_of(run)[0]
        with pytest.raises(RunError):
            hand_over_stop(stop=first, driver=driver, photo=jpeg())
        first.refresh_from_db()
        assert (first.status, first.photo.name) == (StopStatus.PENDING, "")
        assert _private_files() == []

    def test_the_last_hand_over_finishes_the_run(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first, second = stops_of(run)
        hand_over_stop(stop=first, driver=driver)
        morning.move_to(delivery_morning(8))
        hand_over_stop(stop=second, driver=driver)
        run.refresh_from_db()
        assert (run.status, run.finished_at) == (RunStatus.FINISHED, delivery_morning(8))
        assert run.actual_distance_km > 0  # measured along the arrivals (routing)
        # A finished run takes no new reports.
        with pytest.raises(RunError):
            report_stop_exception(stop=first, driver=driver, kind=StopException.DAMAGED)

    def test_a_photo_is_kept_privately_as_a_clean_jpeg(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        hand_over_stop(stop=first, driver=driver, photo=jpeg())
        first.refresh_from_db()
        assert first.photo.name.startswith("logistics/handover/")
        assert first.photo.name.endswith(".jpg")
        with private_storage().open(first.photo.name) as fh:
            image = Image.open(fh)
            assert (image.format, image.size) == ("JPEG", (400, 300))

    def test_a_file_that_is_not_a_picture_is_refused_and_nothing_written(
        self, day, morning, driver
    ):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        arrive_at_stop(stop=first, driver=driver)
        fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not a picture", "image/jpeg")
        with pytest.raises(RunError) as refused:
            hand_over_stop(stop=first, driver=driver, photo=fake)
        assert refused.value.message == "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。"
        first.refresh_from_db()
        assert (first.status, first.handed_over_at) == (StopStatus.ARRIVED, None)
        assert _private_files() == []

    def test_an_oversized_photo_is_refused(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"0" * (5 * 1024 * 1024), "image/jpeg")
        with pytest.raises(RunError) as refused:
            hand_over_stop(stop=first, driver=driver, photo=big)
        assert refused.value.message == "图片太大了，请上传 5 MB 以内的图片。"
        first.refresh_from_db()
        assert first.status == StopStatus.PENDING
        assert _private_files() == []


def _private_files() -> list[str]:
    root = private_storage().path("")
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _s, files in os.walk(root) for f in files
    )


class TestExceptions:
    def test_a_closed_point_fails_the_stop_and_operators_see_it(self, day, morning, driver, caplog):
        caplog.set_level(logging.WARNING, logger="tuangou.logistics")
        run, orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        stop = report_stop_exception(
            stop=first, driver=driver, kind=StopException.POINT_CLOSED, note="卷帘门关着"
        )
        assert stop.status == StopStatus.FAILED
        first.refresh_from_db()
        assert (first.status, first.exception, first.note) == (
            StopStatus.FAILED,
            StopException.POINT_CLOSED,
            "卷帘门关着",
        )
        entry = LogEntry.objects.get()
        assert (entry.content_type.model, entry.object_id) == ("deliveryrun", str(run.pk))
        assert entry.user_id == driver.user_id
        assert entry.change_message == "幸福里便利店 · 未送达: 自提点关门 (卷帘门关着) [李师傅]"
        assert [r.getMessage() for r in caplog.records if r.name == "tuangou.logistics"] == [
            f"run {run.pk} stop {first.pk} (幸福里便利店): point_closed (failed) "
            f"by driver {driver.pk}"
        ]
        # The goods go back: the point's orders stay on the way for an operator.
        assert _status(orders["alice"]) == OrderStatus.IN_DELIVERY
        # Reporting it again changes nothing; arriving or handing over is refused.
        report_stop_exception(stop=first, driver=driver, kind=StopException.POINT_CLOSED)
        assert LogEntry.objects.count() == 1
        with pytest.raises(RunError):
            hand_over_stop(stop=first, driver=driver)
        with pytest.raises(RunError):
            arrive_at_stop(stop=first, driver=driver)

    def test_damaged_goods_are_recorded_and_can_still_be_handed_over(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        arrive_at_stop(stop=first, driver=driver)
        report_stop_exception(
            stop=first, driver=driver, kind=StopException.DAMAGED, note="1箱压坏", photo=jpeg()
        )
        first.refresh_from_db()
        assert (first.status, first.exception) == (StopStatus.ARRIVED, StopException.DAMAGED)
        photo = first.photo.name
        assert photo.startswith("logistics/handover/")
        hand_over_stop(stop=first, driver=driver, note="团长已知晓")
        first.refresh_from_db()
        assert first.status == StopStatus.HANDED_OVER
        assert first.note == "1箱压坏; 团长已知晓"
        assert first.photo.name == photo  # no new photo: the damage photo stays

    def test_the_last_failed_stop_finishes_the_run(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first, second = stops_of(run)
        hand_over_stop(stop=first, driver=driver)
        report_stop_exception(stop=second, driver=driver, kind=StopException.LEADER_ABSENT)
        run.refresh_from_db()
        assert run.status == RunStatus.FINISHED

    @pytest.mark.parametrize("kind", ["", "stolen", "POINT_CLOSED", None])
    def test_an_unknown_kind_is_refused(self, day, morning, driver, kind):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        with pytest.raises(RunError) as refused:
            report_stop_exception(stop=first, driver=driver, kind=kind)
        assert refused.value.message == "请选择站点发生了什么。"
        first.refresh_from_db()
        assert (first.status, first.exception) == (StopStatus.PENDING, "")
        assert not LogEntry.objects.exists()

    def test_other_needs_a_note(self, day, morning, driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        with pytest.raises(RunError) as refused:
            report_stop_exception(stop=first, driver=driver, kind=StopException.OTHER, note=" ")
        assert refused.value.message == "请说明发生了什么。"
        report_stop_exception(stop=first, driver=driver, kind=StopException.OTHER, note="堵车")
        first.refresh_from_db()
        assert (first.status, first.exception, first.note) == (
            StopStatus.PENDING,
            StopException.OTHER,
            "堵车",
        )

    def test_a_report_before_departing_is_refused(self, day, morning, driver):
        run, _orders = day
        first = stops_of(run)[0]
        with pytest.raises(RunError) as refused:
            report_stop_exception(stop=first, driver=driver, kind=StopException.POINT_CLOSED)
        assert refused.value.message == "请先出发，再上报站点的异常。"
        assert RunStop.objects.get(pk=first.pk).status == StopStatus.PENDING

    def test_another_driver_cannot_report(self, day, morning, driver, other_driver):
        run, _orders = day
        depart_run(run=run, driver=driver)
        first = stops_of(run)[0]
        with pytest.raises(RunError):
            report_stop_exception(stop=first, driver=other_driver, kind=StopException.DAMAGED)
        assert RunStop.objects.get(pk=first.pk).exception == ""


def test_depart_arrive_hand_over_sign_and_the_shopper_can_pick_up(
    day, morning, driver, leader_user, shopper, django_capture_on_commit_callbacks
):
    run, orders = day
    depart_run(run=run, driver=driver)
    first = stops_of(run)[0]
    morning.move_to(delivery_morning(7))
    arrive_at_stop(stop=first, driver=driver)
    with django_capture_on_commit_callbacks(execute=True):
        hand_over_stop(stop=first, driver=driver)
    morning.move_to(delivery_morning(8))
    result = sign_for_delivery(
        pickup_point=first.pickup_point, delivery_date=TOMORROW, actor=leader_user
    )
    assert [o.pk for o in result.ready] == [orders["alice"].pk]
    assert _status(orders["alice"]) == OrderStatus.READY_FOR_PICKUP
    assert str(OrderStatus.READY_FOR_PICKUP.label) == "待取货"
    assert _status(orders["bob"]) == OrderStatus.IN_DELIVERY  # 阳光花园 not signed yet


class TestUnroutedDispatch:
    @pytest.fixture
    def unrouted(self, clock, make_user, point, sku):
        elsewhere = PickupPointFactory(warehouse=point.warehouse, name="无线路自提点")
        return paid_order(make_user("carol", "+8613800000003"), elsewhere, (sku, 1))

    def test_at_six_only_points_on_no_route_leave(self, day, unrouted, clock):
        _run, orders = day
        assert dispatch_unrouted_orders_task() == 0  # today is the 25th: nothing due
        clock.move_to(delivery_morning(6))
        assert dispatch_unrouted_orders_task() == 1
        assert _status(unrouted) == OrderStatus.IN_DELIVERY
        # Routed orders wait for their van.
        assert _status(orders["alice"]) == OrderStatus.CONFIRMED
        assert _status(orders["bob"]) == OrderStatus.CONFIRMED
        assert dispatch_unrouted_orders_task() == 0

    def test_the_service_takes_a_day(self, day, unrouted):
        assert [o.pk for o in dispatch_unrouted_orders(delivery_date=TOMORROW)] == [unrouted.pk]
        assert dispatch_unrouted_orders(delivery_date=TOMORROW) == []
