"""Report reads: every report reads the fact tables (plus small dimension tables), never raw orders.

Each report is a fixed, small number of queries whatever the range (the
budget is in each docstring and pinned by tests/analytics/test_reports.py).
Reads go to the replica when one is configured (tuangou/db_router.py: the
analytics app's models are routed there; raw SQL asks `read_alias("analytics")`
for the same alias).

The one exception is the operators' dashboard's "today so far" (today has no
facts yet): one aggregate over orders, bounded by the indexed delivery_date
(orders_day_status) — see `today_so_far`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connections, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce

from tuangou.db_router import for_report, read_alias, report_reads
from tuangou.timeutils import local_datetime, to_local

from .formatting import ratio
from .models import (
    CommunityDayFact,
    DeliveryRunFact,
    GroupBuyDayFact,
    LeaderDayFact,
    OrderDayFact,
    SalesFact,
)

ZERO = Decimal("0.00")
TOP = 10
TZ = "Asia/Shanghai"


def _facts(queryset):
    """A fact queryset on the report database (the replica when there is one)."""
    return for_report(queryset)


REPORT_WORK_MEM = "64MB"


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _split(start: date, end: date) -> dict:
    """start..end as its whole months (m0..m1, month starts; none when m0 > m1) and the
    days at its two edges (a0..a1, b0..b1; none when the first is after the second):
    a long range reads the month roll-ups and the day facts of its edges only."""
    m0 = start if start.day == 1 else _next_month(start)
    after = end + timedelta(days=1)
    m_end = after if after.day == 1 else _month_start(end)  # the first day not in a whole month
    if m0 >= m_end:  # no whole month inside: every day is an edge day
        return {"m0": m0, "m1": m0 - timedelta(days=1), "a0": start, "a1": end,
                "b0": end, "b1": start}  # fmt: skip
    return {
        "m0": m0,
        "m1": _month_start(m_end - timedelta(days=1)),
        "a0": start,
        "a1": m0 - timedelta(days=1),
        "b0": m_end,
        "b1": end,
    }


def _edges(column: str = "day") -> str:
    return f"({column} BETWEEN %(a0)s AND %(a1)s OR {column} BETWEEN %(b0)s AND %(b1)s)"


def _dict_rows(sql: str, params: dict) -> list[dict]:
    """Rows of one raw read on the report database, as dicts."""
    with connections[read_alias("analytics")].cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _dim_filter(*, warehouse_id: int | None = None, community_id: int | None = None) -> Q:
    q = Q()
    if warehouse_id:
        q &= Q(warehouse_id=warehouse_id)
    if community_id:
        q &= Q(community_id=community_id)
    return q


# --- 销售报表 -----------------------------------------------------------------------------


@dataclass
class Totals:
    orders: int = 0
    units: int = 0
    gmv: Decimal = ZERO
    paid: Decimal = ZERO
    refunds: Decimal = ZERO
    discounts: Decimal = ZERO
    shoppers: int = 0

    @property
    def aov(self) -> Decimal | None:
        """Average order value (客单价): GMV per order."""
        if not self.orders:
            return None
        return (self.gmv / self.orders).quantize(Decimal("0.01"))

    @property
    def refund_rate(self) -> Decimal | None:
        return ratio(self.refunds, self.paid)

    def add(self, row: dict) -> None:
        self.orders += row.get("orders") or 0
        self.units += row.get("units") or 0
        self.gmv += row.get("gmv") or ZERO
        self.paid += row.get("paid") or ZERO
        self.refunds += row.get("refunds") or ZERO
        self.discounts += row.get("discounts") or ZERO
        self.shoppers += row.get("shoppers") or 0


@dataclass
class SalesRow:
    key: int | str | date
    name: str
    orders: int
    units: int
    gmv: Decimal
    refunds: Decimal
    share: Decimal | None = None  # of the range's GMV


@dataclass
class SalesReport:
    start: date
    end: date
    total: Totals
    by_day: list[tuple[date, Totals]]
    by_category: list[SalesRow]
    by_product: list[SalesRow]  # every product sold, best first
    by_warehouse: list[SalesRow]
    by_community: list[SalesRow]
    last_day: Totals = field(default_factory=Totals)
    day_before: Totals = field(default_factory=Totals)
    last_week: Totals = field(default_factory=Totals)
    week_before: Totals = field(default_factory=Totals)

    @property
    def top_products(self) -> list[SalesRow]:
        return self.by_product[:TOP]

    @property
    def bottom_products(self) -> list[SalesRow]:
        rest = self.by_product[TOP:] if len(self.by_product) > TOP else self.by_product
        return list(reversed(rest[-TOP:]))

    @property
    def day_over_day(self) -> Decimal | None:
        return _change(self.last_day.gmv, self.day_before.gmv)

    @property
    def week_over_week(self) -> Decimal | None:
        return _change(self.last_week.gmv, self.week_before.gmv)

    @property
    def orders_day_over_day(self) -> Decimal | None:
        return _change(self.last_day.orders, self.day_before.orders)

    @property
    def orders_week_over_week(self) -> Decimal | None:
        return _change(self.last_week.orders, self.week_before.orders)


def _change(now, before) -> Decimal | None:
    if not before:
        return None
    return (Decimal(now) - Decimal(before)) / Decimal(before)


SALES_SUMS = {
    "orders": Sum("orders"),
    "units": Sum("units"),
    "gmv": Sum("gmv"),
    "paid": Sum("paid"),
    "refunds": Sum("refunds"),
}


def _sales_rows(rows, key: str, name: str, total_gmv: Decimal) -> list[SalesRow]:
    out = []
    for row in rows:
        out.append(
            SalesRow(
                key=row[key],
                name=row[name] or "—",
                orders=row["orders"] or 0,
                units=row["units"] or 0,
                gmv=row["gmv"] or ZERO,
                refunds=row["refunds"] or ZERO,
                share=ratio(row["gmv"] or ZERO, total_gmv),
            )
        )
    return out


def sales_report(
    *, start: date, end: date, warehouse_id: int | None = None, community_id: int | None = None
) -> SalesReport:
    """销售报表 over start..end. Five queries: days (with the two weeks before `end` for
    the comparisons), categories, products, warehouses, communities."""
    where = _dim_filter(warehouse_id=warehouse_id, community_id=community_id)
    since = min(start, end - timedelta(days=13))
    day_rows = (
        _facts(CommunityDayFact.objects.filter(where, day__range=(since, end)))
        .values("day")
        .annotate(**SALES_SUMS, discounts=Sum("discounts"), shoppers=Sum("shoppers"))
        .order_by("day")
    )
    per_day: dict[date, Totals] = {}
    for row in day_rows:
        per_day.setdefault(row["day"], Totals()).add(row)
    total = Totals()
    by_day = []
    for day in _days(start, end):
        t = per_day.get(day, Totals())
        total.add(
            {
                "orders": t.orders,
                "units": t.units,
                "gmv": t.gmv,
                "paid": t.paid,
                "refunds": t.refunds,
                "discounts": t.discounts,
            }
        )
        by_day.append((day, t))

    def window(first: date, last: date) -> Totals:
        acc = Totals()
        for day, t in per_day.items():
            if first <= day <= last:
                acc.add(t.__dict__)
        return acc

    # Products and categories: with a warehouse or community chosen, SalesFact
    # (indexed by day and those); else ProductMonthFact for the whole months and
    # ProductDayFact for the days at the edges (a few hundred rows a month).
    if warehouse_id or community_id:
        sales = _facts(SalesFact.objects.filter(where, day__range=(start, end)))
        category_rows = (
            sales.values("category_id", "category__name")
            .annotate(**_line_sums())
            .order_by("-gmv", "category_id")
        )
        product_rows = (
            sales.values("product_id", "product__name")
            .annotate(**_line_sums())
            .order_by("-gmv", "product_id")
        )
    else:
        split = _split(start, end)
        category_rows = _dict_rows(PRODUCTS_SQL.format(key="category"), split)
        product_rows = _dict_rows(PRODUCTS_SQL.format(key="product"), split)
    by_category = _sales_rows(category_rows, "category_id", "category__name", total.gmv)
    by_product = _sales_rows(product_rows, "product_id", "product__name", total.gmv)
    days = _facts(CommunityDayFact.objects.filter(where, day__range=(start, end)))
    by_warehouse = _sales_rows(
        days.values("warehouse_id", "warehouse__name").annotate(**SALES_SUMS).order_by("-gmv"),
        "warehouse_id",
        "warehouse__name",
        total.gmv,
    )
    by_community = _sales_rows(
        days.values("community_id", "community__name").annotate(**SALES_SUMS).order_by("-gmv"),
        "community_id",
        "community__name",
        total.gmv,
    )
    return SalesReport(
        start=start,
        end=end,
        total=total,
        by_day=by_day,
        by_category=by_category,
        by_product=by_product,
        by_warehouse=by_warehouse,
        by_community=by_community,
        last_day=window(end, end),
        day_before=window(end - timedelta(days=1), end - timedelta(days=1)),
        last_week=window(end - timedelta(days=6), end),
        week_before=window(end - timedelta(days=13), end - timedelta(days=7)),
    )


# Products (or categories) over start..end: whole months from ProductMonthFact, the
# edge days from ProductDayFact. {key}: product | category.
PRODUCTS_SQL = """
WITH x AS (
    SELECT product_id, category_id, orders, units, gmv, refunds
    FROM analytics_productmonthfact WHERE month BETWEEN %(m0)s AND %(m1)s
    UNION ALL
    SELECT product_id, category_id, orders, units, gmv, refunds
    FROM analytics_productdayfact
    WHERE day BETWEEN %(a0)s AND %(a1)s OR day BETWEEN %(b0)s AND %(b1)s
), s AS (
    SELECT {key}_id, SUM(orders) AS orders, SUM(units) AS units, SUM(gmv) AS gmv,
        SUM(refunds) AS refunds
    FROM x GROUP BY 1
)
SELECT s.{key}_id, d.name AS {key}__name, s.orders, s.units, s.gmv, s.refunds
FROM s LEFT JOIN catalog_{key} d ON d.id = s.{key}_id
ORDER BY s.gmv DESC, s.{key}_id
"""


def _line_sums() -> dict:
    # `orders` per product or category: the orders containing it (ProductDayFact
    # counts each order once per product; SalesFact once per SKU, so an order
    # with two specs of one product counts twice under a warehouse/community filter).
    return {
        "orders": Sum("orders"),
        "units": Sum("units"),
        "gmv": Sum("gmv"),
        "refunds": Sum("refunds"),
    }


def day_totals(*, day: date) -> Totals:
    """One closed day's totals from the facts (the dashboard's 昨日). One query."""
    row = _facts(OrderDayFact.objects.filter(day=day)).aggregate(
        **SALES_SUMS, discounts=Sum("discounts"), shoppers=Sum("shoppers")
    )
    total = Totals()
    total.add(row)
    return total


# --- 团长业绩 -----------------------------------------------------------------------------


@dataclass
class LeaderRow:
    leader_id: int
    name: str
    gmv: Decimal
    orders: int
    shoppers: int
    new_shoppers: int
    returning_shoppers: int
    pickup_due: int
    picked_up: int
    commission: Decimal
    complaints: int
    refunds: Decimal = ZERO
    day: date | None = None

    @property
    def repurchase_rate(self) -> Decimal | None:
        """Share of the shopper-days that were repeat purchases with this leader."""
        return ratio(self.returning_shoppers, self.shoppers)

    @property
    def pickup_rate(self) -> Decimal | None:
        return ratio(self.picked_up, self.pickup_due)


LEADER_SUMS = {
    "gmv_sum": Coalesce(Sum("gmv"), ZERO),
    "orders_sum": Coalesce(Sum("orders"), 0),
    "shoppers_sum": Coalesce(Sum("shoppers"), 0),
    "new_sum": Coalesce(Sum("new_shoppers"), 0),
    "returning_sum": Coalesce(Sum("returning_shoppers"), 0),
    "due_sum": Coalesce(Sum("pickup_due"), 0),
    "picked_sum": Coalesce(Sum("picked_up"), 0),
    "commission_sum": Coalesce(Sum("commission"), ZERO),
    "complaints_sum": Coalesce(Sum("complaints"), 0),
    "refunds_sum": Coalesce(Sum("refunds"), ZERO),
}


def _leader_row(row: dict, *, name: str = "", day: date | None = None) -> LeaderRow:
    return LeaderRow(
        leader_id=row.get("leader_id") or 0,
        name=name or row.get("leader__real_name") or "—",
        gmv=row["gmv_sum"],
        orders=row["orders_sum"],
        shoppers=row["shoppers_sum"],
        new_shoppers=row["new_sum"],
        returning_shoppers=row["returning_sum"],
        pickup_due=row["due_sum"],
        picked_up=row["picked_sum"],
        commission=row["commission_sum"],
        complaints=row["complaints_sum"],
        refunds=row["refunds_sum"],
        day=day,
    )


LEADER_BOARD_SQL = """
WITH x AS (
    SELECT leader_id, gmv, orders, shoppers, new_shoppers, returning_shoppers, pickup_due,
        picked_up, commission, complaints, refunds
    FROM analytics_leadermonthfact WHERE month BETWEEN %(m0)s AND %(m1)s
    UNION ALL
    SELECT leader_id, gmv, orders, shoppers, new_shoppers, returning_shoppers, pickup_due,
        picked_up, commission, complaints, refunds
    FROM analytics_leaderdayfact
    WHERE day BETWEEN %(a0)s AND %(a1)s OR day BETWEEN %(b0)s AND %(b1)s
), s AS (
    SELECT leader_id, SUM(gmv) AS gmv_sum, SUM(orders) AS orders_sum,
        SUM(shoppers) AS shoppers_sum, SUM(new_shoppers) AS new_sum,
        SUM(returning_shoppers) AS returning_sum, SUM(pickup_due) AS due_sum,
        SUM(picked_up) AS picked_sum, SUM(commission) AS commission_sum,
        SUM(complaints) AS complaints_sum, SUM(refunds) AS refunds_sum
    FROM x GROUP BY leader_id
)
SELECT s.*, l.real_name AS leader__real_name
FROM s JOIN leaders_leader l ON l.id = s.leader_id
ORDER BY s.gmv_sum DESC, s.leader_id
"""


def leader_board(*, start: date, end: date) -> list[LeaderRow]:
    """团长业绩: every leader with facts in start..end, by GMV. One query: LeaderMonthFact
    for the whole months inside the range, LeaderDayFact for the days at its edges."""
    return [_leader_row(row) for row in _dict_rows(LEADER_BOARD_SQL, _split(start, end))]


@dataclass
class LeaderTrend:
    leader_id: int
    start: date
    end: date
    days: list[LeaderRow]
    total: LeaderRow


def leader_trend(*, leader_id: int, end: date, days: int = 30) -> LeaderTrend:
    """One leader's last `days` days up to `end` (a row per day, zeros where none). One query."""
    start = end - timedelta(days=days - 1)
    rows = {
        row["day"]: row
        for row in _facts(
            LeaderDayFact.objects.filter(leader_id=leader_id, day__range=(start, end))
        )
        .values("day")
        .annotate(**LEADER_SUMS)
        .order_by("day")
    }
    empty = {
        key: (ZERO if "gmv" in key or "commission" in key or "refunds" in key else 0)
        for key in LEADER_SUMS
    }
    per_day = [_leader_row(rows.get(d, empty), name="", day=d) for d in _days(start, end)]
    total_row = {
        key: sum((getattr(r, _FIELD[key]) for r in per_day), empty[key]) for key in LEADER_SUMS
    }
    total = _leader_row({**total_row, "leader_id": leader_id})
    return LeaderTrend(leader_id=leader_id, start=start, end=end, days=per_day, total=total)


