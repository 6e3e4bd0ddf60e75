"""Orders partitioned by delivery date, tried with the ORM (docs/scaling.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/SCRATCH DEBUG=true \\
        .venv/bin/python scripts/partition_demo.py [--orders 100000]

Run it on a scratch or benchmark database that has the app's tables (and
ideally `manage.py seed_demo` data): it works in its own schema,
`partition_demo`, which it drops and recreates, and never writes to the
app's own tables. It

1. shows what PostgreSQL refuses when the tables keep Django's single-column
   primary key (id) and unique order codes: every unique constraint of a
   partitioned table must include the partition key;
2. builds the shape that works: orders_order and orders_orderline
   partitioned by RANGE (delivery_date), one partition per day, primary keys
   (id, delivery_date), the line carrying its order's delivery_date with a
   composite foreign key;
3. runs the ORM's usual reads and writes (the app's own Order and OrderLine
   models, through a connection whose search_path puts the partitioned
   copies first) and reports, from EXPLAIN, how many partitions each one
   touches;
4. fills it with generated orders and measures row and index sizes
   (pg_column_size, pg_total_relation_size) and the WAL the inserts write
   (EXPLAIN (ANALYZE, WAL)).
"""

# The SQL here is built from constants of this file (schema and table names,
# generated ids), never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuangou.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.db import DatabaseError, connections, router, transaction  # noqa: E402

from orders.models import Order, OrderLine  # noqa: E402

SCHEMA = "partition_demo"
ALIAS = "partitioned"
DAYS = 30  # daily partitions around the data's delivery dates


def sql(cursor, statement, params=None):
    cursor.execute(statement, params)


def refused(cursor, statement) -> str:
    """Run DDL expected to fail; return PostgreSQL's message."""
    try:
        with transaction.atomic():
            cursor.execute(statement)
    except DatabaseError as exc:
        return str(exc).strip().splitlines()[0]
    return "accepted"


