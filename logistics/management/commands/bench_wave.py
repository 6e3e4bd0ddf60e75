"""manage.py bench_wave: time the cutoff wave on a generated night.

Generates one warehouse with --points pickup points (each with its leader
and community), routes of --points-per-route points in order (a van and a
driver each), --skus SKUs (weights, bins, three storage classes), --shoppers
shoppers each at a home point, and --lines order lines (--lines-per-order a
confirmed order) for one delivery date; then times run_wave and prints lines
per second. The big tables (shoppers, orders, lines) are written by
INSERT … SELECT FROM generate_series, the small ones through the ORM; the wave
itself never holds lines in Python, so memory stays flat (peak RSS printed).

Where it runs:
- by default in a database of its own, `--database` (bench_wave): created
  (dropped first if left over), migrated, used, dropped at the end (kept
  with --keep). The wave then runs exactly as on a worker (its own
  transactions, the progress connection).
- with --in-place, in the configured database, inside one transaction that
  is rolled back at the end (committed with --keep): nothing is left behind.
  The wave then runs inside that transaction (tests use this at a tiny size).
(Both through tuangou.benchmarking, shared with the other bench commands.)

    manage.py bench_wave                      # 1,000,000 lines over 2,000 points
    manage.py bench_wave --lines 100000       # a quicker look
"""

from __future__ import annotations

import logging
import math
import resource
import secrets
import sys
import time as clock
from datetime import date, time, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from catalog.models import Category, Product, Sku, StorageClass, Supplier, Warehouse
from leaders.models import Community, Leader, LeaderKind, PickupPoint, PointStatus
from logistics.models import Driver, Route, RouteStop, Vehicle
from tuangou.accounts.models import User
from tuangou.benchmarking import in_own_database, in_place
from tuangou.timeutils import local_datetime, local_today, now

