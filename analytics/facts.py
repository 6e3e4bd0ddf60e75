"""The fact builders: set-based SQL that (re)fills analytics' fact tables for a date range.

Every builder is idempotent: in one transaction it DELETEs the range's rows and
INSERTs them again with one INSERT … SELECT … GROUP BY over the source tables
(never a Python loop over orders), so running it twice, or over a range that
was built before, leaves the same rows. `rebuild_facts` runs them all.

Which day an order counts on: the day in Asia/Shanghai its payment arrived
(Order.paid_at). Orders never paid (cancelled while awaiting payment) never
count. A paid order's refunds, its pickup and its commission reversals count on
its paid day for sales (net sales of that day's orders); commission entries and
after-sale claims count on the day they were recorded (LeaderDayFact). The
nightly job therefore rebuilds a trailing window (ANALYTICS_REFRESH_DAYS,
default 14) so late refunds, pickups and claims land in their days.

Other days: a 拼团 is counted on the day it opened (started) and the day it
closed (filled / failed); a member on the day they paid; a delivery run on its
delivery date.

Speed: the order-driven builders scan orders by `paid_at` over the range (one
pass each, hash aggregates); over 10M orders a night's window is a few
hundred thousand orders. The fact tables carry composite indexes for the
report filters only, so the INSERTs stay cheap.
"""

from __future__ import annotations

import logging
import time as _time
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction

from tuangou.timeutils import local_datetime, local_today

from . import models as m

logger = logging.getLogger(__name__)

TZ = "Asia/Shanghai"
MAX_RANGE_DAYS = 800
FACT_WORK_MEM = "128MB"  # a bigger rebuild is split by the caller (or the command)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in Shanghai, as aware datetimes."""
    if end < start:
        raise ValueError("end before start")
    return local_datetime(start, time(0, 0)), local_datetime(end + timedelta(days=1), time(0, 0))


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _t(model) -> str:
    return model._meta.db_table


def _tables() -> dict[str, str]:
    from catalog.models import Category, Product, Sku
    from groupbuy.models import Group, GroupMember
    from leaders.commission.models import CommissionEntry
    from leaders.models import PickupPoint
    from logistics.models import DeliveryRun, Route, RunStop
    from orders.models import AfterSaleClaim, Order, OrderLine

    return {
        "order": _t(Order),
        "line": _t(OrderLine),
        "claim": _t(AfterSaleClaim),
        "sku": _t(Sku),
        "product": _t(Product),
        "category": _t(Category),
        "point": _t(PickupPoint),
        "entry": _t(CommissionEntry),
        "group": _t(Group),
        "member": _t(GroupMember),
        "run": _t(DeliveryRun),
        "stop": _t(RunStop),
        "route": _t(Route),
        "sales": _t(m.SalesFact),
        "orderday": _t(m.OrderDayFact),
        "leaderday": _t(m.LeaderDayFact),
        "shopper": _t(m.ShopperMonthFact),
        "pair": _t(m.BasketPairFact),
        "productday": _t(m.ProductDayFact),
        "categoryday": _t(m.CategoryDayFact),
        "communityday": _t(m.CommunityDayFact),
        "productmonth": _t(m.ProductMonthFact),
        "leadermonth": _t(m.LeaderMonthFact),
        "categorymonth": _t(m.CategoryMonthFact),
        "pairmonth": _t(m.BasketPairMonthFact),
        "cohort": _t(m.CohortMonthFact),
        "span": _t(m.ShopperSpanFact),
        "groupbuy": _t(m.GroupBuyDayFact),
        "runfact": _t(m.DeliveryRunFact),
    }


def _run(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params)
        return cursor.rowcount


def _replace(table_key: str, where: str, insert_sql: str, params: dict) -> int:
    """DELETE the range's rows and INSERT them again, in one transaction."""
    with transaction.atomic():
        # Hash aggregates and DISTINCT counts over a night's orders: room to
        # work in memory for this transaction only (the stock 4 MB spills).
        _run(f"SET LOCAL work_mem = '{FACT_WORK_MEM}'", {})
        # Table names and the WHERE come from this module's constants, never from input.
        _run(f"DELETE FROM {{{table_key}}} WHERE {where}", params)  # noqa: S608
        return _run(insert_sql, params)


def _params(start: date, end: date) -> dict:
    since, until = _bounds(start, end)
    return {"start": start, "end": end, "since": since, "until": until, "tz": TZ}


# --- sales --------------------------------------------------------------------------