_FIELD = {
    "gmv_sum": "gmv",
    "orders_sum": "orders",
    "shoppers_sum": "shoppers",
    "new_sum": "new_shoppers",
    "returning_sum": "returning_shoppers",
    "due_sum": "pickup_due",
    "picked_sum": "picked_up",
    "commission_sum": "commission",
    "complaints_sum": "complaints",
    "refunds_sum": "refunds",
}


# --- 用户行为 -----------------------------------------------------------------------------

FREQUENCY_BUCKETS = [(1, 1, "1"), (2, 2, "2"), (3, 5, "3–5"), (6, 10, "6–10"), (11, None, "11+")]
RECENT_DAYS = 14  # R: ordered within the last two weeks of the range
FREQUENT_ORDERS = 3  # F: three or more orders in the range
RFM_SEGMENTS = ["champions", "new_or_promising", "at_risk", "hibernating"]
# ShopperSpanFact keeps shoppers by bucket (its index here; analytics.facts' CASE has
# the same bounds), so "frequent" must start a bucket.
assert any(lo == FREQUENT_ORDERS for lo, _hi, _l in FREQUENCY_BUCKETS)


@dataclass
class Bucket:
    label: str
    shoppers: int


@dataclass
class Segment:
    key: str
    shoppers: int
    orders: int
    spend: Decimal

    @property
    def spend_per_shopper(self) -> Decimal | None:
        if not self.shoppers:
            return None
        return (self.spend / self.shoppers).quantize(Decimal("0.01"))