def build(cursor, first_day: date) -> list[tuple[str, str]]:
    findings = []
    sql(cursor, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    sql(cursor, f"CREATE SCHEMA {SCHEMA}")
    # 1. What Django's migrations would ask for.
    findings.append(
        (
            "PRIMARY KEY (id) on a table partitioned by delivery_date",
            refused(
                cursor,
                f"CREATE TABLE {SCHEMA}.try_pk (id bigint PRIMARY KEY, delivery_date date NOT NULL)"
                " PARTITION BY RANGE (delivery_date)",
            ),
        )
    )
    findings.append(
        (
            "UNIQUE (code) (the order code shoppers see)",
            refused(
                cursor,
                f"CREATE TABLE {SCHEMA}.try_unique (code varchar(24) UNIQUE,"
                " delivery_date date NOT NULL) PARTITION BY RANGE (delivery_date)",
            ),
        )
    )
    # 2. The shape that works.
    sql(
        cursor,
        f"CREATE TABLE {SCHEMA}.orders_order (LIKE public.orders_order"
        " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)"
        " PARTITION BY RANGE (delivery_date)",
    )
    sql(cursor, f"ALTER TABLE {SCHEMA}.orders_order ADD PRIMARY KEY (id, delivery_date)")
    sql(
        cursor,
        f"ALTER TABLE {SCHEMA}.orders_order"
        " ADD CONSTRAINT code_per_day UNIQUE (code, delivery_date)",
    )
    for columns in ("pickup_point_id, delivery_date", "user_id, created_at DESC", "code"):
        sql(cursor, f"CREATE INDEX ON {SCHEMA}.orders_order ({columns})")
    sql(cursor, f"CREATE INDEX ON {SCHEMA}.orders_order (status, pay_deadline)")
    sql(
        cursor,
        f"CREATE TABLE {SCHEMA}.orders_orderline (LIKE public.orders_orderline"
        " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY,"
        " delivery_date date NOT NULL) PARTITION BY RANGE (delivery_date)",
    )
    sql(cursor, f"ALTER TABLE {SCHEMA}.orders_orderline ADD PRIMARY KEY (id, delivery_date)")
    sql(cursor, f"CREATE INDEX ON {SCHEMA}.orders_orderline (order_id, delivery_date)")
    sql(cursor, f"CREATE INDEX ON {SCHEMA}.orders_orderline (sku_id)")
    findings.append(
        (
            "FOREIGN KEY orderline(order_id) -> order(id) (what Django's ForeignKey creates)",
            refused(
                cursor,
                f"ALTER TABLE {SCHEMA}.orders_orderline ADD FOREIGN KEY (order_id)"
                f" REFERENCES {SCHEMA}.orders_order (id)",
            ),
        )
    )
    sql(
        cursor,
        f"ALTER TABLE {SCHEMA}.orders_orderline ADD CONSTRAINT line_order"
        f" FOREIGN KEY (order_id, delivery_date) REFERENCES {SCHEMA}.orders_order"
        " (id, delivery_date) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
    )
    for table in ("orders_order", "orders_orderline"):
        for offset in range(DAYS):
            day = first_day + timedelta(days=offset)
            sql(
                cursor,
                f"CREATE TABLE {SCHEMA}.{table}_{day:%Y%m%d} PARTITION OF {SCHEMA}.{table}"
                f" FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')",
            )
        sql(cursor, f"CREATE TABLE {SCHEMA}.{table}_default PARTITION OF {SCHEMA}.{table} DEFAULT")
    # The demo data, copied (the app's tables are only read).
    sql(cursor, f"INSERT INTO {SCHEMA}.orders_order SELECT * FROM public.orders_order")
    sql(
        cursor,
        f"INSERT INTO {SCHEMA}.orders_orderline SELECT l.*, o.delivery_date"
        " FROM public.orders_orderline l JOIN public.orders_order o ON o.id = l.order_id",
    )
    for table in ("orders_order", "orders_orderline"):
        sql(
            cursor,
            f"SELECT setval(pg_get_serial_sequence('{SCHEMA}.{table}', 'id'),"
            f" (SELECT coalesce(max(id), 0) + 1 FROM public.{table}))",
        )
    sql(cursor, f"ANALYZE {SCHEMA}.orders_order")
    sql(cursor, f"ANALYZE {SCHEMA}.orders_orderline")
    return findings


def partitions_touched(queryset) -> int:
    """Partitions in the plan of `queryset` (pruned ones are not listed)."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    statement, params = compiler.as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
        plan = json.dumps(cursor.fetchone()[0])
    return len(set(re.findall(r'"Relation Name": "(orders_order(?:line)?_\w+)"', plan)))


def traced(alias: str):
    """The SQL a block sends, as the connection logs it."""
    connection = connections[alias]
    connection.force_debug_cursor = True
    connection.queries_log.clear()
    return connection


def explain_last(alias: str, statement: str, params) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
        plan = json.dumps(cursor.fetchone()[0])
    return len(set(re.findall(r'"Relation Name": "(orders_order(?:line)?_\w+)"', plan)))


def orm_checks(day: date) -> list[tuple[str, str]]:
    results = []
    orders = Order.objects.using(ALIAS)
    sample = orders.filter(delivery_date=day).first() or orders.first()
    day = sample.delivery_date
    results.append(("partitions in all", f"{DAYS} days + default"))
    point_day = orders.filter(pickup_point_id=sample.pickup_point_id, delivery_date=day)
    results.append(
        (
            "Order list of a pickup point for a day (filter delivery_date)",
            f"{point_day.count()} rows, partitions scanned: {partitions_touched(point_day)}",
        )
    )
    by_code_and_day = orders.filter(code=sample.code, delivery_date=day)
    results.append(
        (
            "Order by code AND its delivery_date (the date carried in the link or code)",
            f"found={by_code_and_day.exists()}, partitions scanned: "
            f"{partitions_touched(by_code_and_day)}",
        )
    )
    results.append(
        (
            "Order by code (shopper's order page, no date)",
            f"found={orders.filter(code=sample.code).exists()}, partitions scanned: "
            f"{partitions_touched(orders.filter(code=sample.code))}",
        )
    )
    results.append(
        (
            "Order by pk (Django's get/save/delete key)",
            f"found={orders.filter(pk=sample.pk).exists()}, partitions scanned: "
            f"{partitions_touched(orders.filter(pk=sample.pk))}",
        )
    )
    results.append(
        (
            "A shopper's recent orders (user_id, ORDER BY -created_at)",
            f"partitions scanned: {partitions_touched(orders.filter(user_id=sample.user_id))}",
        )
    )
    # What scanning every partition costs: the server's planning + execution
    # time of the same lookup (EXPLAIN ANALYZE, median of 51; the client's
    # time on this shared box is mostly waiting for a CPU).
    for label, queryset in (
        ("by pk only", orders.filter(pk=sample.pk)),
        ("by pk and delivery_date", orders.filter(pk=sample.pk, delivery_date=day)),
    ):
        statement, params = queryset.query.get_compiler(using=ALIAS).as_sql()
        timings = []
        with connections[ALIAS].cursor() as cursor:
            for _ in range(51):
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
                plan = cursor.fetchone()[0][0]
                timings.append(plan["Planning Time"] + plan["Execution Time"])
        results.append(
            (
                f"Order.objects.get({label}): server time, median of 51",
                f"{statistics.median(timings):.3f} ms",
            )
        )
    lines = OrderLine.objects.using(ALIAS)
    results.append(
        (
            "order.lines.all() (order_id only)",
            f"{sample.lines.count()} lines, partitions scanned: "
            f"{partitions_touched(lines.filter(order_id=sample.pk))}",
        )
    )
    # Writes through the ORM.
    with transaction.atomic(using=ALIAS):
        locked = orders.select_for_update().get(pk=sample.pk)
        connection = traced(ALIAS)
        locked.note = "partition demo"
        locked.save(using=ALIAS, update_fields=["note"])
        update_sql = connection.queries_log[-1]["sql"]
        connection.force_debug_cursor = False
        scanned = explain_last(
            ALIAS, "UPDATE orders_order SET note = %s WHERE id = %s", ["x", sample.pk]
        )
        results.append(
            (
                "select_for_update().get(pk) + save(update_fields)",
                f"works; its UPDATE ... WHERE id = pk scans {scanned} partitions"
                f" ({update_sql[:70]}...)",
            )
        )
        fresh = copy.copy(sample)
        fresh.pk = None
        fresh.id = None
        fresh.code = f"P{sample.code}"[:24]
        fresh.number = f"P{sample.number}"[:24]
        fresh.delivery_date = day + timedelta(days=1)
        fresh._state.adding = True
        fresh.save(using=ALIAS, force_insert=True)
        results.append(
            (
                "Order.objects.create / save(force_insert) (INSERT ... RETURNING id)",
                f"works; new id {fresh.pk} in partition of {fresh.delivery_date}",
            )
        )
        try:
            with transaction.atomic(using=ALIAS):
                OrderLine.objects.using(ALIAS).create(
                    order=fresh,
                    sku_id=lines.first().sku_id,
                    product_name="x",
                    spec="x",
                    quantity=1,
                    list_price=1,
                    unit_price=1,
                    goods_total=1,
                    discount_total=0,
                    discounts=[],
                    payable=1,
                    refunded_quantity=0,
                    refunded_amount=0,
                    handed_out_quantity=0,
                )
            outcome = "accepted"
        except DatabaseError as exc:
            outcome = str(exc).strip().splitlines()[0]
        results.append(
            (
                "OrderLine.objects.create(order=...) (the model has no delivery_date field)",
                outcome,
            )
        )
        moved = orders.filter(pk=fresh.pk).update(delivery_date=day + timedelta(days=2))
        results.append(
            (
                "Moving an order to another day (UPDATE delivery_date)",
                f"works ({moved} row; PostgreSQL moves it to the other partition)",
            )
        )
        transaction.set_rollback(True, using=ALIAS)
    return results


def fill_and_measure(cursor, first_day: date, n_orders: int) -> dict:
    """Generated orders (2.5 lines each) copied from the demo's row shapes."""
    template = "SELECT * FROM public.orders_order ORDER BY id LIMIT 1"
    cursor.execute(template)
    if cursor.fetchone() is None:
        return {}
    measured = {}
    cursor.execute("SELECT max(id) FROM public.orders_order")
    base = (cursor.fetchone()[0] or 0) + 10_000_000
    insert_orders = f"""
        INSERT INTO {SCHEMA}.orders_order
        SELECT {base} + g, 'T' || lpad(g::text, 17, '0'), 'C' || lpad(g::text, 11, '0'),
               t.kind, t.status, t.pickup_point_name, t.pickup_address,
               %s::date + (g %% 10), t.pickup_from, t.goods_total, t.discount_total,
               t.payable, 0, '', t.created_at + g * interval '7 ms', t.pay_deadline,
               t.paid_at, t.confirmed_at, t.ready_at, t.completed_at, t.closed_at, false,
               -- spread like a real day: a million shoppers, 50,000 pickup points
               g %% 50000, g %% 50000, (g * 7919) %% 1000000, t.warehouse_id
        FROM generate_series(1, %s) g,
             (SELECT * FROM public.orders_order WHERE paid_at IS NOT NULL
              ORDER BY id LIMIT 1) t
    """
    insert_lines = f"""
        INSERT INTO {SCHEMA}.orders_orderline
        SELECT {base} * 3 + o.id * 3 + k, t.product_name, t.spec, t.quantity, t.list_price,
               t.unit_price, t.goods_total, t.discount_total, t.discounts, t.payable, 0, 0, 0,
               o.id, (o.id * 31 + k) %% 5000, o.delivery_date
        FROM {SCHEMA}.orders_order o
        CROSS JOIN generate_series(1, 3) k
        CROSS JOIN (SELECT * FROM public.orders_orderline ORDER BY id LIMIT 1) t
        WHERE o.id > {base} AND (k < 3 OR o.id %% 2 = 0)
    """
    for label, statement, params in (
        ("orders", insert_orders, [first_day, n_orders]),
        ("lines", insert_lines, []),
    ):
        cursor.execute("EXPLAIN (ANALYZE, WAL, FORMAT JSON) " + statement, params)
        plan = cursor.fetchone()[0][0]["Plan"]
        measured[f"wal_bytes_{label}"] = plan.get("WAL Bytes", 0)
        measured[f"wal_fpi_{label}"] = plan.get("WAL FPI", 0)
    cursor.execute(f"ANALYZE {SCHEMA}.orders_order")
    cursor.execute(f"ANALYZE {SCHEMA}.orders_orderline")
    cursor.execute(f"SELECT count(*) FROM {SCHEMA}.orders_order WHERE id > {base}")
    measured["orders"] = cursor.fetchone()[0]
    cursor.execute(f"SELECT count(*) FROM {SCHEMA}.orders_orderline WHERE order_id > {base}")
    measured["lines"] = cursor.fetchone()[0]
    for table in ("orders_order", "orders_orderline"):
        cursor.execute(
            f"SELECT avg(pg_column_size(t.*)) FROM {SCHEMA}.{table} t"
            f" WHERE {'id' if table == 'orders_order' else 'order_id'} > {base}"
        )
        measured[f"{table}_row_bytes"] = round(float(cursor.fetchone()[0]), 1)
        cursor.execute(
            "SELECT sum(pg_relation_size(c.oid)), sum(pg_total_relation_size(c.oid))"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            [f"{SCHEMA}.{table}"],
        )
        heap, total = cursor.fetchone()
        measured[f"{table}_heap_bytes"] = int(heap)
        measured[f"{table}_total_bytes"] = int(total)
    # The status changes of a paid order's life (paid -> confirmed -> ready ->
    # completed): four UPDATEs of the order row, measured on 1,000 orders.
    cursor.execute(
        "EXPLAIN (ANALYZE, WAL, FORMAT JSON) "
        f"UPDATE {SCHEMA}.orders_order SET status = status, ready_at = now()"
        f" WHERE id > {base} AND id <= {base} + 1000"
    )
    plan = cursor.fetchone()[0][0]["Plan"]
    measured["wal_bytes_per_status_update"] = round(plan.get("WAL Bytes", 0) / 1000, 1)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000, help="generated orders to size")
    parser.add_argument("--keep", action="store_true", help="leave the schema for a look")
    args = parser.parse_args()

    for existing in router.routers:
        if existing.__class__.__name__ == "ReplicaRouter":
            # The demo names its connection on every call; no routing.
            router.routers.remove(existing)
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(delivery_date) FROM public.orders_order")
        first_day = cursor.fetchone()[0] or date(2026, 11, 1)
    connections.settings[ALIAS] = {
        **copy.deepcopy(connections.settings["default"]),
        "OPTIONS": {
            **connections.settings["default"].get("OPTIONS", {}),
            "options": f"-c search_path={SCHEMA},public",
        },
    }
    connections.settings[ALIAS]["OPTIONS"].pop("pool", None)
    with connection.cursor() as cursor:
        findings = build(cursor, first_day)
    print("== What stops Django's schema as it is")
    for name, outcome in findings:
        print(f"- {name}: {outcome}")
    print("\n== The ORM's usual queries on the partitioned copies")
    for name, outcome in orm_checks(first_day + timedelta(days=DAYS // 2)):
        print(f"- {name}: {outcome}")
    with connection.cursor() as cursor:
        measured = fill_and_measure(cursor, first_day, args.orders)
    if measured:
        print(
            f"\n== Sizes and WAL of {measured['orders']:,} generated orders"
            f" ({measured['lines']:,} lines)"
        )
        per_order = (
            measured["orders_order_total_bytes"] + measured["orders_orderline_total_bytes"]
        ) / measured["orders"]
        print(json.dumps(measured, indent=1))
        print(f"- bytes on disk per order, lines and indexes included: {per_order:,.0f}")
        wal = (measured["wal_bytes_orders"] + measured["wal_bytes_lines"]) / measured["orders"]
        print(f"- WAL per order inserted (order + lines, indexes): {wal:,.0f} bytes")
    if not args.keep:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