EVERY_DAY = {str(d): ["08:00", "21:00"] for d in range(7)}
STORAGE = [StorageClass.AMBIENT, StorageClass.AMBIENT, StorageClass.CHILLED, StorageClass.FROZEN]
# Around 五一广场, Changsha; the warehouse in 望城, north of the city.
CENTRE = (28.196, 112.977)
WAREHOUSE_AT = (Decimal("28.365600"), Decimal("112.820000"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Generate a night of orders and time the cutoff wave (lines per second)."

    def add_arguments(self, parser):
        parser.add_argument("--lines", type=int, default=1_000_000)
        parser.add_argument("--points", type=int, default=2_000)
        parser.add_argument("--points-per-route", type=int, default=40)
        parser.add_argument("--skus", type=int, default=300)
        parser.add_argument("--lines-per-order", type=int, default=3)
        parser.add_argument("--shoppers", type=int, help="default: lines / 10")
        parser.add_argument("--date", help="delivery date, YYYY-MM-DD (default: tomorrow)")
        parser.add_argument("--database", default="bench_wave", help="the throwaway database")
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="use the configured database, in one transaction rolled back at the end",
        )
        parser.add_argument("--keep", action="store_true", help="keep the data afterwards")

    # --- input -------------------------------------------------------------------------

    def _sizes(self, options) -> dict:
        sizes = {
            "lines": options["lines"],
            "points": options["points"],
            "per_route": options["points_per_route"],
            "skus": options["skus"],
            "lpo": options["lines_per_order"],
        }
        sizes["shoppers"] = options["shoppers"] or max(1, sizes["lines"] // 10)
        for name, value in sizes.items():
            if value < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        if not 1 <= sizes["lpo"] <= 5:
            raise CommandError("--lines-per-order must be 1..5")
        if sizes["skus"] < 13 * sizes["lpo"] + 1:
            raise CommandError(f"--skus must be at least {13 * sizes['lpo'] + 1}")
        sizes["orders"] = math.ceil(sizes["lines"] / sizes["lpo"])
        sizes["routes"] = math.ceil(sizes["points"] / sizes["per_route"])
        return sizes

    def handle(self, *args, **options):
        sizes = self._sizes(options)
        try:
            day = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError:
            raise CommandError("--date must be a date like 2026-11-26") from None
        if options["in_place"]:
            in_place(lambda: self._bench(sizes, day), keep=options["keep"], stdout=self.stdout)
            return
        in_own_database(
            options["database"],
            lambda: self._bench(sizes, day),
            keep=options["keep"],
            stdout=self.stdout,
        )

    # --- the night -----------------------------------------------------------------------

    def _bench(self, sizes: dict, day: date | None) -> None:
        from logistics.services.wave import run_wave

        day = day or local_today() + timedelta(days=1)
        tag = secrets.token_hex(3)
        started = clock.perf_counter()
        warehouse = self._generate(sizes, day, tag)
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE orders_order; ANALYZE orders_orderline; ANALYZE accounts_user;"
                " ANALYZE leaders_pickuppoint; ANALYZE catalog_sku; ANALYZE logistics_routestop"
            )
        self.stdout.write(
            f"generated {sizes['lines']:,} lines in {sizes['orders']:,} orders of "
            f"{sizes['shoppers']:,} shoppers over {sizes['points']:,} points "
            f"({sizes['routes']} routes, {sizes['skus']} SKUs) for {day:%Y-%m-%d} "
            f"in {clock.perf_counter() - started:.1f} s"
        )
        steps = _StepLog()
        log = logging.getLogger("tuangou.logistics.wave")
        log.addHandler(steps)
        level = log.level
        log.setLevel(logging.DEBUG)
        log.propagate = False
        # One line per run would drown the figures.
        quiet = logging.getLogger("tuangou.logistics.routing")
        quiet_level = quiet.level
        quiet.setLevel(logging.WARNING)
        rss_before = _rss_mb()
        try:
            started = clock.perf_counter()
            wave = run_wave(warehouse=warehouse, delivery_date=day)
            seconds = clock.perf_counter() - started
        finally:
            log.removeHandler(steps)
            log.setLevel(level)
            log.propagate = True
            quiet.setLevel(quiet_level)
        for line in steps.lines:
            self.stdout.write(f"  {line}")
        self.stdout.write(
            f"wave: {wave.line_count:,} lines, {wave.order_count:,} orders, "
            f"{wave.unit_count:,} units, {wave.runs.count()} runs, "
            f"{len(wave.problems)} problems"
        )
        self.stdout.write(
            f"wave took {seconds:.1f} s: {wave.line_count / seconds:,.0f} lines/s; "
            f"peak RSS {rss_before:.0f} MB before, {_rss_mb():.0f} MB after"
        )
        sys.stdout.flush()

    def _generate(self, sizes: dict, day: date, tag: str) -> Warehouse:
        """Everything the night needs; the big tables in SQL."""
        warehouse = Warehouse.objects.create(
            name=f"压测仓 {tag}",
            city="长沙",
            address="长沙市望城区",
            latitude=WAREHOUSE_AT[0],
            longitude=WAREHOUSE_AT[1],
        )
        skus = self._catalog(sizes["skus"], tag)
        points = self._points(sizes, warehouse, tag)
        self._routes(sizes, warehouse, points, tag)
        self._orders(sizes, warehouse, day, tag, skus, points)
        return warehouse

    def _catalog(self, count: int, tag: str) -> list[Sku]:
        category = Category.objects.create(name="压测", slug=f"bench-{tag}")
        suppliers = Supplier.objects.bulk_create(
            [Supplier(name=f"压测供应商{i}") for i in range(5)]
        )
        products = Product.objects.bulk_create(
            [
                Product(
                    name=f"压测商品{i:03d}",
                    category=category,
                    supplier=suppliers[i % 5],
                    storage_class=STORAGE[i % len(STORAGE)],
                    is_on_shelf=True,
                )
                for i in range(count)
            ]
        )
        return Sku.objects.bulk_create(
            [
                Sku(
                    product=p,
                    spec="500g/份",
                    price=Decimal("4.90") + i % 20,
                    cost_price=Decimal("3.00") + i % 20,
                    weight_grams=100 + (i * 37) % 900,
                    bin_location=f"{'ABCDEF'[i % 6]}-{i // 6 % 40:02d}-{i % 4 + 1}",
                    case_pack=6,
                    min_order_quantity=12,
                )
                for i, p in enumerate(products)
            ]
        )

    def _points(self, sizes: dict, warehouse: Warehouse, tag: str) -> list[PickupPoint]:
        n = sizes["points"]
        users = User.objects.bulk_create(
            [User(username=f"bw{tag}l{i}", password="!") for i in range(n)]  # noqa: S106
        )
        community = Community.objects.create(
            name=f"压测社区 {tag}", city="长沙", district="岳麓区", warehouse=warehouse
        )
        leaders = Leader.objects.bulk_create(
            [
                Leader(
                    user=u,
                    real_name=f"团长{i}",
                    phone=f"1860000{i % 10000:04d}",
                    kind=LeaderKind.CONVENIENCE_STORE,
                    share_code=f"bw{tag}-{i}",
                    joined_at=now(),
                )
                for i, u in enumerate(users)
            ]
        )
        side = math.ceil(math.sqrt(n))
        return PickupPoint.objects.bulk_create(
            [
                PickupPoint(
                    leader=leader,
                    community=community,
                    warehouse=warehouse,
                    name=f"压测自提点{i:04d}",
                    address=f"长沙市压测路{i}号",
                    latitude=Decimal(f"{CENTRE[0] - 0.15 + 0.3 * (i // side) / side:.6f}"),
                    longitude=Decimal(f"{CENTRE[1] - 0.15 + 0.3 * (i % side) / side:.6f}"),
                    opening_hours=dict(EVERY_DAY),
                    status=PointStatus.ACTIVE,
                )
                for i, leader in enumerate(leaders)
            ]
        )

    def _routes(self, sizes: dict, warehouse: Warehouse, points: list, tag: str) -> None:
        n = sizes["routes"]
        users = User.objects.bulk_create(
            [User(username=f"bw{tag}d{i}", password="!") for i in range(n)]  # noqa: S106
        )
        drivers = Driver.objects.bulk_create(
            [
                Driver(user=u, warehouse=warehouse, name=f"司机{i}", phone=f"1390000{i:04d}")
                for i, u in enumerate(users)
            ]
        )
        vans = Vehicle.objects.bulk_create(
            [
                Vehicle(
                    warehouse=warehouse,
                    plate=f"湘B{tag}{i:03d}"[:16],
                    capacity_kg=40_000,
                    capacity_crates=4_000,
                    is_cold_chain=True,
                )
                for i in range(n)
            ]
        )
        routes = Route.objects.bulk_create(
            [
                Route(
                    warehouse=warehouse,
                    code=f"B{tag}{i:03d}",
                    name=f"压测线{i}",
                    vehicle=vans[i],
                    default_driver=drivers[i],
                    departure_time=time(3, 0),  # 40 stops of 8 min before 10:00
                )
                for i in range(n)
            ]
        )
        per = sizes["per_route"]
        RouteStop.objects.bulk_create(
            [
                RouteStop(route=routes[i // per], pickup_point=p, position=i % per + 1)
                for i, p in enumerate(points)
            ]
        )

    def _orders(self, sizes, warehouse, day, tag, skus, points) -> None:
        params = {
            **sizes,
            "warehouse": warehouse.pk,
            "day": day,
            "tag": tag,
            "now": now(),
            "pickup_from": local_datetime(day, warehouse.pickup_time),
            "prefix": f"bw{tag}s",
            "number": f"BW{tag}",
            "sku_ids": [s.pk for s in skus],
            "point_ids": [p.pk for p in points],
        }
        # The temp tables live until COMMIT: one transaction for them all.
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in _ORDER_SQL:
                cursor.execute(sql, params)


class _StepLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        if record.levelno == logging.DEBUG:
            self.lines.append(record.getMessage())


# Shoppers (phone +8619…, every one at a home point), then the orders and their
# lines. SKUs and points are numbered k = 0, 1, … in the order they were made;
# shoppers and orders by the numbers in their generated names.
_ORDER_SQL = [
    """
    INSERT INTO accounts_user
        (password, last_login, is_superuser, username, first_name, last_name, email,
         is_staff, is_active, date_joined, phone, phone_verified, nickname, avatar)
    SELECT '!', NULL, false, %(prefix)s || k, '', '', '', false, true, %(now)s,
           '+8619' || lpad(k::text, 9, '0'), true, '', ''
    FROM generate_series(0, %(shoppers)s - 1) k
    """,
    """
    CREATE TEMP TABLE bench_shopper ON COMMIT DROP AS
    SELECT substr(username, length(%(prefix)s) + 1)::int AS k, id
    FROM accounts_user WHERE username LIKE %(prefix)s || '%%'
    """,
    "CREATE UNIQUE INDEX ON bench_shopper (k)",
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
    """
    INSERT INTO orders_order
        (number, code, kind, status, pickup_point_name, pickup_address, delivery_date,
         pickup_from, goods_total, discount_total, payable, refunded_amount, note,
         created_at, pay_deadline, paid_at, confirmed_at, ready_at, completed_at, closed_at,
         is_uncollected, leader_id, pickup_point_id, user_id, warehouse_id)
    SELECT %(number)s || lpad(o::text, 9, '0'), 'bwc' || %(tag)s || o, 'normal', 'confirmed',
           p.name, p.address, %(day)s, %(pickup_from)s, t.total, 0, t.total, 0, '',
           m.at, m.at + interval '15 minutes', m.at + interval '1 minute',
           m.at + interval '1 minute', NULL, NULL, NULL, false,
           p.leader_id, p.id, s.id, %(warehouse)s
    FROM generate_series(0, %(orders)s - 1) o
    JOIN bench_shopper s ON s.k = o %% %(shoppers)s
    JOIN bench_point p ON p.k = (o %% %(shoppers)s) %% %(points)s
    -- Placed and paid over the 12 hours before now, like a day's orders.
    CROSS JOIN LATERAL (
        SELECT %(now)s - interval '12 hours' + (o %% 43200) * interval '1 second' AS at
    ) m
    CROSS JOIN LATERAL (
        SELECT sum(k.price * (1 + (o + j) %% 3)) AS total
        FROM generate_series(0, %(lpo)s - 1) j
        JOIN bench_sku k ON k.k = (o * 7 + j * 13) %% %(skus)s
        WHERE o * %(lpo)s + j < %(lines)s
    ) t
    """,
    """
    CREATE TEMP TABLE bench_order ON COMMIT DROP AS
    SELECT substr(number, length(%(number)s) + 1)::int AS k, id
    FROM orders_order WHERE warehouse_id = %(warehouse)s
    """,
    "CREATE UNIQUE INDEX ON bench_order (k)",
    """
    INSERT INTO orders_orderline
        (product_name, spec, quantity, list_price, unit_price, goods_total, discount_total,
         discounts, payable, refunded_quantity, refunded_amount, handed_out_quantity,
         order_id, sku_id)
    SELECT k.product_name, k.spec, q.q, k.price, k.price, k.price * q.q, 0, '[]',
           k.price * q.q, 0, 0, 0, o.id, k.id
    FROM generate_series(0, %(lines)s - 1) l
    JOIN bench_order o ON o.k = l / %(lpo)s
    JOIN bench_sku k ON k.k = ((l / %(lpo)s) * 7 + (l %% %(lpo)s) * 13) %% %(skus)s
    CROSS JOIN LATERAL (SELECT 1 + (l / %(lpo)s + l %% %(lpo)s) %% 3 AS q) q
    """,
]