@dataclass
class CohortRow:
    month: date
    size: int
    retained: list[int | None]  # shoppers active in month +0, +1, … (None: not yet)

    @property
    def rates(self) -> list[Decimal | None]:
        return [None if n is None else ratio(n, self.size) for n in self.retained]


@dataclass
class CategoryShare:
    community_id: int
    community: str
    category: str
    gmv: Decimal
    share: Decimal | None


@dataclass
class Pair:
    a: str
    b: str
    orders: int
    support: Decimal | None
    lift: Decimal | None


@dataclass
class BehaviourReport:
    start: date
    end: date
    first_month: date
    last_month: date
    shoppers: int
    repeat_shoppers: int
    frequency: list[Bucket]
    segments: list[Segment]
    cohorts: list[CohortRow]
    cohort_width: int
    categories: list[CategoryShare]
    pairs: list[Pair]
    total_orders: int

    @property
    def repeat_rate(self) -> Decimal | None:
        return ratio(self.repeat_shoppers, self.shoppers)


# Frequency and RFM from ShopperSpanFact: the span of the range's months, clipped to
# the months that have shopper facts (a span past them holds the same shoppers).
SHOPPERS_SQL = """
WITH g AS (
    SELECT GREATEST(%(m0)s, MIN(month)) AS m0, LEAST(%(m1)s, MAX(month)) AS m1
    FROM analytics_cohortmonthfact
)
SELECT s.bucket, s.last_day > %(recent)s, SUM(s.shoppers), SUM(s.orders), SUM(s.spend)
FROM analytics_shopperspanfact s
JOIN g ON s.first_month = g.m0 AND s.last_month = g.m1
GROUP BY 1, 2
"""

