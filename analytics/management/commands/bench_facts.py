"""manage.py bench_facts: generate N orders over a span of days, time the nightly fact
job and every report over the facts, and say whether each report answers in
under a second.

What it generates (the big tables in SQL, never the ORM row by row): --shoppers
shoppers (accounts_user), --orders orders spread evenly over --days days ending
yesterday (Shanghai) with --lines-per-order lines each, into the real
orders_order / orders_orderline tables (only the columns needed, every NOT NULL
column filled), at --points pickup points of one warehouse, over --skus SKUs.
Every 10th order has a ¥1.00 discount, every 25th a refunded first line, every
100th is refunded in full. Small tables (catalog, leaders, points) go through
bulk_create.

What it times:
- the nightly job: analytics.facts.rebuild_facts over one day (yesterday) and
  over the whole range;
- each report selector over the whole range (analytics.selectors), twice (cold,
  then warm); the slowest is named and checked against 1 s.

Where it runs:
- by default in a database of its own, --database (bench_facts): created
  (dropped first if left over), migrated, used, dropped at the end (kept with
  --keep). There the orders tables' secondary indexes and foreign keys are
  dropped during the load and made again afterwards (the foreign keys NOT
  VALID: the generator makes them right), as a bulk load would.
- with --in-place, in the configured database, inside one transaction rolled
  back at the end: nothing is left behind (tests run it at a tiny size).
(Both through tuangou.benchmarking, shared with the other bench commands.)

    manage.py bench_facts                        # 10,000,000 orders over 365 days
    manage.py bench_facts --orders 200000        # a quicker look
"""

from __future__ import annotations

import math
import secrets
import sys
import time as clock
from datetime import date, time, timedelta
from decimal import Decimal

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from catalog.models import Category, Product, Sku, Supplier, Warehouse
from leaders.models import Community, Leader, LeaderKind, PickupPoint, PointStatus
from tuangou.accounts.models import User
from tuangou.benchmarking import in_own_database, in_place
from tuangou.timeutils import local_datetime, local_today, now

REPORT_BUDGET_SECONDS = 1.0
EVERY_DAY = {str(d): ["08:00", "21:00"] for d in range(7)}
CHUNK = 1_000_000  # orders per INSERT statement (progress lines, bounded work_mem)
BULK_TABLES = ("orders_order", "orders_orderline")