SALES_SQL = """
INSERT INTO {sales} (day, sku_id, product_id, category_id, warehouse_id, community_id,
    pickup_point_id, leader_id, orders, units, gmv, discounts, paid, refunds,
    refunded_units, shoppers)
SELECT (o.paid_at AT TIME ZONE %(tz)s)::date, l.sku_id, s.product_id, p.category_id,
    o.warehouse_id, pp.community_id, o.pickup_point_id, o.leader_id,
    COUNT(DISTINCT o.id), SUM(l.quantity), SUM(l.goods_total), SUM(l.discount_total),
    SUM(l.payable), SUM(l.refunded_amount), SUM(l.refunded_quantity), COUNT(DISTINCT o.user_id)
FROM {order} o
JOIN {line} l ON l.order_id = o.id
JOIN {sku} s ON s.id = l.sku_id
JOIN {product} p ON p.id = s.product_id
JOIN {point} pp ON pp.id = o.pickup_point_id
WHERE o.paid_at >= %(since)s AND o.paid_at < %(until)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""


def build_sales_facts(*, start: date, end: date) -> int:
    """SalesFact rows (day × SKU × warehouse × community × pickup point) for start..end."""
    return _replace("sales", "day BETWEEN %(start)s AND %(end)s", SALES_SQL, _params(start, end))


ORDER_DAY_SQL = """
WITH o AS (
    SELECT id, (paid_at AT TIME ZONE %(tz)s)::date AS day, warehouse_id, pickup_point_id,
        leader_id, user_id, kind, status, goods_total, discount_total, payable, refunded_amount
    FROM {order}
    WHERE paid_at >= %(since)s AND paid_at < %(until)s
), u AS (
    SELECT l.order_id, SUM(l.quantity) AS units
    FROM {line} l JOIN o ON o.id = l.order_id
    GROUP BY l.order_id
)
INSERT INTO {orderday} (day, warehouse_id, community_id, pickup_point_id, leader_id, orders,
    group_orders, refunded_orders, units, shoppers, gmv, discounts, paid, refunds)
SELECT o.day, o.warehouse_id, pp.community_id, o.pickup_point_id, o.leader_id, COUNT(*),
    COUNT(*) FILTER (WHERE o.kind = 'group'), COUNT(*) FILTER (WHERE o.status = 'refunded'),
    COALESCE(SUM(u.units), 0), COUNT(DISTINCT o.user_id), SUM(o.goods_total),
    SUM(o.discount_total), SUM(o.payable), SUM(o.refunded_amount)
FROM o
JOIN {point} pp ON pp.id = o.pickup_point_id
LEFT JOIN u ON u.order_id = o.id
GROUP BY 1, 2, 3, 4, 5
"""


def build_order_day_facts(*, start: date, end: date) -> int:
    """OrderDayFact rows (day × pickup point): order counts, AOV, refunds."""
    return _replace(
        "orderday", "day BETWEEN %(start)s AND %(end)s", ORDER_DAY_SQL, _params(start, end)
    )


# --- leaders ------------------------------------------------------------------------


LEADER_DAY_SQL = """
WITH o AS (
    SELECT id, (paid_at AT TIME ZONE %(tz)s)::date AS day, leader_id, user_id, status,
        goods_total, payable, refunded_amount
    FROM {order}
    WHERE paid_at >= %(since)s AND paid_at < %(until)s
), firsts AS (
    -- Each shopper's first paid order with the leader, ever: new on that day
    -- (one probe of orders_user_paid_at per shopper and leader).
    SELECT p.user_id, p.leader_id, (fi.first AT TIME ZONE %(tz)s)::date AS first_day
    FROM (SELECT DISTINCT user_id, leader_id FROM o) p
    CROSS JOIN LATERAL (
        SELECT MIN(f.paid_at) AS first FROM {order} f
        WHERE f.user_id = p.user_id AND f.leader_id = p.leader_id
          AND f.paid_at IS NOT NULL AND f.paid_at < %(until)s
    ) fi
), sales AS (
    SELECT o.day, o.leader_id, SUM(o.goods_total) AS gmv, SUM(o.payable) AS paid,
        SUM(o.refunded_amount) AS refunds, COUNT(*) AS orders,
        COUNT(DISTINCT o.user_id) AS shoppers,
        COUNT(DISTINCT o.user_id) FILTER (WHERE fi.first_day = o.day) AS new_shoppers,
        COUNT(*) FILTER (WHERE o.status <> 'refunded') AS pickup_due,
        COUNT(*) FILTER (WHERE o.status = 'completed') AS picked_up
    FROM o
    JOIN firsts fi ON fi.user_id = o.user_id AND fi.leader_id = o.leader_id
    GROUP BY o.day, o.leader_id
), commission AS (
    SELECT (e.occurred_at AT TIME ZONE %(tz)s)::date AS day, e.leader_id, SUM(e.amount) AS amount
    FROM {entry} e
    WHERE e.occurred_at >= %(since)s AND e.occurred_at < %(until)s
    GROUP BY 1, 2
), claims AS (
    SELECT (c.created_at AT TIME ZONE %(tz)s)::date AS day, co.leader_id, COUNT(*) AS n
    FROM {claim} c JOIN {order} co ON co.id = c.order_id
    WHERE c.created_at >= %(since)s AND c.created_at < %(until)s
    GROUP BY 1, 2
), rows AS (
    SELECT day, leader_id, gmv, paid, refunds, orders, shoppers, new_shoppers, pickup_due,
        picked_up, 0::numeric AS commission, 0 AS complaints FROM sales
    UNION ALL
    SELECT day, leader_id, 0, 0, 0, 0, 0, 0, 0, 0, amount, 0 FROM commission
    UNION ALL
    SELECT day, leader_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, n FROM claims
)
INSERT INTO {leaderday} (day, leader_id, gmv, paid, refunds, orders, shoppers, new_shoppers,
    returning_shoppers, pickup_due, picked_up, commission, complaints)
