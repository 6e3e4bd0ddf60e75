"""取消并退款: the shopper cancels a paid order before its cutoff (issue #10,
shoppers 2); after the cutoff, or once dispatched, the page says why not."""

from __future__ import annotations

import threading
from datetime import datetime, time
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from catalog.models import StockRecord
from leaders.commission.models import CommissionEntry
from orders.models import Notice, Order, OrderStatus, Refund, RefundReason, RefundStatus
from orders.services.cancellation import CancelRefused, cancel_paid_order
from orders.services.delivery import dispatch_selected_orders
from tests.catalog.factories import SkuFactory, set_stock
from tuangou.timeutils import SHANGHAI

from . import shopper_helpers
from .conftest import NOON_ISH, TOMORROW
from .shopper_helpers import bind, deliver, pay, place

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client

CUTOFF = datetime(2026, 11, 25, 23, 0, tzinfo=SHANGHAI)


def _stock(sku, point) -> int:
    return StockRecord.objects.get(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).quantity


def _commission_net(order) -> Decimal:
    return sum(
        CommissionEntry.objects.filter(order=order).values_list("amount", flat=True),
        Decimal("0.00"),
    )


# --- before the cutoff -------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_of_a_paid_order_offers_cancel_and_refund_until_the_cutoff(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 2)))

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    assert "取消并退款" in html
    assert "截单前（11月25日 23:00）可取消，货款原路退回。" in html
    assert "确定取消订单吗？¥7.80 将原路退回。" in html
    assert reverse("orders:cancel_refund", args=[order.code]) in html
    assert "data-cancel-reason" not in html


@pytest.mark.django_db
def test_cancelling_refunds_in_full_puts_the_stock_back_and_reverses_the_commission(
    clock, shopper_client, bound_shopper, point, sku, django_capture_on_commit_callbacks
):
    order = pay(place(bound_shopper, point, (sku, 2)))
    assert _stock(sku, point) == 48
    assert _commission_net(order) == Decimal("0.78")

    with django_capture_on_commit_callbacks(execute=True):
        response = shopper_client.post(
            reverse("orders:cancel_refund", args=[order.code]), follow=True
        )

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_amount == Decimal("7.80")
    refund = Refund.objects.get(order=order)
    assert refund.reason == RefundReason.CANCELLED
    assert refund.amount == Decimal("7.80")
    assert refund.requested_by == bound_shopper
    # The sandbox took the refund at once (the task ran after commit).
    assert refund.status == RefundStatus.SUCCEEDED
    assert _stock(sku, point) == 50
    assert _commission_net(order) == Decimal("0.00")
    html = response.content.decode()
    assert "订单已取消，¥7.80 将原路退回。" in html
    assert 'data-status="refunded"' in html
    assert "取消并退款" not in html
    kinds = list(Notice.objects.filter(order=order).values_list("kind", flat=True))
    assert kinds.count("cancelled") == 1 and kinds.count("refunded") == 1
    cancelled = Notice.objects.get(order=order, kind="cancelled")
    assert cancelled.params["reason_code"] == "by_shopper"


@pytest.mark.django_db
def test_a_minute_before_the_cutoff_the_order_can_still_be_cancelled(
    clock, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 1)))
    clock.move_to(datetime(2026, 11, 25, 22, 59, 59, tzinfo=SHANGHAI))

    refund = cancel_paid_order(order=order, actor=bound_shopper)

    assert refund.amount == Decimal("3.90")
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


# --- after the cutoff, dispatched, unpaid --------------------------------------------


@pytest.mark.django_db
def test_at_the_cutoff_the_page_says_why_and_a_post_changes_nothing(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 1)))
    earned = _commission_net(order)
    clock.move_to(CUTOFF)

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()
    reason = "已过截单时间（23:00），商品已开始采购，无法取消；如有问题请在收货后申请售后。"
    assert reason in html
    assert 'data-cancel-reason="cutoff"' in html
    assert "取消并退款" not in html

    response = shopper_client.post(reverse("orders:cancel_refund", args=[order.code]), follow=True)

    assert reason in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.refunded_amount == Decimal("0.00")
    assert not Refund.objects.exists()
    assert _stock(sku, point) == 49
    assert _commission_net(order) == earned
    assert not Notice.objects.filter(order=order, kind="cancelled").exists()


