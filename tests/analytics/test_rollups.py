"""The roll-ups the long-range reports read (month roll-ups, community days, cohorts, shopper
spans) on the demo's three months: the reports' numbers equal the same numbers read the old
way from the day and month facts; the facts equal raw SQL over the orders after short
(incremental) runs and after a rebuild; reruns change nothing."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models import F, Sum

from analytics import demo, facts
from analytics.models import (
    BasketPairFact,
    BasketPairMonthFact,
    CategoryDayFact,
    CategoryMonthFact,
    CohortMonthFact,
    CommunityDayFact,
    LeaderDayFact,
    LeaderMonthFact,
    OrderDayFact,
    ProductDayFact,
    ProductMonthFact,
    ShopperMonthFact,
    ShopperSpanFact,
)
from analytics.selectors import _split, leader_board, sales_report, shopper_behaviour
from catalog import demo as catalog_demo
from leaders import demo as leaders_demo
from orders.models import Order
from tests.clock import NOON_ISH
from tuangou.accounts import demo as accounts_demo

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def seeded():
    with time_machine.travel(NOON_ISH, tick=False):
        out = io.StringIO()
        accounts_demo.seed(stdout=out)
        catalog_demo.seed(stdout=out)
        leaders_demo.seed(stdout=out)
        demo.seed(stdout=out)
        demo.seed_late(stdout=out)  # rebuild_facts over the demo's period
        yield demo.history_bounds(NOON_ISH)


def _rows(sql: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return sorted(cursor.fetchall())


def _ranges(first: date, last: date) -> list[tuple[date, date]]:
    return [
        (first, last),  # the whole history: whole months and two edges
        (last - timedelta(days=29), last),  # the pages' default
        (first + timedelta(days=17), last - timedelta(days=23)),  # mid-month to mid-month
        (last, last),  # one day
        (first.replace(day=1), last),  # from a month's first day
        (first - timedelta(days=40), last + timedelta(days=1)),  # past the facts both ways
    ]


# --- the split of a range -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "months", "edges"),
    [
        (date(2026, 1, 15), date(2026, 4, 10), ("2026-02-01", "2026-03-01"),
         [("2026-01-15", "2026-01-31"), ("2026-04-01", "2026-04-10")]),
        (date(2026, 2, 1), date(2026, 2, 28), ("2026-02-01", "2026-02-01"), []),
        (date(2026, 2, 3), date(2026, 2, 20), None, [("2026-02-03", "2026-02-20")]),
        (date(2026, 1, 31), date(2026, 2, 1), None, [("2026-01-31", "2026-02-01")]),
        (date(2025, 12, 1), date(2026, 1, 5), ("2025-12-01", "2025-12-01"),
         [("2026-01-01", "2026-01-05")]),
    ],
)  # fmt: skip
def test_a_range_splits_into_whole_months_and_edge_days(start, end, months, edges):
    split = _split(start, end)
    got_months = (
        (split["m0"].isoformat(), split["m1"].isoformat()) if split["m0"] <= split["m1"] else None
    )
    got_edges = [
        (split[a].isoformat(), split[b].isoformat())
        for a, b in (("a0", "a1"), ("b0", "b1"))
        if split[a] <= split[b]
    ]
    assert got_months == months
    assert got_edges == edges
    # Every day of the range exactly once.
    covered = []
    day = start
    while day <= end:
        in_month = split["m0"] <= day.replace(day=1) <= split["m1"]
        in_edge = any(split[a] <= day <= split[b] for a, b in (("a0", "a1"), ("b0", "b1")))
        covered.append(in_month + in_edge)
        day += timedelta(days=1)
    assert set(covered) == {1}


# --- the reports equal the old reads ----------------------------------------------------------

OLD_SHOPPERS = """
WITH u AS (
    SELECT user_id, SUM(orders) AS orders, SUM(spend) AS spend, MAX(last_day) AS last_day
    FROM analytics_shoppermonthfact WHERE month BETWEEN %(m0)s AND %(m1)s GROUP BY user_id
)
SELECT CASE WHEN orders = 1 THEN '1' WHEN orders = 2 THEN '2' WHEN orders <= 5 THEN '3–5'
            WHEN orders <= 10 THEN '6–10' ELSE '11+' END,
       last_day > %(recent)s, orders >= 3, COUNT(*), SUM(orders), SUM(spend)
