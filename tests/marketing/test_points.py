"""Points: earned when an order completes, taken back in proportion on an
after-sale refund, expiring FIFO at the end of the following year, once each."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import F

from marketing.models import Coupon, CouponChannel, PointsEntry, PointsKind
from marketing.services import points as points_services
from marketing.services.points import balance_of, expire_points, expiry_for, record
from marketing.tasks import reward_completed_order_task
from orders.models import OrderLine
from orders.services.lifecycle import complete_if_done
from orders.services.refunds import refund_lines
from tests.clock import NOON_ISH, SHANGHAI
from tests.orders.shopper_helpers import deliver

from .m1_support import order_with, pay, template

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(django_capture_on_commit_callbacks):
    """Hand everything out and complete the order (its on-commit task runs)."""

    def complete(order):
        deliver(order)
        OrderLine.objects.filter(order=order).update(handed_out_quantity=F("quantity"))
        with django_capture_on_commit_callbacks(execute=True):
            assert complete_if_done(order=order)
        order.refresh_from_db()
        return order

    return complete


def test_a_completed_order_earns_points_and_a_spend_reward_coupon_once(
    clock, shopper, point, egg_sku, settings, completed
):
    settings.MARKETING_POINTS_PER_YUAN = 2
    settings.MARKETING_SPEND_REWARD_MIN = "30.00"
    reward = template(name="满额返券", channel=CouponChannel.SPEND_REWARD, threshold="40")
    order, _offer = order_with(shopper, point, [(egg_sku, 3)])  # 38.40
    completed(pay(order))
    earned = PointsEntry.objects.get(kind=PointsKind.EARNED)
    assert (earned.delta, earned.order_id) == (76, order.pk)  # 38.40 × 2, rounded down
    assert earned.expires_at == datetime(2028, 1, 1, tzinfo=SHANGHAI)
    assert balance_of(user=shopper) == 76
    assert list(Coupon.objects.values_list("template", "channel")) == [
        (reward.pk, CouponChannel.SPEND_REWARD)
    ]
    # The task delivered twice changes nothing.
    reward_completed_order_task.delay(user_id=shopper.pk, order_id=order.pk, kept_amount="38.40")
    assert PointsEntry.objects.count() == 1 and Coupon.objects.count() == 1
    assert balance_of(user=shopper) == 76


def test_no_spend_reward_below_the_threshold(clock, shopper, point, egg_sku, settings, completed):
    settings.MARKETING_SPEND_REWARD_MIN = "30.00"
    template(name="满额返券", channel=CouponChannel.SPEND_REWARD)
    order, _offer = order_with(shopper, point, [(egg_sku, 2)])  # 25.60
    completed(pay(order))
    assert Coupon.objects.count() == 0
    assert balance_of(user=shopper) == 25


def test_an_after_sale_refund_takes_back_earned_points_in_proportion(
    clock, shopper, point, egg_sku, sku, completed
):
    order, _offer = order_with(shopper, point, [(egg_sku, 2), (sku, 2)])  # 25.60 + 7.80
    completed(pay(order))
    assert balance_of(user=shopper) == 33
    eggs = OrderLine.objects.get(order=order, sku=egg_sku)
    refund_lines(order=order, quantities={eggs.pk: 1}, reason="after_sale")
    # 12.80 of 33.40 refunded: int(33 × 12.80 / 33.40) = 12 back.
    assert PointsEntry.objects.get(kind=PointsKind.REVERSED).delta == -12
    assert balance_of(user=shopper) == 21
    order.refresh_from_db()
    assert order.status == "completed"


def test_points_expire_first_in_first_out_at_the_end_of_the_following_year(clock, shopper):
    year = NOON_ISH.year
    assert expiry_for(NOON_ISH) == datetime(year + 2, 1, 1, tzinfo=SHANGHAI)
    old = points_services.adjust_points(user=shopper, delta=500, note="old", key="a")
    PointsEntry.objects.filter(pk=old.pk).update(
        expires_at=datetime(year + 1, 1, 1, tzinfo=SHANGHAI)
    )
    points_services.adjust_points(user=shopper, delta=300, note="new", key="b")
    # 200 spent: FIFO, from the old 500, so 300 of them are left to expire.
    record(user=shopper, kind=PointsKind.SPENT, delta=-200, key="order:x")
    assert expire_points(now=datetime(year, 12, 31, 23, 0, tzinfo=SHANGHAI)) == 0
    at = datetime(year + 1, 1, 1, 0, 20, tzinfo=SHANGHAI)
    assert expire_points(now=at) == 300
    assert expire_points(now=at) == 0  # once
    assert expire_points(now=at + timedelta(days=1)) == 0  # nothing more is due
    assert balance_of(user=shopper) == 300
    expired = PointsEntry.objects.get(kind=PointsKind.EXPIRED)
    assert (expired.delta, expired.balance_after) == (-300, 300)


def test_an_entry_is_written_once_per_kind_and_key(clock, shopper):
    assert record(user=shopper, kind=PointsKind.ADJUSTED, delta=50, key="k") is not None
    assert record(user=shopper, kind=PointsKind.ADJUSTED, delta=50, key="k") is None
    assert balance_of(user=shopper) == 50
    with pytest.raises(points_services.NotEnoughPoints):
        record(user=shopper, kind=PointsKind.SPENT, delta=-51, key="order:1")
    assert balance_of(user=shopper) == 50
    assert PointsEntry.objects.count() == 1


def test_the_ledger_sums_to_the_balance(clock, shopper, point, egg_sku, completed):
    points_services.adjust_points(user=shopper, delta=800, note="gift", key="g")
    order, _offer = order_with(shopper, point, [(egg_sku, 2)], use_points=True)
    pay(order)
    completed(order)
    total = sum(PointsEntry.objects.filter(user=shopper).values_list("delta", flat=True))
    assert total == balance_of(user=shopper) == 800 - 800 + int(order.payable)
    assert order.payable == Decimal("17.60")