COHORT_SQL = """
SELECT first_month, month, shoppers
FROM analytics_cohortmonthfact
WHERE first_month BETWEEN %(m0)s AND %(m1)s AND month BETWEEN %(m0)s AND %(m1)s
"""

CATEGORY_SQL = """
WITH x AS (
    SELECT community_id, category_id, gmv
    FROM analytics_categorymonthfact WHERE month BETWEEN %(sm0)s AND %(sm1)s
    UNION ALL
    SELECT community_id, category_id, gmv
    FROM analytics_categorydayfact
    WHERE day BETWEEN %(a0)s AND %(a1)s OR day BETWEEN %(b0)s AND %(b1)s
)
SELECT x.community_id, cm.name, c.name, SUM(x.gmv)
FROM x
JOIN catalog_category c ON c.id = x.category_id
JOIN leaders_community cm ON cm.id = x.community_id
GROUP BY 1, 2, 3
ORDER BY 2, 4 DESC
"""

PAIRS_SQL = """
WITH x AS (
    SELECT product_a_id, product_b_id, orders
    FROM analytics_basketpairmonthfact WHERE month BETWEEN %(sm0)s AND %(sm1)s
    UNION ALL
    SELECT product_a_id, product_b_id, orders
    FROM analytics_basketpairfact
    WHERE day BETWEEN %(a0)s AND %(a1)s OR day BETWEEN %(b0)s AND %(b1)s
), pairs AS (
    SELECT product_a_id, product_b_id, SUM(orders) AS n
    FROM x
    GROUP BY 1, 2
    ORDER BY n DESC, 1, 2
    LIMIT %(limit)s
), y AS (
    SELECT product_id, orders FROM analytics_productmonthfact
    WHERE month BETWEEN %(sm0)s AND %(sm1)s
    UNION ALL
    SELECT product_id, orders FROM analytics_productdayfact
    WHERE day BETWEEN %(a0)s AND %(a1)s OR day BETWEEN %(b0)s AND %(b1)s
), singles AS (
    SELECT product_id, SUM(orders) AS n
    FROM y
    WHERE product_id IN (SELECT product_a_id FROM pairs UNION SELECT product_b_id FROM pairs)
    GROUP BY 1
), total AS (
    SELECT COALESCE(SUM(orders), 0) AS n FROM analytics_communitydayfact
    WHERE day BETWEEN %(start)s AND %(end)s
)
SELECT pa.name, pb.name, pairs.n, sa.n, sb.n, total.n
FROM pairs
JOIN catalog_product pa ON pa.id = pairs.product_a_id
JOIN catalog_product pb ON pb.id = pairs.product_b_id
JOIN singles sa ON sa.product_id = pairs.product_a_id
JOIN singles sb ON sb.product_id = pairs.product_b_id
CROSS JOIN total
ORDER BY pairs.n DESC, pa.name, pb.name
"""


