"""The analytics demo: three months of history that every chart can draw, and its facts."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import Max, Min, Sum
from django.urls import reverse
from django.utils import timezone

from analytics import demo
from analytics.models import LeaderDayFact, OrderDayFact, SalesFact, ShopperMonthFact
from catalog import demo as catalog_demo
from groupbuy.models import Group, GroupMember
from leaders import demo as leaders_demo
from orders.models import AfterSaleClaim, Order, OrderEvent, OrderStatus, Payment, Refund
from tests.clock import NOON_ISH, TODAY
from tuangou.accounts import demo as accounts_demo
from tuangou.timeutils import to_local

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    with time_machine.travel(NOON_ISH, tick=False):
        out = io.StringIO()
        accounts_demo.seed(stdout=out)
        catalog_demo.seed(stdout=out)
        leaders_demo.seed(stdout=out)
        demo.seed(stdout=out)
        demo.seed_late(stdout=out)
        yield out.getvalue()


def test_three_months_of_history_dated_in_the_past_and_their_facts(seeded):
    history = Order.objects.filter(note=demo.HISTORY_NOTE)
    first, last = demo.history_bounds(NOON_ISH)
    span = history.aggregate(a=Min("paid_at"), b=Max("paid_at"))
    assert span["a"].date() >= first - timedelta(days=1)
    assert (last - first).days == demo.HISTORY_DAYS - 1
    # Seeded at 15:00: yesterday's orders are in (collected this morning).
    assert to_local(span["b"]).date() == last == TODAY - timedelta(days=1)
    assert history.count() > 1000
    assert history.values("user").distinct().count() >= 60
    assert set(history.values_list("status", flat=True)) == {
        OrderStatus.COMPLETED,
        OrderStatus.REFUNDED,
    }
    refunded = history.filter(refunded_amount__gt=0)
    assert Refund.objects.filter(order__in=refunded).count() == refunded.count()
    assert AfterSaleClaim.objects.filter(order__in=history, status="approved").exists()
    assert Payment.objects.filter(order__in=history).count() == history.count()
    groups = Group.objects.filter(campaign__code__startswith="hist-")
    assert groups.filter(status="succeeded").exists() and groups.filter(status="failed").exists()
    assert GroupMember.objects.filter(group__in=groups, order__kind="group").count() == (
        GroupMember.objects.filter(group__in=groups).count()
    )
    assert Group.objects.aggregate(m=Max("closed_at"))["m"] <= timezone.now()
    assert OrderEvent.objects.filter(order__in=history, to_status="completed").count() == (
        history.filter(status=OrderStatus.COMPLETED).count()
    )
    assert "history orders" in seeded

    # Nothing is dated after now.
    now = timezone.now()
    history = Order.objects.filter(note=demo.HISTORY_NOTE)
    for field in ("created_at", "paid_at", "confirmed_at", "ready_at", "completed_at", "closed_at"):
        latest = history.aggregate(m=Max(field))["m"]
        assert latest is None or latest <= now, field
    assert Refund.objects.aggregate(m=Max("succeeded_at"))["m"] <= now

    # The facts hold the history and match the orders on a sample of days.
    days = set(OrderDayFact.objects.values_list("day", flat=True))
    assert len(days) >= demo.HISTORY_DAYS - 3
    assert ShopperMonthFact.objects.values("month").distinct().count() >= 3
    assert LeaderDayFact.objects.filter(complaints__gt=0).exists()
    for day in (first, first + timedelta(days=45), last):
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT COALESCE(SUM(l.goods_total), 0), COUNT(DISTINCT o.id)
                   FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
                   WHERE (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date = %s""",
                [day],
            )
            gmv, orders = cursor.fetchone()
        assert SalesFact.objects.filter(day=day).aggregate(g=Sum("gmv"))["g"] == gmv
        assert OrderDayFact.objects.filter(day=day).aggregate(n=Sum("orders"))["n"] == orders


def test_seeding_again_adds_nothing_and_every_report_has_a_shape(seeded, client, operator):
    before = (Order.objects.count(), SalesFact.objects.count())
    with time_machine.travel(NOON_ISH, tick=False):
        out = io.StringIO()
        demo.seed(stdout=out)
        demo.seed_late(stdout=out)
    assert (Order.objects.count(), SalesFact.objects.count()) == before
    assert "nothing to add" in out.getvalue()

    # Every report has a shape on the demo.
    client.force_login(operator)
    with time_machine.travel(NOON_ISH, tick=False):
        params = {"start": (TODAY - timedelta(days=90)).isoformat(), "end": TODAY.isoformat()}
        for name in ("sales", "leaders", "behaviour", "groupbuy"):
            response = client.get(reverse(f"analytics:{name}"), params)
            assert response.status_code == 200
            chart = response.context["chart"]
            values = [v for s in chart["series"] for v in s["data"] if v]
            assert len(values) >= 5, name
        behaviour = client.get(reverse("analytics:behaviour"), params).context["report"]
        assert len(behaviour.cohorts) >= 3
        assert behaviour.pairs and behaviour.pairs[0].lift > 1
        assert {s.key for s in behaviour.segments if s.shoppers} >= {"champions", "hibernating"}
        groupbuy = client.get(reverse("analytics:groupbuy"), params).context["report"]
        assert len(groupbuy.campaigns) == 2
        assert groupbuy.total.filled > groupbuy.total.failed > 0
        assert 0 < groupbuy.total.fill_rate < 1
        assert groupbuy.total.average_fill_minutes > 0
