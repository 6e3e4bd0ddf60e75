"""The fact builders: facts equal raw SQL over the orders, a rebuild changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from analytics.facts import rebuild_facts, refresh_recent_facts
from analytics.models import (
    BasketPairFact,
    LeaderDayFact,
    OrderDayFact,
    ProductDayFact,
    SalesFact,
    ShopperMonthFact,
)

pytestmark = pytest.mark.django_db

D = Decimal


def _raw_day(day: date) -> tuple:
    """Orders, units, GMV, refunds of the orders paid on `day` (Shanghai), straight from SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT COUNT(DISTINCT o.id), COALESCE(SUM(l.quantity), 0),
                COALESCE(SUM(l.goods_total), 0), COALESCE(SUM(l.refunded_amount), 0),
                COALESCE(SUM(l.payable), 0)
            FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
            WHERE (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date = %s
            """,
            [day],
        )
        return cursor.fetchone()


def _fact_day(day: date) -> tuple:
    sales = SalesFact.objects.filter(day=day).aggregate(
        units=Sum("units"), gmv=Sum("gmv"), refunds=Sum("refunds"), paid=Sum("paid")
    )
    orders = OrderDayFact.objects.filter(day=day).aggregate(n=Sum("orders"))["n"] or 0
    return (
        orders,
        sales["units"] or 0,
        sales["gmv"] or D("0"),
        sales["refunds"] or D("0"),
        sales["paid"] or D("0"),
    )


def test_sales_facts_equal_raw_sums_over_the_orders_for_each_day(history, built):
    for day in history.days:
        assert _fact_day(day) == _raw_day(day), day
    # The day before has nothing, in both.
    before = history.days[0] - timedelta(days=1)
    assert _fact_day(before) == (0, 0, D("0"), D("0"), D("0"))


def test_an_order_paid_after_the_cutoff_counts_on_its_paid_day(history, built):
    first = history.days[0]
    # 20.60 + 3.90 at 幸福里; 12.80 + 37.30 (the late order) at 阳光花园.
    assert _fact_day(first)[:4] == (4, 10, D("74.60"), D("3.90"))
    assert _fact_day(history.days[1])[:4] == (3, 5, D("37.30"), D("0.00"))


def test_order_day_facts_split_by_pickup_point(history, built, point, other_pickup_point):
    first = history.days[0]
    rows = {r.pickup_point_id: r for r in OrderDayFact.objects.filter(day=first)}
    mine, other = rows[point.pk], rows[other_pickup_point.pk]
    assert (mine.orders, mine.shoppers, mine.units, mine.gmv) == (2, 2, 4, D("24.50"))
    assert (other.orders, other.shoppers, other.units, other.gmv) == (2, 2, 6, D("50.10"))
    assert (other.refunds, other.refunded_orders) == (D("3.90"), 0)
    assert mine.community_id == point.community_id


def test_leader_facts_count_new_and_returning_shoppers_and_commission(
    history, built, leader, other_leader
):
    rows = {(r.day, r.leader_id): r for r in LeaderDayFact.objects.all()}
    d1, d2, _d3 = history.days
    assert (rows[d1, leader.pk].orders, rows[d1, leader.pk].new_shoppers) == (2, 2)
    assert (rows[d2, leader.pk].new_shoppers, rows[d2, leader.pk].returning_shoppers) == (0, 2)
    assert rows[d1, other_leader.pk].gmv == D("50.10")
    assert rows[d1, leader.pk].pickup_due == 2
    assert rows[d1, leader.pk].picked_up == 0
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (occurred_at AT TIME ZONE 'Asia/Shanghai')::date, leader_id, SUM(amount)
               FROM leaders_commissionentry GROUP BY 1, 2"""
        )
        raw = {(day, lid): amount for day, lid, amount in cursor.fetchall()}
    facts = {k: r.commission for k, r in rows.items() if r.commission}
    assert facts == {k: v for k, v in raw.items() if v}