SELECT day, leader_id, SUM(gmv), SUM(paid), SUM(refunds), SUM(orders), SUM(shoppers),
    SUM(new_shoppers), SUM(shoppers) - SUM(new_shoppers), SUM(pickup_due), SUM(picked_up),
    SUM(commission), SUM(complaints)
FROM rows
GROUP BY day, leader_id
"""


def build_leader_facts(*, start: date, end: date) -> int:
    """LeaderDayFact rows (day × leader)."""
    return _replace(
        "leaderday", "day BETWEEN %(start)s AND %(end)s", LEADER_DAY_SQL, _params(start, end)
    )


# --- shoppers -----------------------------------------------------------------------


SHOPPER_MONTH_SQL = """
WITH o AS (
    SELECT id, user_id, (paid_at AT TIME ZONE %(tz)s)::date AS day,
        date_trunc('month', paid_at AT TIME ZONE %(tz)s)::date AS month,
        payable - refunded_amount AS spend
    FROM {order}
    WHERE paid_at >= %(since)s AND paid_at < %(until)s /*users*/
), firsts AS (
    -- Each shopper's first paid order, ever (an index-only probe of orders_user_paid_at).
    SELECT u.user_id, date_trunc('month', fi.first AT TIME ZONE %(tz)s)::date AS first_month
    FROM (SELECT DISTINCT user_id FROM o) u
    CROSS JOIN LATERAL (
        SELECT MIN(f.paid_at) AS first FROM {order} f
        WHERE f.user_id = u.user_id AND f.paid_at IS NOT NULL AND f.paid_at < %(until)s
    ) fi
), cats AS (
    SELECT o.month, o.user_id,
        jsonb_agg(DISTINCT COALESCE(c.parent_id, c.id) ORDER BY COALESCE(c.parent_id, c.id))
            AS category_ids
    FROM o
    JOIN {line} l ON l.order_id = o.id
    JOIN {sku} s ON s.id = l.sku_id
    JOIN {product} p ON p.id = s.product_id
    JOIN {category} c ON c.id = p.category_id
    GROUP BY o.month, o.user_id
), agg AS (
    SELECT month, user_id, COUNT(*) AS orders, SUM(spend) AS spend, MAX(day) AS last_day
    FROM o GROUP BY month, user_id
)
INSERT INTO {shopper} (month, user_id, first_month, orders, spend, last_day, category_ids)
SELECT agg.month, agg.user_id, fi.first_month, agg.orders, agg.spend, agg.last_day,
    COALESCE(cats.category_ids, '[]'::jsonb)