@pytest.mark.django_db
def test_a_fresh_sku_with_an_earlier_cutoff_stops_cancelling_at_its_own_cutoff(
    clock, bound_shopper, point, sku
):
    fish = SkuFactory(product__name="鲈鱼", spec="1条", price=Decimal("25.00"))
    fish.cutoff_time = time(20, 0)
    fish.save(update_fields=["cutoff_time"])
    set_stock(sku=fish, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=5)
    with_fish = pay(place(bound_shopper, point, (sku, 1), (fish, 1)))
    without = pay(place(bound_shopper, point, (sku, 1)))
    clock.move_to(datetime(2026, 11, 25, 20, 30, tzinfo=SHANGHAI))

    with pytest.raises(CancelRefused) as refused:
        cancel_paid_order(order=with_fish, actor=bound_shopper)

    assert refused.value.code == "cutoff"
    assert "（20:00）" in refused.value.message
    with_fish.refresh_from_db()
    assert with_fish.status == OrderStatus.CONFIRMED
    assert cancel_paid_order(order=without, actor=bound_shopper).amount == Decimal("3.90")


@pytest.mark.django_db
def test_a_dispatched_order_says_it_has_left_and_cannot_be_cancelled(
    clock, shopper_client, bound_shopper, point, sku
):
    from orders.services.transitions import transition

    order = pay(place(bound_shopper, point, (sku, 1)))
    transition(order, OrderStatus.IN_DELIVERY)

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()
    assert "商品已出库配送，无法取消；如有问题请在收货后申请售后。" in html
    shopper_client.post(reverse("orders:cancel_refund", args=[order.code]))

    order.refresh_from_db()
    assert order.status == OrderStatus.IN_DELIVERY
    assert not Refund.objects.exists()
    assert _stock(sku, point) == 49


@pytest.mark.django_db
def test_an_order_ready_for_pickup_shows_no_cancel_at_all(
    clock, shopper_client, bound_shopper, point, sku
):
    order = deliver(pay(place(bound_shopper, point, (sku, 1))))

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    assert "取消并退款" not in html
    assert "data-cancel-reason" not in html


@pytest.mark.django_db
def test_an_unpaid_order_is_not_refunded_through_cancel_and_refund(
    clock, shopper_client, bound_shopper, point, sku
):
    order = place(bound_shopper, point, (sku, 1))

    response = shopper_client.post(reverse("orders:cancel_refund", args=[order.code]), follow=True)

    assert "订单尚未支付。" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_another_shoppers_order_is_a_404_and_get_is_not_allowed(
    clock, client, shopper, other_shopper, point, sku
):
    order = pay(place(shopper, point, (sku, 1)))
    client.force_login(other_shopper)

    assert client.post(reverse("orders:cancel_refund", args=[order.code])).status_code == 404
    client.force_login(shopper)
    assert client.get(reverse("orders:cancel_refund", args=[order.code])).status_code == 405
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert not Refund.objects.exists()


# --- races (real threads against PostgreSQL) ------------------------------------------


