"""The 06:00 dispatch of points on no route takes their packed goods off the
warehouse's stock (InventoryItem.on_hand), exactly once per wave, as a
departing run does for its own points; the wave is then locked."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import translation

from logistics.models import InventoryItem, PackItem, Wave, WaveStatus
from logistics.services.runs import depart_run, dispatch_unrouted_orders, issue_unrouted_stock
from logistics.services.wave import WaveLocked, run_wave
from logistics.tasks import dispatch_unrouted_orders_task
from orders.models import OrderStatus
from tests.clock import TOMORROW
from tests.leaders.factories import PickupPointFactory

from .conftest import delivery_morning, paid_order
from .runs_support import make_run


@pytest.fixture
def night(clock, make_user, shopper, other_shopper, point, other_pickup_point, sku, route):
    """Routed: alice 2 at 幸福里, bob 1 at 阳光花园; on no route: carol 4 at 无线路自提点.
    10 on hand; the wave built."""
    elsewhere = PickupPointFactory(warehouse=point.warehouse, name="无线路自提点")
    orders = {
        "alice": paid_order(shopper, point, (sku, 2)),
        "bob": paid_order(other_shopper, other_pickup_point, (sku, 1)),
        "carol": paid_order(make_user("carol", "+8613800000003"), elsewhere, (sku, 4)),
    }
    InventoryItem.objects.create(warehouse=point.warehouse, sku=sku, on_hand=10)
    run = make_run(route, TOMORROW)
    wave = run.wave
    assert list(
        PackItem.objects.filter(wave=wave, route__isnull=True).values_list("quantity", flat=True)
    ) == [4]
    return wave, run, orders


def _on_hand(sku) -> int:
    return InventoryItem.objects.get(sku=sku).on_hand


def _status(order) -> str:
    order.refresh_from_db()
    return order.status


@pytest.mark.django_db
class TestUnroutedGoodsLeaveTheStock:
    def test_the_six_oclock_dispatch_takes_them_off_once(self, night, clock, sku):
        wave, _run, orders = night
        clock.move_to(delivery_morning(6))

        assert dispatch_unrouted_orders_task() == 1

        assert _status(orders["carol"]) == OrderStatus.IN_DELIVERY
        assert _on_hand(sku) == 6  # carol's 4; the routed 3 wait for their van
        wave.refresh_from_db()
        assert wave.unrouted_issued_at == delivery_morning(6)
        # Rerun (a redelivered task, an operator by hand): nothing more.
        assert dispatch_unrouted_orders_task() == 0
        assert dispatch_unrouted_orders(delivery_date=TOMORROW) == []
        assert issue_unrouted_stock(wave=wave) is None
        assert _on_hand(sku) == 6

    def test_with_the_run_departing_every_packed_unit_leaves_once(self, night, clock, sku, driver):
        _wave, run, orders = night
        clock.move_to(delivery_morning(6))
        dispatch_unrouted_orders(delivery_date=TOMORROW)
        depart_run(run=run, driver=driver)
        dispatch_unrouted_orders(delivery_date=TOMORROW)
        depart_run(run=run, driver=driver)
        assert _on_hand(sku) == 3  # 10 − 4 − 2 − 1
        assert {_status(o) for o in orders.values()} == {OrderStatus.IN_DELIVERY}

    def test_the_wave_can_no_longer_be_rebuilt(self, night, clock, point):
        wave, _run, _orders = night
        clock.move_to(delivery_morning(6))
        dispatch_unrouted_orders(delivery_date=TOMORROW)
        with pytest.raises(WaveLocked) as refused, translation.override("zh-hans"):
            run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
        assert refused.value.message == "该波次无线路自提点的货物已出库，单据不能再重新生成。"
        wave.refresh_from_db()
        assert wave.status == WaveStatus.DONE
        assert PackItem.objects.filter(wave=wave).exists()

    def test_a_wave_not_done_issues_nothing_until_it_is(self, night, clock, sku, point):
        wave, _run, orders = night
        Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.FAILED)
        clock.move_to(delivery_morning(6))
        assert [o.pk for o in dispatch_unrouted_orders(delivery_date=TOMORROW)] == [
            orders["carol"].pk
        ]
        assert _on_hand(sku) == 10
        run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)  # the rebuild
        dispatch_unrouted_orders(delivery_date=TOMORROW)  # the task again
        assert _on_hand(sku) == 6

    def test_never_below_zero(self, night, clock, sku):
        InventoryItem.objects.filter(sku=sku).update(on_hand=1)
        clock.move_to(delivery_morning(6))
        dispatch_unrouted_orders(delivery_date=TOMORROW)
        assert _on_hand(sku) == 0


@pytest.mark.django_db(transaction=True)
def test_two_dispatches_at_once_take_the_goods_once(night, clock, sku):
    clock.move_to(delivery_morning(6))
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = len(dispatch_unrouted_orders(delivery_date=TOMORROW))
        except Exception as exc:  # the result, for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [0, 1]
    assert _on_hand(sku) == 6


@pytest.mark.django_db
def test_the_rebuild_button_says_why_it_is_refused(
    night, clock, client, make_user, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group
    from django.urls import reverse

    from tuangou.accounts.roles import WAREHOUSE, sync_roles

    wave, _run, _orders = night
    clock.move_to(delivery_morning(6))
    dispatch_unrouted_orders(delivery_date=TOMORROW)
    sync_roles()
    keeper = make_user("wang", "+8613900000201", "仓库老王", is_staff=True)
    keeper.groups.add(Group.objects.get(name=WAREHOUSE))
    client.force_login(keeper)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("logistics:wave_start"),
            {"warehouse": wave.warehouse_id, "date": TOMORROW.isoformat()},
            follow=True,
        )
    assert callbacks == []
    assert "该波次无线路自提点的货物已出库，单据不能再重新生成。" in response.content.decode()
