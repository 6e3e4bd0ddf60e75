"""A coupon's life and its template's rules: percent with a cap, fixed dates,
keyed issues once, expiry by the beat task, a locked coupon released after
its end, segments, and the spend reward taken back when its order is refunded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketing.models import Coupon, CouponChannel, CouponIssueJob, CouponStatus, ValidityKind
from marketing.services.checkout import checkout_offer
from marketing.services.coupons import (
    CouponUnavailable,
    expire_coupons,
    issue_coupon,
    release_coupons_for_order,
    segment_user_ids,
)
from marketing.tasks import expire_coupons_task
from tests.orders.shopper_helpers import bind

from .m1_support import order_with, template

pytestmark = pytest.mark.django_db


def test_a_percent_coupon_is_capped(clock, shopper, point, egg_sku):
    coupon = issue_coupon(
        template=template(
            name="9折券", kind="percent", amount=None, percent=10, cap="2.00", threshold="0"
        ),
        user=shopper,
    )
    offer = checkout_offer(user=shopper, lines=[(egg_sku, 1)])  # 12.80 → 1.28 off
    assert offer.coupon == coupon and offer.price.payable == Decimal("11.52")
    offer = checkout_offer(user=shopper, lines=[(egg_sku, 3)])  # 38.40 → 3.84, capped at 2
    assert offer.price.payable == Decimal("36.40")


def test_a_no_threshold_coupon_never_takes_the_last_fen(clock, shopper, point, sku):
    issue_coupon(template=template(name="无门槛10元", amount="10.00", threshold="0"), user=shopper)
    offer = checkout_offer(user=shopper, lines=[(sku, 1)])  # 3.90
    assert offer.price.payable == Decimal("0.01")


def test_fixed_dates_give_the_template_dates_and_end_the_claims(clock, shopper, other_shopper):
    now = timezone.now()
    tmpl = template(name="双十二券")
    tmpl.validity = ValidityKind.FIXED_DATES
    tmpl.valid_from, tmpl.valid_until = now - timedelta(days=1), now + timedelta(days=2)
    tmpl.save()
    coupon = issue_coupon(template=tmpl, user=shopper)
    assert (coupon.valid_from, coupon.valid_until) == (tmpl.valid_from, tmpl.valid_until)
    clock.shift(timedelta(days=3))
    with pytest.raises(CouponUnavailable) as refused:
        issue_coupon(template=tmpl, user=other_shopper)
    assert refused.value.code == "ended"


def test_a_keyed_issue_happens_once(clock, shopper):
    tmpl = template(channel=CouponChannel.NEW_USER, per_user=5)
    first = issue_coupon(template=tmpl, user=shopper, key="new:1")
    again = issue_coupon(template=tmpl, user=shopper, key="new:1")
    assert again.pk == first.pk
    tmpl.refresh_from_db()
    assert tmpl.issued == 1


def test_the_beat_expires_unused_coupons_only(clock, shopper, point, egg_sku):
    unused = issue_coupon(template=template(name="a", days=1), user=shopper)
    locked = issue_coupon(template=template(name="b", days=1, threshold="0"), user=shopper)
    order, _offer = order_with(shopper, point, [(egg_sku, 1)], coupon=locked.code)
    clock.shift(timedelta(days=2))
    assert expire_coupons_task.delay().get() == 1
    assert expire_coupons() == 0  # once
    unused.refresh_from_db()
    locked.refresh_from_db()
    assert (unused.status, locked.status) == (CouponStatus.EXPIRED, CouponStatus.LOCKED)
    # The unpaid order is cancelled after the coupon's end: it comes back expired.
    release_coupons_for_order(order_id=order.pk)
    locked.refresh_from_db()
    assert locked.status == CouponStatus.EXPIRED


def test_segments_pick_the_right_shoppers(clock, shopper, other_shopper, point, other_pickup_point):
    bind(shopper, point)
    bind(other_shopper, other_pickup_point)
    tmpl = template()
    by_point = CouponIssueJob(template=tmpl, segment="pickup_point", pickup_point=point)
    by_community = CouponIssueJob(
        template=tmpl, segment="community", community=other_pickup_point.community
    )
    assert segment_user_ids(job=by_point) == [shopper.pk]
    assert other_shopper.pk in segment_user_ids(job=by_community)
    # Inactive: no paid order for N days, or never ordered and joined before
    # (last sign-ins do not count; tests/marketing/test_inactive_segment.py).
    type(shopper).objects.filter(pk=shopper.pk).update(
        date_joined=timezone.now() - timedelta(days=40), last_login=timezone.now()
    )
    inactive = CouponIssueJob(template=tmpl, segment="inactive", inactive_days=30)
    assert shopper.pk in segment_user_ids(job=inactive)
    assert other_shopper.pk not in segment_user_ids(job=inactive)


def test_a_refund_below_the_reward_threshold_takes_back_the_unused_reward(
    clock, shopper, point, egg_sku, settings, django_capture_on_commit_callbacks
):
    from django.db.models import F

    from orders.models import OrderLine
    from orders.services.lifecycle import complete_if_done
    from orders.services.refunds import refund_lines
    from tests.orders.shopper_helpers import deliver

    from .m1_support import pay

    settings.MARKETING_SPEND_REWARD_MIN = "30.00"
    template(name="返券", channel=CouponChannel.SPEND_REWARD)
    order, _offer = order_with(shopper, point, [(egg_sku, 3)])  # 38.40
    pay(order)
    deliver(order)
    OrderLine.objects.filter(order=order).update(handed_out_quantity=F("quantity"))
    with django_capture_on_commit_callbacks(execute=True):
        complete_if_done(order=order)
    reward = Coupon.objects.get(channel=CouponChannel.SPEND_REWARD)
    line = OrderLine.objects.get(order=order)
    refund_lines(order=order, quantities={line.pk: 1}, reason="after_sale")  # keeps 25.60
    reward.refresh_from_db()
    assert reward.status == CouponStatus.REVOKED