FROM u GROUP BY 1, 2, 3
"""


def _old_behaviour(start: date, end: date) -> dict:
    m0, m1 = start.replace(day=1), end.replace(day=1)
    rows = _rows(OLD_SHOPPERS, {"m0": m0, "m1": m1, "recent": end - timedelta(days=14)})
    buckets: dict[str, int] = {}
    segments: dict[str, list] = {}
    for label, recent, frequent, n, orders, spend in rows:
        buckets[label] = buckets.get(label, 0) + n
        key = {
            (True, True): "champions",
            (True, False): "new_or_promising",
            (False, True): "at_risk",
            (False, False): "hibernating",
        }[(recent, frequent)]
        seg = segments.setdefault(key, [0, 0, D(0)])
        seg[0] += n
        seg[1] += orders
        seg[2] += spend
    cohorts = _rows(
        "SELECT first_month, month, COUNT(*) FROM analytics_shoppermonthfact "
        "WHERE first_month BETWEEN %(m0)s AND %(m1)s AND month BETWEEN %(m0)s AND %(m1)s "
        "GROUP BY 1, 2",
        {"m0": m0, "m1": m1},
    )
    categories = sorted(
        CategoryDayFact.objects.filter(day__range=(start, end))
        .values_list("community_id", "category__name")
        .annotate(gmv=Sum("gmv"))
    )
    pairs = (
        BasketPairFact.objects.filter(day__range=(start, end))
        .values_list("product_a_id", "product_b_id")
        .annotate(n=Sum("orders"))
        .order_by("-n", "product_a_id", "product_b_id")
    )
    return {
        "buckets": buckets,
        "segments": segments,
        "cohorts": cohorts,
        "categories": categories,
        "pair_counts": sorted(n for _a, _b, n in pairs[:20]),
        "orders": OrderDayFact.objects.filter(day__range=(start, end)).aggregate(n=Sum("orders"))[
            "n"
        ]
        or 0,
    }


def test_the_behaviour_report_equals_the_per_shopper_sums(seeded):
    first, last = seeded
    assert ShopperSpanFact.objects.exists() and CohortMonthFact.objects.exists()
    for start, end in _ranges(first, last):
        report = shopper_behaviour(start=start, end=end)
        old = _old_behaviour(start, end)
        got = {b.label: b.shoppers for b in report.frequency if b.shoppers}
        assert got == old["buckets"], (start, end)
        assert report.shoppers == sum(old["buckets"].values())
        for seg in report.segments:
            expected = old["segments"].get(seg.key, [0, 0, D(0)])
            assert [seg.shoppers, seg.orders, seg.spend] == expected, (start, end, seg.key)
        cohort_cells = sorted(
            (c.month, month, n)
            for c in report.cohorts
            for month, n in zip(_months(c.month, report.cohort_width), c.retained, strict=False)
            if n
        )
        assert cohort_cells == [row for row in old["cohorts"] if row[2]], (start, end)
        assert (
            sorted((c.community_id, c.category, c.gmv) for c in report.categories)
            == (old["categories"])
        )
        assert sorted(p.orders for p in report.pairs) == old["pair_counts"], (start, end)
        if report.pairs:
            assert report.total_orders == old["orders"]
    whole = shopper_behaviour(start=first, end=last)
    assert whole.shoppers >= 60 and whole.repeat_shoppers > 0 and len(whole.cohorts) >= 3


def _months(first: date, count: int) -> list[date]:
    months = [first]
    for _ in range(count - 1):
        months.append(facts._next_month(months[-1]))
    return months


def test_the_sales_report_and_leaderboard_equal_the_day_facts(seeded):
    first, last = seeded
    for start, end in _ranges(first, last):
        report = sales_report(start=start, end=end)
        days = OrderDayFact.objects.filter(day__range=(start, end))
        totals = days.aggregate(gmv=Sum("gmv"), orders=Sum("orders"), refunds=Sum("refunds"))
        assert report.total.gmv == (totals["gmv"] or D("0.00")), (start, end)
        assert report.total.orders == (totals["orders"] or 0)
        assert report.total.refunds == (totals["refunds"] or D("0.00"))
        products = ProductDayFact.objects.filter(day__range=(start, end))
        assert [(r.key, r.gmv, r.orders, r.units, r.refunds) for r in report.by_product] == [
            (p["product_id"], p["gmv"], p["orders"], p["units"], p["refunds"])
            for p in products.values("product_id")
            .annotate(gmv=Sum("gmv"), orders=Sum("orders"), units=Sum("units"),
                      refunds=Sum("refunds"))
            .order_by("-gmv", "product_id")
        ]  # fmt: skip
        assert sorted((r.key, r.gmv) for r in report.by_category) == sorted(
            products.values_list("category_id").annotate(gmv=Sum("gmv"))
        )
        assert sorted((r.key, r.gmv, r.orders) for r in report.by_community) == sorted(
            days.values_list("community_id").annotate(gmv=Sum("gmv"), n=Sum("orders"))
        )
        assert sorted((r.key, r.gmv) for r in report.by_warehouse) == sorted(
            days.values_list("warehouse_id").annotate(gmv=Sum("gmv"))
        )
        board = leader_board(start=start, end=end)
        old = (
            LeaderDayFact.objects.filter(day__range=(start, end))
            .values("leader_id")
            .annotate(
                gmv=Sum("gmv"), orders=Sum("orders"), shoppers=Sum("shoppers"),
                new=Sum("new_shoppers"), commission=Sum("commission"),
                complaints=Sum("complaints"), picked=Sum("picked_up"),
            )
            .order_by("-gmv", "leader_id")
        )  # fmt: skip
        assert [
            (r.leader_id, r.gmv, r.orders, r.shoppers, r.new_shoppers, r.commission,
             r.complaints, r.picked_up)
            for r in board
        ] == [
            (o["leader_id"], o["gmv"], o["orders"], o["shoppers"], o["new"], o["commission"],
             o["complaints"], o["picked"])
            for o in old
        ], (start, end)  # fmt: skip


# --- facts equal raw SQL; short runs equal a rebuild; reruns change nothing ---------------------

RAW_SHOPPER_MONTHS = """
SELECT date_trunc('month', paid_at AT TIME ZONE 'Asia/Shanghai')::date, user_id, COUNT(*),
       SUM(payable - refunded_amount), MAX((paid_at AT TIME ZONE 'Asia/Shanghai')::date)
