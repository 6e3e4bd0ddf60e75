"""Coupons under a crowd, on real PostgreSQL: a template with 100 left
claimed by 500 shoppers issues exactly 100; one shopper's parallel taps stay
within the per-shopper limit; one coupon submitted by 50 parallel checkouts
is used by one order; parallel spends never take points below zero."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from marketing.models import Coupon, CouponStatus, CouponTemplate, PointsAccount, PointsEntry
from marketing.services.checkout import checkout_offer
from marketing.services.coupons import CouponUnavailable, claim_coupon, issue_coupon
from marketing.services.points import NotEnoughPoints, record
from orders.models import Order
from orders.services.checkout import CheckoutError, Want, place_order
from tuangou.accounts.models import User

from .m1_support import give_points, template

pytestmark = pytest.mark.django_db(transaction=True)


def crowd(calls, *, threads: int):
    """Run the calls from `threads` threads (each its own connection), started
    together by a barrier; each call's result or the exception it raised."""
    barrier = threading.Barrier(threads)
    chunks = [calls[i::threads] for i in range(threads)]

    def run(chunk):
        out = []
        try:
            barrier.wait(timeout=60)
            for call in chunk:
                try:
                    out.append(call())
                except Exception as exc:  # the outcome under test
                    out.append(exc)
        finally:
            connection.close()
        return out

    with ThreadPoolExecutor(threads) as pool:
        return [r for part in pool.map(run, chunks) for r in part]


def test_500_shoppers_claiming_the_last_100_get_exactly_100(clock):
    tmpl = template(name="限量券", threshold="0", total=100)
    users = User.objects.bulk_create(
        [User(username=f"crowd{i}", phone=f"1390000{i:04d}") for i in range(500)]
    )
    results = crowd(
        [lambda u=u: claim_coupon(template_id=tmpl.pk, user=u) for u in users], threads=40
    )
    won = [r for r in results if isinstance(r, Coupon)]
    refused = [r for r in results if isinstance(r, CouponUnavailable)]
    assert len(won) == 100 and len(refused) == 400
    assert {r.code for r in refused} == {"sold_out"}
    tmpl.refresh_from_db()
    assert tmpl.issued == 100
    assert Coupon.objects.filter(template=tmpl).count() == 100
    assert Coupon.objects.values("user").distinct().count() == 100


def test_one_shoppers_parallel_taps_stay_within_the_limit(clock, shopper):
    tmpl = template(name="每人限2张", threshold="0", per_user=2, total=50)
    results = crowd(
        [lambda: claim_coupon(template_id=tmpl.pk, user=shopper) for _ in range(20)], threads=20
    )
    assert sum(isinstance(r, Coupon) for r in results) == 2
    assert {r.code for r in results if isinstance(r, CouponUnavailable)} == {"limit"}
    tmpl.refresh_from_db()
    assert tmpl.issued == 2
    assert Coupon.objects.filter(user=shopper).count() == 2


def test_one_coupon_in_50_parallel_checkouts_is_used_once(clock, shopper, point, egg_sku):
    coupon = issue_coupon(template=template(threshold="0", amount="5.00"), user=shopper)
    offer = checkout_offer(user=shopper, lines=[(egg_sku, 1)])
    assert offer.coupon == coupon

    def checkout():
        return place_order(
            user=shopper, wants=[Want(egg_sku.pk, 1)], pickup_point=point, rules=list(offer.rules)
        )

    results = crowd([checkout] * 50, threads=50)
    orders = [r for r in results if isinstance(r, Order)]
    refusals = [r for r in results if isinstance(r, CheckoutError)]
    assert len(orders) == 1 and len(refusals) == 49
    assert Order.objects.count() == 1
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id) == (CouponStatus.LOCKED, orders[0].pk)
    # The 49 losers held no stock: one unit gone from the 20.
    from catalog.models import StockRecord

    assert StockRecord.objects.get(sku=egg_sku).quantity == 19


def test_parallel_spends_never_take_points_below_zero(clock, shopper):
    give_points(shopper, 1000)
    results = crowd(
        [
            lambda n=n: record(user=shopper, kind="spent", delta=-300, key=f"order:{n}")
            for n in range(1, 21)
        ],
        threads=20,
    )
    spent = [r for r in results if isinstance(r, PointsEntry)]
    assert len(spent) == 3
    assert sum(isinstance(r, NotEnoughPoints) for r in results) == 17
    assert PointsAccount.objects.get(user=shopper).balance == 100
    assert sorted(e.balance_after for e in spent) == [100, 400, 700]


def test_a_template_without_a_total_counts_what_it_issued(clock, shopper, other_shopper):
    tmpl = template(threshold="0", total=None)
    issue_coupon(template=tmpl, user=shopper)
    issue_coupon(template=tmpl, user=other_shopper)
    assert CouponTemplate.objects.get(pk=tmpl.pk).issued == 2