def _months_between(first: date, last: date) -> list[date]:
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
    return months


def shopper_behaviour(*, start: date, end: date, pair_limit: int = 20) -> BehaviourReport:
    """用户行为 over the months that start..end touches (shopper facts are monthly).

    Four queries: frequency buckets and RFM segments (one statement), the
    cohort table, category preference per community, products bought together.
    R(ecency) is "ordered in the last RECENT_DAYS days of the range", F(requency)
    "FREQUENT_ORDERS orders or more", M(onetary) the segment's spend per shopper.
    """
    m0, m1 = _month_start(start), _month_start(end)
    split = _split(start, end)
    params = {
        **{k: v for k, v in split.items() if k not in ("m0", "m1")},
        "sm0": split["m0"],
        "sm1": split["m1"],
        "m0": m0,
        "m1": m1,
        "start": start,
        "end": end,
        "recent": end - timedelta(days=RECENT_DAYS),
        "frequent": FREQUENT_ORDERS,
        "limit": pair_limit,
    }
    alias = read_alias("analytics")
    # The pairs of a long range hash a row per pair: give the sort/hash memory
    # for this transaction only (stock work_mem is 4 MB).
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        cursor.execute(SHOPPERS_SQL, params)
        shopper_rows = cursor.fetchall()
        cursor.execute(COHORT_SQL, params)
        cohort_rows = cursor.fetchall()
        cursor.execute(CATEGORY_SQL, params)
        category_rows = cursor.fetchall()
        cursor.execute(PAIRS_SQL, params)
        pair_rows = cursor.fetchall()

    buckets = {label: 0 for _lo, _hi, label in FREQUENCY_BUCKETS}
    segments = {key: Segment(key=key, shoppers=0, orders=0, spend=ZERO) for key in RFM_SEGMENTS}
    labels = [label for *_r, label in FREQUENCY_BUCKETS]
    for bucket, recent, n, orders, spend in shopper_rows:
        buckets[labels[bucket]] += n
        frequent = FREQUENCY_BUCKETS[bucket][0] >= FREQUENT_ORDERS
        key = RFM_SEGMENTS[(0 if frequent else 1) if recent else (2 if frequent else 3)]
        seg = segments[key]
        seg.shoppers += n
        seg.orders += orders or 0
        seg.spend += spend or ZERO
    shoppers = sum(buckets.values())
    repeat = shoppers - buckets["1"]

    months = _months_between(m0, m1)
    index = {month: i for i, month in enumerate(months)}
    counts: dict[date, dict[date, int]] = {}
    for first, month, n in cohort_rows:
        counts.setdefault(first, {})[month] = n
    cohorts = []
    for first in months:
        row = counts.get(first, {})
        size = row.get(first, 0)
        if not size:
            continue
        retained: list[int | None] = []
        for offset in range(len(months)):
            i = index[first] + offset
            retained.append(row.get(months[i], 0) if i < len(months) else None)
        cohorts.append(CohortRow(month=first, size=size, retained=retained))

    per_community: dict[int, Decimal] = {}
    for community_id, _name, _cat, gmv in category_rows:
        per_community[community_id] = per_community.get(community_id, ZERO) + (gmv or ZERO)
    categories = [
        CategoryShare(
            community_id=cid,
            community=name,
            category=cat,
            gmv=gmv or ZERO,
            share=ratio(gmv or ZERO, per_community[cid]),
        )
        for cid, name, cat, gmv in category_rows
    ]

    pairs = []
    total_orders = 0
    for a, b, n, na, nb, total in pair_rows:
        total_orders = total
        support = ratio(n, total)
        lift = None
        if total and na and nb:
            lift = (Decimal(n) * Decimal(total) / (Decimal(na) * Decimal(nb))).quantize(
                Decimal("0.01")
            )
        pairs.append(Pair(a=a, b=b, orders=n, support=support, lift=lift))
    return BehaviourReport(
        start=start,
        end=end,
        first_month=m0,
        last_month=m1,
        shoppers=shoppers,
        repeat_shoppers=repeat,
        frequency=[
            Bucket(label=label, shoppers=buckets[label]) for *_r, label in FREQUENCY_BUCKETS
        ],
        segments=[segments[key] for key in RFM_SEGMENTS],
        cohorts=cohorts,
        cohort_width=len(months),
        categories=categories,
        pairs=pairs,
        total_orders=total_orders,
    )