FROM agg
JOIN firsts fi ON fi.user_id = agg.user_id
LEFT JOIN cats ON cats.month = agg.month AND cats.user_id = agg.user_id
"""

# The shoppers a short rebuild touches: those with an order paid in its days.
TOUCHED_SQL = """
CREATE TEMP TABLE analytics_touched_shoppers ON COMMIT DROP AS
SELECT DISTINCT user_id FROM {order}
WHERE paid_at >= %(since)s AND paid_at < %(until)s
"""
ONLY_TOUCHED = "AND user_id = ANY(ARRAY(SELECT user_id FROM analytics_touched_shoppers))"

COHORT_SQL = """
INSERT INTO {cohort} (first_month, month, shoppers)
SELECT first_month, month, COUNT(*)
FROM {shopper}
WHERE month BETWEEN %(m0)s AND %(m1)s
GROUP BY 1, 2
"""

# Every span of whole months (m0..m1) within the grid g0..g1 that holds a month of
# t0..t1, and per span the shoppers by frequency bucket and last order day. The
# bucket bounds are selectors.FREQUENCY_BUCKETS (0: 1 order, 1: 2, 2: 3–5, 3: 6–10, 4: 11+).
#
# Without a row per shopper and span: a shopper's part of a span depends only on
# their first and last active month inside it (rows a and b), so each pair a <= b
# of one shopper's month rows gives orders and spend from running sums and stands
# for a rectangle of spans: m0 after the shopper's month before a up to a, m1 from
# b up to before their month after b. Rectangles are counted first, then spread.
SPAN_CONTRIBUTIONS = """
WITH f AS (
    SELECT user_id, month, last_day, orders, spend,
        SUM(orders) OVER w AS run_orders, SUM(spend) OVER w AS run_spend,
        COALESCE((LAG(month) OVER w + interval '1 month')::date, %(g0)s::date) AS m0_from,
        COALESCE((LEAD(month) OVER w - interval '1 month')::date, %(g1)s::date) AS m1_to
    FROM {shopper}
    WHERE month BETWEEN %(g0)s AND %(g1)s /*users*/
    WINDOW w AS (PARTITION BY user_id ORDER BY month)
), pairs AS (
    SELECT a.m0_from, a.month AS m0_to, b.month AS m1_from, b.m1_to, b.last_day,
        b.run_orders - a.run_orders + a.orders AS orders,
        b.run_spend - a.run_spend + a.spend AS spend
    FROM f a
    JOIN f b ON b.user_id = a.user_id AND b.month >= a.month
    WHERE a.m0_from <= %(t1)s::date AND b.m1_to >= %(t0)s::date
), rectangles AS (
    SELECT m0_from, m0_to, m1_from, m1_to, last_day,
        CASE WHEN orders <= 1 THEN 0 WHEN orders = 2 THEN 1 WHEN orders <= 5 THEN 2
             WHEN orders <= 10 THEN 3 ELSE 4 END AS bucket,
        COUNT(*) AS shoppers, SUM(orders) AS orders, SUM(spend) AS spend
    FROM pairs
    GROUP BY 1, 2, 3, 4, 5, 6
)
SELECT m0::date AS m0, m1::date AS m1, bucket, last_day, SUM(shoppers) AS shoppers,
    SUM(orders) AS orders, SUM(spend) AS spend
FROM rectangles
CROSS JOIN generate_series(m0_from::timestamp, m0_to::timestamp, interval '1 month') m0
CROSS JOIN generate_series(m1_from::timestamp, m1_to::timestamp, interval '1 month') m1
WHERE m0 <= %(t1)s::date AND m1 >= %(t0)s::date
GROUP BY 1, 2, 3, 4
"""

SPAN_INSERT = """
INSERT INTO {span} (first_month, last_month, bucket, last_day, shoppers, orders, spend)
SELECT m0, m1, bucket, last_day, shoppers, orders, spend FROM (/*contributions*/) c
""".replace("/*contributions*/", SPAN_CONTRIBUTIONS)

SPAN_ADD = (
    SPAN_INSERT.rstrip()
    + """
ON CONFLICT (first_month, last_month, bucket, last_day) DO UPDATE SET
    shoppers = {span}.shoppers + EXCLUDED.shoppers,
    orders = {span}.orders + EXCLUDED.orders,
    spend = {span}.spend + EXCLUDED.spend
"""
)

SPAN_SUBTRACT = """
UPDATE {span} s SET shoppers = s.shoppers - c.shoppers, orders = s.orders - c.orders,
    spend = s.spend - c.spend
FROM (/*contributions*/) c
WHERE s.first_month = c.m0 AND s.last_month = c.m1 AND s.bucket = c.bucket
  AND s.last_day = c.last_day
