"""批量发券 to "shoppers inactive for N days": the last PAID order decides
(orders answers the segment through marketing/segments.py); a shopper who never
ordered counts once signed up more than N days ago. The job runs as the
operators' page runs it: start_issue_job, the Celery task after commit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leaders.services import choose_pickup_point
from marketing import segments
from marketing.models import Coupon, CouponIssueJob, JobStatus, SegmentKind
from marketing.services.coupons import segment_user_ids, start_issue_job
from orders.models import Order
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TODAY
from tests.marketing.m1_support import template
from tests.orders.shopper_helpers import pay, place
from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def pears(point):
    return SkuFactory(product__name="雪梨", spec="1kg", price=Decimal("9.90"))


def _joined(clock, name: str, days_ago: int, **extra) -> User:
    clock.move_to(NOON_ISH - timedelta(days=days_ago))
    n = User.objects.count()
    user = User.objects.create(
        username=f"{name}-{n}", phone=f"+861390000{n:04d}", nickname=name, **extra
    )
    clock.move_to(NOON_ISH)
    return user


def _order(clock, user, point, sku, days_ago: int, *, paid: bool = True) -> Order:
    """An order placed (and paid) `days_ago` days before NOON_ISH."""
    clock.move_to(NOON_ISH - timedelta(days=days_ago))
    set_stock(
        sku=sku,
        warehouse=point.warehouse,
        delivery_date=TODAY - timedelta(days=days_ago) + timedelta(days=1),
        quantity=10,
    )
    choose_pickup_point(user=user, pickup_point=point)
    order = place(user, point, (sku, 1))
    if paid:
        order = pay(order)
        assert order.paid_at == timezone.now()
    clock.move_to(NOON_ISH)
    return order


@pytest.fixture
def town(clock, point, pears):
    """Shoppers with orders of every age (N = 30 days, now = NOON_ISH)."""
    people = {
        "lapsed": _joined(clock, "lapsed", 100),  # paid 40 days ago
        "recent": _joined(clock, "recent", 100),  # paid 40 and 10 days ago
        "edge_in": _joined(clock, "edge_in", 100),  # paid 31 days ago
        "edge_out": _joined(clock, "edge_out", 100),  # paid 29 days ago
        "unpaid": _joined(clock, "unpaid", 100),  # paid 40, left one unpaid 5 days ago
        "signed_in": _joined(clock, "signed_in", 100),  # paid 40, signed in yesterday
        "never_old": _joined(clock, "never_old", 45),  # never ordered, joined 45 days ago
        "never_new": _joined(clock, "never_new", 10),  # never ordered, joined 10 days ago
        "staff": _joined(clock, "staff", 100, is_staff=True),
        "closed": _joined(clock, "closed", 100, is_active=False),
    }
    for name in ("lapsed", "recent", "unpaid", "signed_in"):
        _order(clock, people[name], point, pears, 40)
    _order(clock, people["recent"], point, pears, 10)
    _order(clock, people["edge_in"], point, pears, 31)
    _order(clock, people["edge_out"], point, pears, 29)
    _order(clock, people["unpaid"], point, pears, 5, paid=False)
    User.objects.filter(pk=people["signed_in"].pk).update(last_login=NOON_ISH - timedelta(days=1))
    return people


def _ids(people, *names) -> list[int]:
    return sorted(people[name].pk for name in names)


def test_the_issue_job_reaches_exactly_the_inactive_shoppers(
    clock, town, django_capture_on_commit_callbacks
):
    tmpl = template(name="好久不见满30减8", amount="8.00", total=100)
    with django_capture_on_commit_callbacks(execute=True):
        job = start_issue_job(template=tmpl, segment=SegmentKind.INACTIVE, inactive_days=30)
    job.refresh_from_db()
    expected = _ids(town, "lapsed", "edge_in", "unpaid", "signed_in", "never_old")
    assert (job.status, job.total, job.done, job.issued) == (JobStatus.DONE, 5, 5, 5)
    assert sorted(Coupon.objects.filter(template=tmpl).values_list("user", flat=True)) == expected


def test_the_segment_moves_with_the_clock_and_the_days(clock, town):
    job = CouponIssueJob(segment=SegmentKind.INACTIVE, inactive_days=30)
    # Fifteen days later the 10-day-old order is 25 days old: still active;
    # the 29-day one is past the line, and the 10-day-old sign-up is still new.
    clock.move_to(NOON_ISH + timedelta(days=15))
    assert segment_user_ids(job=job) == _ids(
        town, "lapsed", "edge_in", "edge_out", "unpaid", "signed_in", "never_old"
    )
    # A week instead of a month: the 10-day-old order and the 10-day-old
    # sign-up are past the line too (the fixtures' shoppers joined today).
    clock.move_to(NOON_ISH)
    week = CouponIssueJob(segment=SegmentKind.INACTIVE, inactive_days=7)
    assert segment_user_ids(job=week) == _ids(town, *(set(town) - {"staff", "closed"}))


def test_orders_answers_the_inactive_segment_from_its_ready():
    from orders.segments import inactive_segment

    assert segments.resolver_for(SegmentKind.INACTIVE) is inactive_segment


def test_the_inactive_segment_is_one_query(clock, town, django_assert_num_queries):
    job = CouponIssueJob(segment=SegmentKind.INACTIVE, inactive_days=30)
    with django_assert_num_queries(1):
        assert len(segment_user_ids(job=job)) == 5


def test_a_kind_nobody_answers_fails_the_job_with_the_reason(clock, town, monkeypatch):
    from marketing.services.coupons import run_issue_job

    monkeypatch.delitem(segments._resolvers, SegmentKind.INACTIVE)
    job = CouponIssueJob.objects.create(
        template=template(), segment=SegmentKind.INACTIVE, inactive_days=30
    )
    done = run_issue_job(job_id=job.pk)
    assert done.status == JobStatus.FAILED
    assert "no resolver registered for segment 'inactive'" in done.error
    assert not Coupon.objects.exists()