# --- 拼团统计 -----------------------------------------------------------------------------


@dataclass
class CampaignRow:
    campaign_id: int
    title: str
    started: int
    filled: int
    auto_completed: int
    failed: int
    members: int
    gmv: Decimal
    fill_seconds: int

    @property
    def fill_rate(self) -> Decimal | None:
        return ratio(self.filled, self.filled + self.failed)

    @property
    def average_fill_minutes(self) -> Decimal | None:
        if not self.filled:
            return None
        return (Decimal(self.fill_seconds) / self.filled / 60).quantize(Decimal("0.1"))


GROUP_SUMS = {
    "started_sum": Coalesce(Sum("started"), 0),
    "filled_sum": Coalesce(Sum("filled"), 0),
    "auto_sum": Coalesce(Sum("auto_completed"), 0),
    "failed_sum": Coalesce(Sum("failed"), 0),
    "members_sum": Coalesce(Sum("members"), 0),
    "gmv_sum": Coalesce(Sum("gmv"), ZERO),
    "seconds_sum": Coalesce(Sum("fill_seconds"), 0),
}


def _campaign_row(row: dict, key: int = 0, title: str = "") -> CampaignRow:
    return CampaignRow(
        campaign_id=key,
        title=title,
        started=row["started_sum"],
        filled=row["filled_sum"],
        auto_completed=row["auto_sum"],
        failed=row["failed_sum"],
        members=row["members_sum"],
        gmv=row["gmv_sum"],
        fill_seconds=row["seconds_sum"],
    )