""".replace("/*contributions*/", SPAN_CONTRIBUTIONS)

# A span reaching past the months that had shoppers equals the span clipped to them:
# copies made before a short rebuild adds a month beyond the grid.
SPAN_COPY_LATER = """
INSERT INTO {span} (first_month, last_month, bucket, last_day, shoppers, orders, spend)
SELECT first_month, m::date, bucket, last_day, shoppers, orders, spend
FROM {span}
CROSS JOIN generate_series(%(from)s::timestamp, %(to)s::timestamp, interval '1 month') m
WHERE last_month = %(edge)s
"""
SPAN_COPY_EARLIER = """
INSERT INTO {span} (first_month, last_month, bucket, last_day, shoppers, orders, spend)
SELECT m::date, last_month, bucket, last_day, shoppers, orders, spend
FROM {span}
CROSS JOIN generate_series(%(from)s::timestamp, %(to)s::timestamp, interval '1 month') m
WHERE first_month = %(edge)s
"""

# Ranges of at most this many days are rebuilt shopper by shopper (the nightly
# window); longer ones rebuild whole months of every shopper.
SHOPPER_INCREMENTAL_DAYS = 16


def _prev_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _one(sql: str, params: dict | None = None) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params or {})
        return cursor.fetchone()


def _grid() -> tuple[date | None, date | None]:
    """The first and last month with shopper facts."""
    return _one("SELECT MIN(month), MAX(month) FROM {shopper}")


def _spans(sql: str, *, g0: date, g1: date, t0: date, t1: date, touched: bool) -> int:
    params = {"g0": g0, "g1": g1, "t0": t0, "t1": t1}
    if touched:
        return _run(sql.replace("/*users*/", ONLY_TOUCHED), params)
    # Every shopper: the planner guesses millions of groups where there are a few
    # thousand; a sort would spill to disk, the hash aggregate stays in memory.
    _run("SET LOCAL enable_sort = off", {})
    n = _run(sql.replace("/*users*/", ""), params)
    _run("SET LOCAL enable_sort = on", {})
    return n


def rebuild_shopper_spans(*, t0: date, t1: date) -> int:
    """ShopperSpanFact for every span holding a month of t0..t1 (month starts), from
    ShopperMonthFact, every shopper (date.min..date.max: all of them)."""
    lo, hi = _grid()
    with transaction.atomic():
        _run(f"SET LOCAL work_mem = '{FACT_WORK_MEM}'", {})
        if lo is None:
            _run("DELETE FROM {span}", {})
            return 0
        # Spans past the months with facts are never read (reports clip to the grid).
        _run("DELETE FROM {span} WHERE first_month < %(lo)s OR last_month > %(hi)s",
             {"lo": lo, "hi": hi})  # fmt: skip
        t0, t1 = max(t0, lo), min(t1, hi)
        if t0 > t1:
            return 0
        _run(
            "DELETE FROM {span} WHERE first_month <= %(t1)s AND last_month >= %(t0)s",
            {"t0": t0, "t1": t1},
        )
        return _spans(SPAN_INSERT, g0=lo, g1=hi, t0=t0, t1=t1, touched=False)


def _rebuild_cohorts(m0: date, m1: date) -> None:
    _run("DELETE FROM {cohort} WHERE month BETWEEN %(m0)s AND %(m1)s", {"m0": m0, "m1": m1})
    _run(COHORT_SQL, {"m0": m0, "m1": m1})


def _extend_spans(lo: date, hi: date, t0: date, t1: date) -> None:
    """Before a short rebuild adds months outside lo..hi: give the spans reaching them
    the rows they have without those months (copies of the spans ending at hi /
    starting at lo)."""
    _run("DELETE FROM {span} WHERE first_month < %(lo)s OR last_month > %(hi)s",
         {"lo": lo, "hi": hi})  # fmt: skip
    if t1 > hi:
        _run(SPAN_COPY_LATER, {"from": _next_month(hi), "to": t1, "edge": hi})
    if t0 < lo:
        _run(SPAN_COPY_EARLIER, {"from": t0, "to": _prev_month(lo), "edge": lo})


def build_shopper_facts(*, start: date, end: date, spans: bool = True) -> int:
    """ShopperMonthFact rows for the months that start..end touches, with the cohort
    counts (CohortMonthFact) and the shopper spans (ShopperSpanFact) they feed.

    A short range (the nightly window, SHOPPER_INCREMENTAL_DAYS at most) rebuilds
    only the shoppers who ordered in it: their month rows are made again from
    their orders of those whole months, and their part of every span holding one
    of those months is taken out before and added back after. A longer range
    rebuilds whole months of every shopper and the spans over them (`spans=False`
    leaves the spans to one `rebuild_shopper_spans` call after several ranges).
    """
    t0, t1 = _month_start(start), _month_start(end)
    if (end - start).days + 1 > SHOPPER_INCREMENTAL_DAYS:
        lo, hi = _grid()
        params = _params(t0, _next_month(t1) - timedelta(days=1))
        n = _replace("shopper", "month BETWEEN %(start)s AND %(end)s", SHOPPER_MONTH_SQL, params)
        with transaction.atomic():
            _rebuild_cohorts(t0, t1)
        if spans:
            # Months between the old ones and these (no facts) end spans too.
            if hi is not None and t0 > hi:
                t0 = _next_month(hi)
            if lo is not None and t1 < lo:
                t1 = _prev_month(lo)
            rebuild_shopper_spans(t0=t0, t1=t1)
        return n
    with transaction.atomic():
        _run(f"SET LOCAL work_mem = '{FACT_WORK_MEM}'", {})
        # ON COMMIT DROP does not fire when an outer transaction holds this one.
        _run("DROP TABLE IF EXISTS analytics_touched_shoppers", {})
        _run(TOUCHED_SQL, _params(start, end))
        _run("ANALYZE analytics_touched_shoppers", {})
        lo, hi = _grid()
        if lo is not None:
            if not _one("SELECT EXISTS (SELECT 1 FROM {span})")[0]:
                # Month facts from before the spans existed: make every span once.
                _spans(SPAN_INSERT, g0=lo, g1=hi, t0=lo, t1=hi, touched=False)
            _extend_spans(lo, hi, t0, t1)
        else:  # no month facts: no spans either (none left from before)
            _run("DELETE FROM {span}", {})
        g0, g1 = min(lo or t0, t0), max(hi or t1, t1)
        window = {"g0": g0, "g1": g1, "t0": t0, "t1": t1, "touched": True}
        _spans(SPAN_SUBTRACT, **window)
        _run(
            "DELETE FROM {shopper} WHERE month BETWEEN %(t0)s AND %(t1)s /*users*/".replace(
                "/*users*/", ONLY_TOUCHED
            ),
            {"t0": t0, "t1": t1},
        )
        params = _params(t0, _next_month(t1) - timedelta(days=1))
        n = _run(SHOPPER_MONTH_SQL.replace("/*users*/", ONLY_TOUCHED), params)
        _spans(SPAN_ADD, **window)
        _run(
            "DELETE FROM {span} WHERE shoppers = 0 AND first_month <= %(t1)s "
            "AND last_month >= %(t0)s",
            {"t0": t0, "t1": t1},
        )
        _rebuild_cohorts(t0, t1)
        _run("DROP TABLE analytics_touched_shoppers", {})
    return n


PAIRS_SQL = """
WITH op AS (
    SELECT DISTINCT o.id, (o.paid_at AT TIME ZONE %(tz)s)::date AS day, s.product_id
    FROM {order} o
    JOIN {line} l ON l.order_id = o.id
    JOIN {sku} s ON s.id = l.sku_id
    WHERE o.paid_at >= %(since)s AND o.paid_at < %(until)s
)
INSERT INTO {pair} (day, product_a_id, product_b_id, orders)
SELECT a.day, a.product_id, b.product_id, COUNT(*)
FROM op a JOIN op b ON b.id = a.id AND b.product_id > a.product_id
GROUP BY 1, 2, 3
"""

PRODUCT_DAY_SQL = """
INSERT INTO {productday} (day, product_id, category_id, orders, units, gmv, refunds)
SELECT (o.paid_at AT TIME ZONE %(tz)s)::date, s.product_id, p.category_id, COUNT(DISTINCT o.id),
    SUM(l.quantity), SUM(l.goods_total), SUM(l.refunded_amount)