class Command(BaseCommand):
    help = "Generate orders, time the nightly fact job and the reports over the facts."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=10_000_000)
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--points", type=int, default=2_000)
        parser.add_argument("--skus", type=int, default=500)
        parser.add_argument("--lines-per-order", type=int, default=2)
        parser.add_argument("--shoppers", type=int, help="default: orders / 20")
        parser.add_argument("--database", default="bench_facts", help="the throwaway database")
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="use the configured database, in one transaction rolled back at the end",
        )
        parser.add_argument("--keep", action="store_true", help="keep the data afterwards")

    # --- input -------------------------------------------------------------------------

    def _sizes(self, options) -> dict:
        sizes = {
            "orders": options["orders"],
            "days": options["days"],
            "points": options["points"],
            "skus": options["skus"],
            "lpo": options["lines_per_order"],
        }
        sizes["shoppers"] = options["shoppers"] or max(1, sizes["orders"] // 20)
        for name, value in sizes.items():
            if value < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        if not 1 <= sizes["lpo"] <= 5:
            raise CommandError("--lines-per-order must be 1..5")
        if sizes["days"] > 730:
            raise CommandError("--days must be at most 730 (reports cover two years at most)")
        if sizes["skus"] < 14:
            raise CommandError("--skus must be at least 14")
        return sizes

    def handle(self, *args, **options):
        sizes = self._sizes(options)
        if options["in_place"]:
            run = lambda: self._bench(sizes, bulk=False)  # noqa: E731
            in_place(run, keep=options["keep"], stdout=self.stdout)
            return
        in_own_database(
            options["database"],
            lambda: self._bench(sizes, bulk=True),
            keep=options["keep"],
            stdout=self.stdout,
        )

    # --- the run ---------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        sys.stdout.flush()

    def _bench(self, sizes: dict, *, bulk: bool) -> None:
        from analytics.facts import rebuild_facts

        last = local_today() - timedelta(days=1)
        first = last - timedelta(days=sizes["days"] - 1)
        tag = secrets.token_hex(3)
        started = clock.perf_counter()
        saved = self._drop_secondary(BULK_TABLES) if bulk else None
        leader_ids = self._generate(sizes, first, tag)
        if saved is not None:
            began = clock.perf_counter()
            self._restore(saved)
            self._say(
                f"  indexes and foreign keys made again in {clock.perf_counter() - began:.1f} s"
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE orders_order; ANALYZE orders_orderline; ANALYZE accounts_user")
        lines = sizes["orders"] * sizes["lpo"]
        self._say(
            f"generated {sizes['orders']:,} orders ({lines:,} lines) of "
            f"{sizes['shoppers']:,} shoppers at {sizes['points']:,} points over "
            f"{sizes['days']} days ({first} .. {last}), {sizes['skus']} SKUs, "
            f"in {clock.perf_counter() - started:.1f} s"
        )

        figures: list[tuple[str, float]] = []
        # The nightly job first (it needs no other facts): over a big range the
        # whole-range rebuild takes long, and the nightly figure matters most.
        began = clock.perf_counter()
        rebuild_facts(start=last, end=last)
        nightly_one = clock.perf_counter() - began
        self._say(f"nightly fact job, one day ({last}): {nightly_one:.2f} s")
        began = clock.perf_counter()
        counts = rebuild_facts(start=first, end=last)
        whole = clock.perf_counter() - began
        self._say(f"facts over the whole range ({sizes['days']} days): {whole:.1f} s  {counts}")
        with connection.cursor() as cursor:
            for model in apps.get_app_config("analytics").get_models():
                if model.__name__.endswith("Fact"):
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

        for label, call in self._reports(first, last, leader_ids):
            cold = _timed(call)
            warm = _timed(call)
            figures.append((label, warm))
            verdict = "ok" if warm < REPORT_BUDGET_SECONDS else "OVER 1 s"
            self._say(
                f"  report {label}: {cold * 1000:.0f} ms cold, {warm * 1000:.0f} ms warm  {verdict}"
            )
        slowest_label, slowest = max(figures, key=lambda f: f[1])
        self._say(
            f"slowest report: {slowest_label} {slowest * 1000:.0f} ms "
            f"({'under' if slowest < REPORT_BUDGET_SECONDS else 'OVER'} 1 s) "
            f"over {sizes['orders']:,} orders"
        )

    def _reports(self, first: date, last: date, leader_ids: list[int]):
        from analytics import selectors

        yield "sales_report", lambda: selectors.sales_report(start=first, end=last)
        yield "leader_board", lambda: selectors.leader_board(start=first, end=last)
        yield "leader_trend", lambda: selectors.leader_trend(leader_id=leader_ids[0], end=last)
        yield "shopper_behaviour", lambda: selectors.shopper_behaviour(start=first, end=last)
        yield "groupbuy_report", lambda: selectors.groupbuy_report(start=first, end=last)
        yield "delivery_report", lambda: selectors.delivery_report(start=first, end=last)

    # --- bulk load helpers ----------------------------------------------------------------

    def _drop_secondary(self, tables: tuple[str, ...]) -> dict:
        """Drop the tables' indexes (but the primary key) and foreign keys; return how to
        make them again."""
        saved: dict[str, list[str]] = {"constraints": [], "indexes": []}
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
                FROM pg_constraint c
                WHERE c.conrelid::regclass::text = ANY(%s) AND c.contype IN ('f', 'u')
                """,
                [list(tables)],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                """
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.tablename = ANY(%s) AND i.indexname NOT IN (
                    SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))
                """,
                [list(tables)],
            )
            indexes = cursor.fetchall()
            for table, name, definition, kind in constraints:
                suffix = " NOT VALID" if kind == "f" else ""
                saved["constraints"].append(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}{suffix}'
                )
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, definition in indexes:
                saved["indexes"].append(definition)
                cursor.execute(f'DROP INDEX "{name}"')
        return saved

    def _restore(self, saved: dict) -> None:
        with connection.cursor() as cursor:
            for sql in saved["indexes"]:
                cursor.execute(sql)
            for sql in saved["constraints"]:
                cursor.execute(sql)

    # --- generation -------------------------------------------------------------------------

    def _generate(self, sizes: dict, first: date, tag: str) -> list[int]:
        warehouse = Warehouse.objects.create(
            name=f"压测仓 {tag}", city="长沙", address="长沙市望城区",
            latitude=Decimal("28.365600"), longitude=Decimal("112.820000"),
        )  # fmt: skip
        sku_ids = self._catalog(sizes["skus"], tag)
        points = self._points(sizes["points"], warehouse, tag)
        params = {
            **sizes,
            "tag": tag,
            "now": now(),
            "t0": local_datetime(first, time(0, 0)),
            "first": first,
            "warehouse": warehouse.pk,
            "prefix": f"bf{tag}s",
            "number": f"BF{tag}",
            "sku_ids": sku_ids,
            "point_ids": [p.pk for p in points],
        }
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in _SETUP_SQL:
                cursor.execute(sql, params)
            began = clock.perf_counter()
            for low in range(0, sizes["orders"], CHUNK):
                chunk = {**params, "low": low, "high": min(sizes["orders"], low + CHUNK)}
                cursor.execute(_ORDERS_SQL, chunk)
                cursor.execute(_LINES_SQL, chunk)
                done = chunk["high"]
                rate = done / max(clock.perf_counter() - began, 1e-6)
                if sizes["orders"] > CHUNK:
                    self._say(f"  {done:,} orders written ({rate:,.0f}/s)")
            for sql in _FINISH_SQL:
                cursor.execute(sql, params)
        return [p.leader_id for p in points]

    def _catalog(self, count: int, tag: str) -> list[int]:
        category = Category.objects.create(name="压测", slug=f"bench-facts-{tag}")
        supplier = Supplier.objects.create(name=f"压测供应商 {tag}")
        products = Product.objects.bulk_create(
            [
                Product(name=f"压测商品{tag}-{i:03d}", category=category, supplier=supplier,
                        is_on_shelf=True)
                for i in range(count)
            ]
        )  # fmt: skip
        skus = Sku.objects.bulk_create(
            [
                # The price is a formula of the SKU's number k (see _price_sql).
                Sku(product=p, spec="500g/份", price=Decimal("2.90") + i % 20,
                    cost_price=Decimal("2.00") + i % 20)
                for i, p in enumerate(products)
            ]
        )  # fmt: skip
        return [s.pk for s in skus]

    def _points(self, count: int, warehouse: Warehouse, tag: str) -> list[PickupPoint]:
        users = User.objects.bulk_create(
            [User(username=f"bf{tag}l{i}", password="!") for i in range(count)]  # noqa: S106
        )
        communities = Community.objects.bulk_create(
            [
                Community(name=f"压测社区 {tag}-{i}", city="长沙", district="岳麓区",
                          warehouse=warehouse)
                for i in range(max(1, math.ceil(count / 20)))
            ]
        )  # fmt: skip
        leaders = Leader.objects.bulk_create(
            [
                Leader(
                    user=u, real_name=f"团长{i}", phone=f"1860000{i % 10000:04d}",
                    kind=LeaderKind.CONVENIENCE_STORE, share_code=f"bf{tag}-{i}",
                    joined_at=now(),
                )
                for i, u in enumerate(users)
            ]
        )  # fmt: skip
        return PickupPoint.objects.bulk_create(
            [
                PickupPoint(
                    leader=leader, community=communities[i // 20], warehouse=warehouse,
                    name=f"压测自提点{i:04d}", address=f"长沙市压测路{i}号",
                    latitude=Decimal("28.196000"), longitude=Decimal("112.977000"),
                    opening_hours=dict(EVERY_DAY), status=PointStatus.ACTIVE,
                )
                for i, leader in enumerate(leaders)
            ]
        )  # fmt: skip


def _timed(call) -> float:
    began = clock.perf_counter()
    call()
    return clock.perf_counter() - began


# Shoppers and orders get explicit ids (base + k) so that lines can point at their
# order without a lookup; the identity sequences are moved past them at the end.
# Order o: paid on day o * days / orders after the first (07:00-22:00 Shanghai), by
# shopper (o * 7919) % shoppers at that shopper's home point; line j of order o is
# SKU (o * 7 + (o / 1999) * 37 + j * 13) % skus (the o / 1999 term keeps a point's
# orders from all buying the same SKUs, so the facts have a realistic number of
# rows), quantity 1 + (o + j) % 3, at the SKU's price
# 2.90 + k % 20. Every 10th order: ¥1.00 off its first line; every 25th: its first
# line refunded; every 100th: refunded in full.
_SETUP_SQL = [
    """
    CREATE TEMP TABLE bench_base ON COMMIT DROP AS
    SELECT (SELECT coalesce(max(id), 0) FROM accounts_user) AS users,
           (SELECT coalesce(max(id), 0) FROM orders_order) AS orders
    """,
    """
    INSERT INTO accounts_user
        (id, password, last_login, is_superuser, username, first_name, last_name, email,
         is_staff, is_active, date_joined, phone, phone_verified, nickname, avatar)
    SELECT b.users + 1 + k, '!', NULL, false, %(prefix)s || k, '', '', '', false, true,
           %(t0)s, '+8617' || lpad(k::text, 9, '0'), true, '', ''
    FROM generate_series(0, %(shoppers)s - 1) k CROSS JOIN bench_base b
    """,
    """
    CREATE TEMP TABLE bench_sku ON COMMIT DROP AS
    SELECT i.k - 1 AS k, s.id, s.price, s.spec, p.name AS product_name
    FROM unnest(%(sku_ids)s::bigint[]) WITH ORDINALITY AS i (id, k)
    JOIN catalog_sku s ON s.id = i.id
    JOIN catalog_product p ON p.id = s.product_id
    """,
    "CREATE UNIQUE INDEX ON bench_sku (k)",
    """
    CREATE TEMP TABLE bench_point ON COMMIT DROP AS
    SELECT i.k - 1 AS k, p.id, p.leader_id, p.name, p.address
    FROM unnest(%(point_ids)s::bigint[]) WITH ORDINALITY AS i (id, k)
    JOIN leaders_pickuppoint p ON p.id = i.id
    """,
    "CREATE UNIQUE INDEX ON bench_point (k)",
]

_ORDERS_SQL = """
INSERT INTO orders_order
    (id, number, code, kind, status, pickup_point_name, pickup_address, delivery_date,
     pickup_from, goods_total, discount_total, payable, refunded_amount, note,
     created_at, pay_deadline, paid_at, confirmed_at, ready_at, completed_at, closed_at,
     is_uncollected, leader_id, pickup_point_id, user_id, warehouse_id)
SELECT b.orders + 1 + o, %(number)s || lpad(o::text, 9, '0'), 'bfc' || %(tag)s || o,
       'normal', CASE WHEN o %% 100 = 0 THEN 'refunded' ELSE 'completed' END,
       p.name, p.address, t.day + 1,
       ((t.day + 1) + time '10:00') AT TIME ZONE 'Asia/Shanghai', g.goods, g.discount,
       g.goods - g.discount,
       CASE WHEN o %% 100 = 0 THEN g.goods - g.discount
            WHEN o %% 25 = 0 THEN g.first_payable ELSE 0 END,
       '', t.paid - interval '1 minute', t.paid + interval '14 minutes', t.paid, t.paid,
       CASE WHEN o %% 100 = 0 THEN NULL ELSE t.paid + interval '11 hours' END,
       CASE WHEN o %% 100 = 0 THEN NULL ELSE t.paid + interval '13 hours' END,
       CASE WHEN o %% 100 = 0 THEN t.paid + interval '2 hours' END,
       false, p.leader_id, p.id, b.users + 1 + s.k, %(warehouse)s
FROM generate_series(%(low)s, %(high)s - 1) o
CROSS JOIN bench_base b
CROSS JOIN LATERAL (SELECT (o::bigint * 7919) %% %(shoppers)s AS k) s
JOIN bench_point p ON p.k = s.k %% %(points)s
CROSS JOIN LATERAL (
    SELECT %(t0)s::timestamptz
           + make_interval(days => (o::bigint * %(days)s / %(orders)s)::int,
                           secs => 25200 + (o::bigint * 7919) %% 54000) AS paid,
           %(first)s::date + (o::bigint * %(days)s / %(orders)s)::int AS day
) t
CROSS JOIN LATERAL (
    SELECT sum((2.90 + ((o * 7 + (o / 1999) * 37 + j * 13) %% %(skus)s) %% 20)
               * (1 + (o + j) %% 3)) AS goods,
           CASE WHEN o %% 10 = 0 THEN 1.00 ELSE 0 END AS discount,
           (2.90 + ((o * 7 + (o / 1999) * 37) %% %(skus)s) %% 20) * (1 + o %% 3)
               - CASE WHEN o %% 10 = 0 THEN 1.00 ELSE 0 END AS first_payable
    FROM generate_series(0, %(lpo)s - 1) j
) g
"""

_LINES_SQL = """
INSERT INTO orders_orderline
    (product_name, spec, quantity, list_price, unit_price, goods_total, discount_total,
     discounts, payable, refunded_quantity, refunded_amount, handed_out_quantity,
     order_id, sku_id)
SELECT k.product_name, k.spec, q.q, k.price, k.price, k.price * q.q, d.d,
       CASE WHEN d.d > 0 THEN '[{"kind": "coupon", "label": "压测券", "amount": "1.00"}]'
            ELSE '[]' END::jsonb,
       k.price * q.q - d.d,
       CASE WHEN r.refunded THEN q.q ELSE 0 END,
       CASE WHEN r.refunded THEN k.price * q.q - d.d ELSE 0 END,
       CASE WHEN o %% 100 = 0 THEN 0 WHEN r.refunded THEN 0 ELSE q.q END,
       b.orders + 1 + o, k.id
FROM generate_series(%(low)s, %(high)s - 1) o
CROSS JOIN bench_base b
CROSS JOIN generate_series(0, %(lpo)s - 1) j
JOIN bench_sku k ON k.k = (o * 7 + (o / 1999) * 37 + j * 13) %% %(skus)s
CROSS JOIN LATERAL (SELECT 1 + (o + j) %% 3 AS q) q
CROSS JOIN LATERAL (SELECT CASE WHEN o %% 10 = 0 AND j = 0 THEN 1.00 ELSE 0 END AS d) d
CROSS JOIN LATERAL (
    SELECT (o %% 100 = 0) OR (o %% 25 = 0 AND j = 0) AS refunded
) r
"""

_FINISH_SQL = [
    """
    SELECT setval(pg_get_serial_sequence('accounts_user', 'id'),
                  (SELECT max(id) FROM accounts_user))
    """,
    """
    SELECT setval(pg_get_serial_sequence('orders_order', 'id'),
                  (SELECT max(id) FROM orders_order))
    """,
]