@dataclass
class GroupBuyReport:
    start: date
    end: date
    total: CampaignRow
    campaigns: list[CampaignRow]
    by_day: list[tuple[date, CampaignRow]]


def groupbuy_report(*, start: date, end: date) -> GroupBuyReport:
    """拼团统计: per campaign and per day. Two queries."""
    facts = _facts(GroupBuyDayFact.objects.filter(day__range=(start, end)))
    campaigns = [
        _campaign_row(row, row["campaign_id"], row["campaign__title"])
        for row in facts.values("campaign_id", "campaign__title")
        .annotate(**GROUP_SUMS)
        .order_by("-gmv_sum", "campaign_id")
    ]
    per_day = {row["day"]: row for row in facts.values("day").annotate(**GROUP_SUMS).order_by()}
    empty = {key: (ZERO if key == "gmv_sum" else 0) for key in GROUP_SUMS}
    by_day = [(d, _campaign_row(per_day.get(d, empty))) for d in _days(start, end)]
    total = _campaign_row(
        {key: sum((c.__dict__[_GFIELD[key]] for c in campaigns), empty[key]) for key in GROUP_SUMS}
    )
    return GroupBuyReport(start=start, end=end, total=total, campaigns=campaigns, by_day=by_day)


_GFIELD = {
    "started_sum": "started",
    "filled_sum": "filled",
    "auto_sum": "auto_completed",
    "failed_sum": "failed",
    "members_sum": "members",
    "gmv_sum": "gmv",
    "seconds_sum": "fill_seconds",
}


# --- 物流数据 -----------------------------------------------------------------------------


@dataclass
class PunctualityRow:
    key: int | date | None
    name: str
    runs: int
    stops: int
    measured: int
    on_time: int
    late: int
    late_minutes: int
    max_late_minutes: int

    @property
    def on_time_rate(self) -> Decimal | None:
        return ratio(self.on_time, self.measured)

    @property
    def average_late_minutes(self) -> Decimal | None:
        if not self.late:
            return None
        return (Decimal(self.late_minutes) / self.late).quantize(Decimal("0.1"))


RUN_SUMS = {
    "runs_n": Count("id"),
    "stops_sum": Coalesce(Sum("stops"), 0),
    "measured_sum": Coalesce(Sum("measured"), 0),
    "on_time_sum": Coalesce(Sum("on_time"), 0),
    "late_sum": Coalesce(Sum("late"), 0),
    "late_minutes_sum": Coalesce(Sum("late_minutes"), 0),
    "max_late": Coalesce(Max("max_late_minutes"), 0),
}


def _punctuality(row: dict, key, name: str) -> PunctualityRow:
    return PunctualityRow(
        key=key,
        name=name,
        runs=row["runs_n"],
        stops=row["stops_sum"],
        measured=row["measured_sum"],
        on_time=row["on_time_sum"],
        late=row["late_sum"],
        late_minutes=row["late_minutes_sum"],
        max_late_minutes=row["max_late"],
    )


@dataclass
class DeliveryReport:
    start: date
    end: date
    total: PunctualityRow
    by_route: list[PunctualityRow]
    by_driver: list[PunctualityRow]
    by_day: list[PunctualityRow]


def delivery_report(*, start: date, end: date, warehouse_id: int | None = None) -> DeliveryReport:
    """物流数据: on-time rate and minutes late per route, driver and day. Three queries."""
    facts = _facts(
        DeliveryRunFact.objects.filter(
            _dim_filter(warehouse_id=warehouse_id), day__range=(start, end)
        )
    )
    by_route = [
        _punctuality(row, row["route_id"], f"{row['route__code']} {row['route__name']}")
        for row in facts.values("route_id", "route__code", "route__name")
        .annotate(**RUN_SUMS)
        .order_by("route__code")
    ]
    by_driver = [
        _punctuality(row, row["driver_id"], row["driver__name"] or "—")
        for row in facts.values("driver_id", "driver__name")
        .annotate(**RUN_SUMS)
        .order_by(F("driver__name").asc(nulls_last=True))
    ]
    per_day = {row["day"]: row for row in facts.values("day").annotate(**RUN_SUMS).order_by()}
    empty = dict.fromkeys(RUN_SUMS, 0)
    by_day = [_punctuality(per_day.get(d, empty), d, d.isoformat()) for d in _days(start, end)]
    total = PunctualityRow(
        key=None,
        name="",
        runs=sum(r.runs for r in by_route),
        stops=sum(r.stops for r in by_route),
        measured=sum(r.measured for r in by_route),
        on_time=sum(r.on_time for r in by_route),
        late=sum(r.late for r in by_route),
        late_minutes=sum(r.late_minutes for r in by_route),
        max_late_minutes=max((r.max_late_minutes for r in by_route), default=0),
    )
    return DeliveryReport(
        start=start, end=end, total=total, by_route=by_route, by_driver=by_driver, by_day=by_day
    )