def _in_threads(*jobs):
    """Run the jobs at the same moment, each on its own connection; return
    what each returned or raised."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # reported to the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_a_double_tap_refunds_once(shopper, point, sku):
    with time_machine.travel(NOON_ISH, tick=False):
        bind(shopper, point)
        order = pay(place(shopper, point, (sku, 2)))
        clients = [Client(), Client()]
        for c in clients:
            c.force_login(shopper)
        url = reverse("orders:cancel_refund", args=[order.code])

        answers = _in_threads(*[lambda c=c: c.post(url) for c in clients])

    assert [a.status_code for a in answers] == [302, 302]
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_amount == Decimal("7.80")
    assert Refund.objects.filter(order=order).count() == 1
    assert _stock(sku, point) == 50
    assert _commission_net(order) == Decimal("0.00")
    assert Notice.objects.filter(order=order, kind="cancelled").count() == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_racing_the_dispatch_either_refunds_or_ships_never_both(shopper, point, sku):
    with time_machine.travel(NOON_ISH, tick=False):
        bind(shopper, point)
        orders = [pay(place(shopper, point, (sku, 1))) for _n in range(4)]
        outcomes = []
        for order in orders:
            results = _in_threads(
                lambda o=order: cancel_paid_order(order=o, actor=shopper),
                lambda o=order: dispatch_selected_orders(orders=[o]),
            )
            outcomes.append(results)

    for order, (cancelled, dispatched) in zip(orders, outcomes, strict=True):
        order.refresh_from_db()
        refunds = Refund.objects.filter(order=order).count()
        if isinstance(cancelled, Refund):
            # The cancel got the row first: refunded, and the dispatch skipped it.
            assert order.status == OrderStatus.REFUNDED
            assert refunds == 1
            assert dispatched == []
            assert not order.events.filter(to_status=OrderStatus.IN_DELIVERY).exists()
        else:
            # The dispatch got there first: on its way, nothing refunded.
            assert isinstance(cancelled, CancelRefused), cancelled
            assert cancelled.code == "dispatched"
            assert order.status == OrderStatus.IN_DELIVERY
            assert refunds == 0
            assert order.refunded_amount == Decimal("0.00")
    shipped = Order.objects.filter(status=OrderStatus.IN_DELIVERY).count()
    assert _stock(sku, point) == 50 - shipped


@pytest.mark.django_db(transaction=True)
def test_a_cancel_that_waits_for_the_lock_past_the_cutoff_is_refused(shopper, point, sku):
    """The page was shown (and tapped) before 23:00, but the order row was busy
    until after it: the rule is checked with the clock read under the lock."""
    from django.db import transaction

    with time_machine.travel(datetime(2026, 11, 25, 22, 59, 50, tzinfo=SHANGHAI), tick=False) as tm:
        bind(shopper, point)
        order = pay(place(shopper, point, (sku, 1)))
        locked, release = threading.Event(), threading.Event()

        def hold_the_row():
            with transaction.atomic():
                Order.objects.select_for_update().get(pk=order.pk)
                locked.set()
                release.wait(10)
            connection.close()

        def cancel():
            try:
                return cancel_paid_order(order=order, actor=shopper)
            except CancelRefused as exc:
                return exc
            finally:
                connection.close()

        holder = threading.Thread(target=hold_the_row)
        holder.start()
        locked.wait(10)
        result: list = []
        canceller = threading.Thread(target=lambda: result.append(cancel()))
        canceller.start()
        canceller.join(0.5)  # it is waiting for the row
        assert canceller.is_alive()
        tm.move_to(CUTOFF)
        release.set()
        canceller.join(10)
        holder.join(10)

    [refused] = result
    assert isinstance(refused, CancelRefused)
    assert refused.code == "cutoff"
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert not Refund.objects.exists()
    assert _stock(sku, point) == 49


@pytest.mark.django_db(transaction=True)
def test_a_cancel_locks_only_its_order_not_the_warehouse(shopper, point, sku):
    """The cutoff is read from the order's warehouse, joined under the lock: a
    warehouse being updated elsewhere (an operator saving it, which takes the
    row's FOR NO KEY UPDATE lock) must not stop cancels, nor a cancel stop
    checkouts of the same warehouse."""
    from django.db import transaction

    from catalog.models import Warehouse

    with time_machine.travel(NOON_ISH, tick=False):
        bind(shopper, point)
        order = pay(place(shopper, point, (sku, 1)))
        locked, release = threading.Event(), threading.Event()

        def hold_the_warehouse():
            with transaction.atomic():
                Warehouse.objects.select_for_update(no_key=True).get(pk=point.warehouse_id)
                locked.set()
                release.wait(10)
            connection.close()

        holder = threading.Thread(target=hold_the_warehouse)
        holder.start()
        locked.wait(10)
        result: list = []

        def cancel():
            try:
                result.append(cancel_paid_order(order=order, actor=shopper))
            finally:
                connection.close()

        canceller = threading.Thread(target=cancel)
        canceller.start()
        canceller.join(5)
        finished = not canceller.is_alive()
        release.set()
        canceller.join(10)
        holder.join(10)

    assert finished, "the cancel waited for the warehouse row"
    assert isinstance(result[0], Refund)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