FROM {order} o
JOIN {line} l ON l.order_id = o.id
JOIN {sku} s ON s.id = l.sku_id
JOIN {product} p ON p.id = s.product_id
WHERE o.paid_at >= %(since)s AND o.paid_at < %(until)s
GROUP BY 1, 2, 3
"""

CATEGORY_DAY_SQL = """
INSERT INTO {categoryday} (day, community_id, category_id, units, gmv)
SELECT f.day, f.community_id, COALESCE(c.parent_id, c.id), SUM(f.units), SUM(f.gmv)
FROM {sales} f
JOIN {category} c ON c.id = f.category_id
WHERE f.day BETWEEN %(start)s AND %(end)s
GROUP BY 1, 2, 3
"""


def build_category_facts(*, start: date, end: date) -> int:
    """CategoryDayFact rows (day × community × top category), rolled up from SalesFact:
    run after build_sales_facts for the same range."""
    return _replace(
        "categoryday", "day BETWEEN %(start)s AND %(end)s", CATEGORY_DAY_SQL, _params(start, end)
    )


def build_basket_facts(*, start: date, end: date) -> int:
    """BasketPairFact and ProductDayFact rows (products bought together; products per day)."""
    params = _params(start, end)
    where = "day BETWEEN %(start)s AND %(end)s"
    with transaction.atomic():
        n = _replace("pair", where, PAIRS_SQL, params)
        _replace("productday", where, PRODUCT_DAY_SQL, params)
    return n


# --- roll-ups for long ranges -----------------------------------------------------------


COMMUNITY_DAY_SQL = """
INSERT INTO {communityday} (day, warehouse_id, community_id, orders, units, shoppers, gmv,
    discounts, paid, refunds)
SELECT day, warehouse_id, community_id, SUM(orders), SUM(units), SUM(shoppers), SUM(gmv),
    SUM(discounts), SUM(paid), SUM(refunds)