# --- the operators' dashboard ---------------------------------------------------------------


@dataclass
class SoFar:
    orders: int = 0
    gmv: Decimal = ZERO
    hours: list[int] = field(default_factory=lambda: [0] * 24)


@dataclass
class TodaySoFar:
    now: datetime
    today: SoFar
    last_week: SoFar

    @property
    def gmv_change(self) -> Decimal | None:
        return _change(self.today.gmv, self.last_week.gmv)

    @property
    def orders_change(self) -> Decimal | None:
        return _change(self.today.orders, self.last_week.orders)


TODAY_SQL = """
SELECT CASE WHEN paid_at >= %(t0)s THEN 'today' ELSE 'last_week' END AS which,
    EXTRACT(HOUR FROM paid_at AT TIME ZONE %(tz)s)::int AS hour,
    COUNT(*) FILTER (WHERE paid_at >= %(t0)s OR paid_at < %(lw)s),
    COALESCE(SUM(goods_total) FILTER (WHERE paid_at >= %(t0)s OR paid_at < %(lw)s), 0),
    COUNT(*)
FROM orders_order
WHERE (delivery_date BETWEEN %(d0)s AND %(d1)s AND paid_at >= %(t0)s AND paid_at < %(now)s)
   OR (delivery_date BETWEEN %(w0)s AND %(w1)s AND paid_at >= %(lw0)s AND paid_at < %(lw1)s)
GROUP BY 1, 2
"""

# A paid order's delivery date is 1-2 days after it is paid (before or after
# the cutoff), a 拼团's at most a few days more: the live aggregate looks only
# at these delivery dates, through the orders_day_status index.
DELIVERY_DAYS_AHEAD = 4


def today_so_far(*, now: datetime) -> TodaySoFar:
    """Orders paid today up to `now` vs the same day last week up to the same time (Shanghai).

    The totals compare like with like (last week up to the same minute); the
    hours hold today's so far and last week's whole day (what is still to
    come). The one live read of orders on a report page (today has no facts
    yet): one aggregate, bounded by delivery_date (the orders_day_status
    index) and paid_at.
    """
    local = to_local(now)
    today = local.date()
    t0 = local_datetime(today, time(0, 0))
    week = timedelta(days=7)
    params = {
        "tz": TZ,
        "t0": t0,
        "now": now,
        "d0": today,
        "d1": today + timedelta(days=DELIVERY_DAYS_AHEAD),
        "lw0": t0 - week,
        "lw": now - week,
        "lw1": t0 - week + timedelta(days=1),
        "w0": today - week,
        "w1": today - week + timedelta(days=DELIVERY_DAYS_AHEAD),
    }
    result = {"today": SoFar(), "last_week": SoFar()}
    with report_reads():
        alias = read_alias("orders")
    with connections[alias].cursor() as cursor:
        cursor.execute(TODAY_SQL, params)
        for which, hour, n, gmv, whole_hour in cursor.fetchall():
            acc = result[which]
            acc.orders += n
            acc.gmv += gmv
            acc.hours[hour] += whole_hour
    return TodaySoFar(now=now, today=result["today"], last_week=result["last_week"])


def dashboard_warehouse():
    """The default warehouse, else the first active one (the dashboard's cutoff). One query."""
    from catalog.models import Warehouse

    return (
        for_report(Warehouse.objects.filter(is_active=True)).order_by("-is_default", "pk").first()
    )


@dataclass
class LowStock:
    sku_id: int
    name: str
    spec: str
    left: int
    sold: int


LOW_STOCK_UNITS = 10


def running_out(*, warehouse, delivery_date: date, limit: int = 12) -> list[LowStock]:
    """SKUs of `warehouse` with few units left to sell for `delivery_date`. One query."""
    from catalog.models import StockRecord

    rows = (
        for_report(StockRecord.objects.all())
        .filter(
            warehouse=warehouse,
            delivery_date=delivery_date,
            sku__is_active=True,
            quantity__lte=F("held") + LOW_STOCK_UNITS,
        )
        .annotate(left=F("quantity") - F("held"))
        .order_by("left", "-sold", "sku_id")
        .values("sku_id", "sku__product__name", "sku__spec", "left", "sold")[:limit]
    )
    return [
        LowStock(
            sku_id=r["sku_id"],
            name=r["sku__product__name"],
            spec=r["sku__spec"],
            left=r["left"],
            sold=r["sold"],
        )
        for r in rows
    ]