FROM orders_order WHERE paid_at IS NOT NULL
  AND paid_at < (%(end)s::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'
GROUP BY 1, 2
"""

RAW_COMMUNITY_DAYS = """
SELECT (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date AS day, pp.community_id, COUNT(*),
       SUM(o.goods_total), SUM(o.refunded_amount)
FROM orders_order o JOIN leaders_pickuppoint pp ON pp.id = o.pickup_point_id
WHERE o.paid_at IS NOT NULL
GROUP BY 1, 2
HAVING (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date = ANY(%(days)s)
"""

RAW_SPANS = """
WITH u AS (
    SELECT user_id, SUM(orders) AS orders, SUM(spend) AS spend, MAX(last_day) AS last_day
    FROM analytics_shoppermonthfact WHERE month BETWEEN %(m0)s AND %(m1)s GROUP BY user_id
)
SELECT CASE WHEN orders <= 1 THEN 0 WHEN orders = 2 THEN 1 WHEN orders <= 5 THEN 2
            WHEN orders <= 10 THEN 3 ELSE 4 END, last_day, COUNT(*), SUM(orders), SUM(spend)
FROM u GROUP BY 1, 2
"""


def _month_list() -> list[date]:
    months = sorted(set(ShopperMonthFact.objects.values_list("month", flat=True)))
    return _months(months[0], len(_months_between(months[0], months[-1])))


def _months_between(a: date, b: date) -> list[date]:
    out = [a]
    while out[-1] < b:
        out.append(facts._next_month(out[-1]))
    return out


def _assert_facts_match_raw(until: date, sample_days: list[date]) -> None:
    got = sorted(ShopperMonthFact.objects.values_list("month", "user_id", "orders", "spend",
                                                      "last_day"))  # fmt: skip
    assert got == _rows(RAW_SHOPPER_MONTHS, {"end": until})
    _assert_spans_and_cohorts()
    community = sorted(
        CommunityDayFact.objects.filter(day__in=sample_days).values_list(
            "day", "community_id", "orders", "gmv", "refunds"
        )
    )
    assert community == _rows(RAW_COMMUNITY_DAYS, {"days": sample_days})
    for month_model, day_model, dims, sums in (
        (LeaderMonthFact, LeaderDayFact, ["leader_id"], ["gmv", "orders", "commission"]),
        (ProductMonthFact, ProductDayFact, ["product_id"], ["orders", "gmv", "refunds"]),
        (CategoryMonthFact, CategoryDayFact, ["community_id", "category_id"], ["gmv", "units"]),
        (BasketPairMonthFact, BasketPairFact, ["product_a_id", "product_b_id"], ["orders"]),
    ):
        for month in _month_list():
            by_month = sorted(month_model.objects.filter(month=month).values_list(*dims, *sums))
            by_day = sorted(
                day_model.objects.filter(day__range=(month, facts._next_month(month)
                                                     - timedelta(days=1)))
                .values_list(*dims)
                .annotate(**{f"s_{s}": Sum(s) for s in sums})
            )  # fmt: skip
            assert by_month == by_day, (month_model.__name__, month)


def _assert_spans_and_cohorts() -> None:
    """Every span equals the per-shopper sums over its months; cohorts their counts."""
    months = _month_list()
    for i, m0 in enumerate(months):
        for m1 in months[i:]:
            spans = sorted(
                ShopperSpanFact.objects.filter(first_month=m0, last_month=m1).values_list(
                    "bucket", "last_day", "shoppers", "orders", "spend"
                )
            )
            assert spans == _rows(RAW_SPANS, {"m0": m0, "m1": m1}), (m0, m1)
    cohorts = sorted(CohortMonthFact.objects.values_list("first_month", "month", "shoppers"))
    assert cohorts == _rows(
        "SELECT first_month, month, COUNT(*) FROM analytics_shoppermonthfact GROUP BY 1, 2"
    )


def _snapshot() -> list:
    return [
        sorted(model.objects.values_list(*[f.attname for f in model._meta.fields[1:]]))
        for model in (ShopperMonthFact, ShopperSpanFact, CohortMonthFact, CommunityDayFact,
                      LeaderMonthFact, ProductMonthFact, CategoryMonthFact, BasketPairMonthFact)
    ]  # fmt: skip


def test_short_runs_then_a_rebuild_match_raw_sql_and_reruns_change_nothing(seeded):
    first, last = seeded
    sample = [first, first + timedelta(days=31), last - timedelta(days=3), last]
    _assert_facts_match_raw(last, sample)  # after the demo's rebuild (one long range)
    rebuilt = _snapshot()

    # From nothing, the last month and this one, a few days at a time (shopper by
    # shopper, never across a month's end): every month row equals raw SQL, and the
    # spans and cohorts equal the month rows.
    for model in (ShopperMonthFact, ShopperSpanFact, CohortMonthFact):
        model.objects.all().delete()
    start = (last.replace(day=1) - timedelta(days=1)).replace(day=1)
    day = start
    while day <= last:
        month_end = facts._next_month(day) - timedelta(days=1)
        end = min(day + timedelta(days=4), month_end, last)
        facts.rebuild_facts(start=day, end=end)
        day = end + timedelta(days=1)
    got = sorted(ShopperMonthFact.objects.values_list("month", "user_id", "orders", "spend",
                                                      "last_day"))  # fmt: skip
    assert got == [row for row in _rows(RAW_SHOPPER_MONTHS, {"end": last}) if row[0] >= start]
    _assert_spans_and_cohorts()

    # A rebuild of every day gives back the same rows as the first build.
    facts.rebuild_facts(start=first, end=last)
    assert _snapshot() == rebuilt

    # The nightly job twice, and a one-day rebuild: nothing changes.
    with time_machine.travel(NOON_ISH, tick=False):
        facts.refresh_recent_facts()
        facts.refresh_recent_facts()
    facts.rebuild_facts(start=last - timedelta(days=2), end=last - timedelta(days=2))
    assert _snapshot() == rebuilt
    _assert_facts_match_raw(last, sample)


def test_a_late_refund_reaches_the_spans_through_the_nightly_job(seeded):
    _first, last = seeded
    order = (
        Order.objects.filter(note=demo.HISTORY_NOTE, refunded_amount=0, status="completed")
        .filter(paid_at__date=last - timedelta(days=3))
        .order_by("pk")
        .first()
    )
    # What a late refund leaves in the order (the facts read only these columns).
    Order.objects.filter(pk=order.pk).update(refunded_amount=F("payable"), status="refunded")
    with time_machine.travel(NOON_ISH, tick=False):
        facts.refresh_recent_facts()
    paid_month = (last - timedelta(days=3)).replace(day=1)
    row = ShopperMonthFact.objects.get(month=paid_month, user_id=order.user_id)
    assert (
        row.spend
        == _rows(
            "SELECT SUM(payable - refunded_amount) FROM orders_order WHERE user_id = %(u)s "
            "AND date_trunc('month', paid_at AT TIME ZONE 'Asia/Shanghai')::date = %(m)s",
            {"u": order.user_id, "m": row.month},
        )[0][0]
    )
    _assert_facts_match_raw(last, [last - timedelta(days=3)])


def test_the_command_over_several_months_counts_the_spans_once_and_the_same(seeded):
    first, last = seeded
    rebuilt = _snapshot()
    ShopperSpanFact.objects.all().delete()
    out = io.StringIO()
    call_command(
        "rebuild_facts", "--start", first.isoformat(), "--end", last.isoformat(), stdout=out
    )
    assert "facts rebuilt" in out.getvalue()
    assert _snapshot() == rebuilt