def test_shopper_month_facts_and_basket_pairs(history, built, shopper, other_shopper, sku, egg_sku):
    month = date(2026, 11, 1)
    rows = {r.user_id: r for r in ShopperMonthFact.objects.filter(month=month)}
    assert rows[shopper.pk].orders == 6
    assert rows[other_shopper.pk].orders == 4
    assert rows[other_shopper.pk].spend == D("3.90") * 3 + D("37.30") - D("3.90")
    assert rows[shopper.pk].first_month == month
    assert rows[shopper.pk].last_day == history.days[-1]
    pairs = {
        (p.day, p.product_a_id, p.product_b_id): p.orders for p in BasketPairFact.objects.all()
    }
    a, b = sorted([sku.product_id, egg_sku.product_id])
    d1, d2, d3 = history.days
    assert pairs == {(d1, a, b): 2, (d2, a, b): 1, (d3, a, b): 1}
    tomato_days = dict(
        ProductDayFact.objects.filter(product_id=sku.product_id).values_list("day", "orders")
    )
    assert tomato_days == {d1: 3, d2: 2, d3: 2}


def _snapshot():
    return [
        sorted(SalesFact.objects.values_list("day", "sku_id", "pickup_point_id", "units", "gmv")),
        sorted(OrderDayFact.objects.values_list("day", "pickup_point_id", "orders", "gmv")),
        sorted(LeaderDayFact.objects.values_list("day", "leader_id", "orders", "commission")),
        sorted(ShopperMonthFact.objects.values_list("month", "user_id", "orders", "spend")),
        sorted(BasketPairFact.objects.values_list("day", "product_a_id", "orders")),
    ]


def test_a_rebuild_is_idempotent_and_a_sub_range_keeps_the_other_days(history, built):
    before = _snapshot()
    again = rebuild_facts(start=history.days[0], end=history.days[-1])
    assert again == built
    assert _snapshot() == before
    rebuild_facts(start=history.days[1], end=history.days[1])
    assert _snapshot() == before
    assert SalesFact.objects.filter(day=history.days[0]).exists()


def test_rebuild_refuses_a_backwards_range(history):
    with pytest.raises(ValueError):
        rebuild_facts(start=history.days[1], end=history.days[0])


def test_the_nightly_job_builds_up_to_yesterday_only(history, clock):
    from analytics.tasks import refresh_facts_task

    counts = refresh_facts_task.delay().get()
    assert counts["sales"] > 0
    days = set(SalesFact.objects.values_list("day", flat=True))
    assert days == set(history.days[:2])  # today has not closed
    assert refresh_recent_facts() == counts  # and again: the same rows


def test_the_nightly_job_is_on_the_beat():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["analytics-refresh-facts"]
    assert entry["task"] == "analytics.tasks.refresh_facts_task"


def test_category_and_product_rollups_equal_the_sales_facts(history, built):
    from analytics.models import CategoryDayFact

    for day in history.days:
        sales = SalesFact.objects.filter(day=day).aggregate(g=Sum("gmv"), u=Sum("units"))
        cats = CategoryDayFact.objects.filter(day=day).aggregate(g=Sum("gmv"), u=Sum("units"))
        products = ProductDayFact.objects.filter(day=day).aggregate(g=Sum("gmv"), u=Sum("units"))
        assert (cats["g"], cats["u"]) == (sales["g"], sales["u"]) == (products["g"], products["u"])


def test_the_command_rebuilds_a_range_in_chunks_and_refuses_a_bad_one(history, clock):
    import io

    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("rebuild_facts", "--start", "2026-09-01", "--end", "2026-11-25", stdout=out)
    assert "facts rebuilt for 2026-09-01..2026-11-25: sales 10," in out.getvalue()
    assert set(SalesFact.objects.values_list("day", flat=True)) == set(history.days)
    out = io.StringIO()
    call_command("rebuild_facts", "--days", "2", stdout=out)  # up to yesterday
    assert "2026-11-23..2026-11-24" in out.getvalue()
    for bad in (["--start", "2026-11-25", "--end", "2026-11-01"], ["--start", "25/11"], []):
        with pytest.raises(CommandError):
            call_command("rebuild_facts", *bad)