FROM {orderday}
WHERE day BETWEEN %(start)s AND %(end)s
GROUP BY 1, 2, 3
"""


def build_community_facts(*, start: date, end: date) -> int:
    """CommunityDayFact rows (day × warehouse × community), rolled up from OrderDayFact:
    run after build_order_day_facts for the same range."""
    return _replace(
        "communityday", "day BETWEEN %(start)s AND %(end)s", COMMUNITY_DAY_SQL, _params(start, end)
    )


# month table: (day table, dimension columns, summed columns)
MONTH_ROLLUPS = {
    "productmonth": ("productday", "product_id, category_id", "orders, units, gmv, refunds"),
    "leadermonth": (
        "leaderday",
        "leader_id",
        "gmv, paid, refunds, orders, shoppers, new_shoppers, returning_shoppers, pickup_due, "
        "picked_up, commission, complaints",
    ),
    "categorymonth": ("categoryday", "community_id, category_id", "units, gmv"),
    "pairmonth": ("pair", "product_a_id, product_b_id", "orders"),
}


def build_month_rollups(*, start: date, end: date) -> int:
    """ProductMonthFact, LeaderMonthFact, CategoryMonthFact and BasketPairMonthFact for the
    whole months that start..end touches, summed from their day facts: run after the day
    builders for the same range. Returns the rows inserted."""
    first, last = _month_start(start), _month_start(end)
    params = {"m0": first, "m1": last, "d0": first, "d1": _next_month(last) - timedelta(days=1)}
    n = 0
    with transaction.atomic():
        for target, (source, dims, sums) in MONTH_ROLLUPS.items():
            summed = ", ".join(f"SUM({c.strip()})" for c in sums.split(","))
            # Table and column names are this module's constants, never input.
            insert = (
                f"INSERT INTO {{{target}}} (month, {dims}, {sums}) "  # noqa: S608
                f"SELECT date_trunc('month', day)::date, {dims}, {summed} FROM {{{source}}} "
                f"WHERE day BETWEEN %(d0)s AND %(d1)s GROUP BY 1, {dims}"
            )
            n += _replace(target, "month BETWEEN %(m0)s AND %(m1)s", insert, params)
    return n


# --- 拼团 -----------------------------------------------------------------------------


GROUPBUY_SQL = """
WITH started AS (
    SELECT (opened_at AT TIME ZONE %(tz)s)::date AS day, campaign_id, COUNT(*) AS n
    FROM {group}
    WHERE opened_at >= %(since)s AND opened_at < %(until)s
    GROUP BY 1, 2
), closed AS (
    SELECT (closed_at AT TIME ZONE %(tz)s)::date AS day, campaign_id,
        COUNT(*) FILTER (WHERE status = 'succeeded') AS filled,
        COUNT(*) FILTER (WHERE status = 'succeeded' AND is_auto_completed) AS auto_completed,
        COUNT(*) FILTER (WHERE status = 'failed') AS failed,
        COALESCE(SUM(EXTRACT(EPOCH FROM closed_at - opened_at))
            FILTER (WHERE status = 'succeeded' AND opened_at IS NOT NULL), 0)::bigint
            AS fill_seconds
    FROM {group}
    WHERE closed_at >= %(since)s AND closed_at < %(until)s AND status IN ('succeeded', 'failed')
    GROUP BY 1, 2
), members AS (
    SELECT (gm.paid_at AT TIME ZONE %(tz)s)::date AS day, g.campaign_id, COUNT(*) AS n,
        SUM(o.goods_total) AS gmv
    FROM {member} gm
    JOIN {group} g ON g.id = gm.group_id
    JOIN {order} o ON o.id = gm.order_id
    WHERE gm.paid_at >= %(since)s AND gm.paid_at < %(until)s
    GROUP BY 1, 2
), rows AS (
    SELECT day, campaign_id, n AS started, 0 AS filled, 0 AS auto_completed, 0 AS failed,
        0 AS members, 0::numeric AS gmv, 0::bigint AS fill_seconds FROM started
    UNION ALL
    SELECT day, campaign_id, 0, filled, auto_completed, failed, 0, 0, fill_seconds FROM closed
    UNION ALL
    SELECT day, campaign_id, 0, 0, 0, 0, n, gmv, 0 FROM members
)
INSERT INTO {groupbuy} (day, campaign_id, started, filled, auto_completed, failed, members, gmv,
    fill_seconds)
SELECT day, campaign_id, SUM(started), SUM(filled), SUM(auto_completed), SUM(failed),
    SUM(members), SUM(gmv), SUM(fill_seconds)
FROM rows
GROUP BY day, campaign_id
"""


def build_groupbuy_facts(*, start: date, end: date) -> int:
    """GroupBuyDayFact rows (day × campaign)."""
    return _replace(
        "groupbuy", "day BETWEEN %(start)s AND %(end)s", GROUPBUY_SQL, _params(start, end)
    )


# --- logistics ----------------------------------------------------------------------


RUNS_SQL = """
WITH s AS (
    SELECT st.run_id, COUNT(*) AS stops,
        COUNT(*) FILTER (WHERE st.arrived_at IS NOT NULL AND st.due_at IS NOT NULL) AS measured,
        COUNT(*) FILTER (WHERE st.arrived_at <= st.due_at) AS on_time,
        COUNT(*) FILTER (WHERE st.arrived_at > st.due_at) AS late,
        COALESCE(SUM(EXTRACT(EPOCH FROM st.arrived_at - st.due_at) / 60)
            FILTER (WHERE st.arrived_at > st.due_at), 0) AS late_minutes,
        COALESCE(MAX(EXTRACT(EPOCH FROM st.arrived_at - st.due_at) / 60)
            FILTER (WHERE st.arrived_at > st.due_at), 0) AS max_late,
        COUNT(*) FILTER (WHERE st.status = 'handed_over') AS handed_over
    FROM {stop} st JOIN {run} r ON r.id = st.run_id
    WHERE r.delivery_date BETWEEN %(start)s AND %(end)s
    GROUP BY st.run_id
)
INSERT INTO {runfact} (day, run_id, route_id, driver_id, warehouse_id, stops, measured, on_time,
    late, late_minutes, max_late_minutes, handed_over)
SELECT r.delivery_date, r.id, r.route_id, r.driver_id, rt.warehouse_id,
    COALESCE(s.stops, 0), COALESCE(s.measured, 0), COALESCE(s.on_time, 0), COALESCE(s.late, 0),
    ROUND(COALESCE(s.late_minutes, 0)), ROUND(COALESCE(s.max_late, 0)),
    COALESCE(s.handed_over, 0)
FROM {run} r
JOIN {route} rt ON rt.id = r.route_id
LEFT JOIN s ON s.run_id = r.id
WHERE r.delivery_date BETWEEN %(start)s AND %(end)s AND r.status <> 'cancelled'
"""


def build_delivery_facts(*, start: date, end: date) -> int:
    """DeliveryRunFact rows: one per delivery run with a delivery date in start..end."""
    return _replace("runfact", "day BETWEEN %(start)s AND %(end)s", RUNS_SQL, _params(start, end))


# --- all ------------------------------------------------------------------------------


BUILDERS = {
    "sales": build_sales_facts,
    "categories": build_category_facts,  # rolled up from the sales just built
    "order_days": build_order_day_facts,
    "communities": build_community_facts,  # rolled up from the order days just built
    "leaders": build_leader_facts,
    "shoppers": build_shopper_facts,  # with cohorts and shopper spans
    "baskets": build_basket_facts,
    "months": build_month_rollups,  # products, leaders, categories, pairs by month
    "groupbuy": build_groupbuy_facts,
    "deliveries": build_delivery_facts,
}


def rebuild_facts(*, start: date, end: date, spans: bool = True) -> dict[str, int]:
    """Rebuild every fact table for start..end (inclusive); {builder: rows inserted}.

    Each builder commits its own range (one transaction each), so a report read
    meanwhile sees either the old or the new rows of a table, never none.
    `spans=False` leaves a long range's shopper spans to one
    `rebuild_shopper_spans` call after several ranges (manage.py rebuild_facts).
    """
    if end < start:
        raise ValueError("end before start")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValueError(f"at most {MAX_RANGE_DAYS} days at a time")
    counts: dict[str, int] = {}
    for name, builder in BUILDERS.items():
        began = _time.monotonic()
        if name == "shoppers":
            counts[name] = builder(start=start, end=end, spans=spans)
        else:
            counts[name] = builder(start=start, end=end)
        logger.info(
            "analytics facts %s %s..%s: %d rows in %.2fs",
            name,
            start,
            end,
            counts[name],
            _time.monotonic() - began,
        )
    return counts


def refresh_recent_facts(*, days: int | None = None, today: date | None = None) -> dict[str, int]:
    """The nightly job: rebuild the days that closed recently (up to yesterday, Shanghai)."""
    from django.conf import settings

    days = days or getattr(settings, "ANALYTICS_REFRESH_DAYS", 14)
    yesterday = (today or local_today()) - timedelta(days=1)
    return rebuild_facts(start=yesterday - timedelta(days=days - 1), end=yesterday)
