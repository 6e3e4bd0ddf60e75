"""`make bench`: the app over HTTP beside the raw PostgreSQL limit, in one run.

    .venv/bin/python benchmarks/run.py [--quick] [--no-doc]

1. Anchors: pgbench on a tiny stock+orders schema in its own database (one
   hot row, and the same spread over 1,000 rows, at 8, 16 and 64 clients).
2. A generated shop in its own database (tuangou_bench, migrated): one
   warehouse, a pickup point, a shelf of products, one hot SKU, thousands of
   shoppers each with a server-side session (benchmarks/shop.py).
3. gunicorn with production settings (benchmarks.settings: DEBUG off, the app's
   URLs plus /bench/bare/), one Celery worker for the on_commit tasks, both on
   loopback, Redis DB 8.
4. SQL statements per request, counted in-process with the test client.
5. wrk (benchmarks/wrk/bench.lua) on the bare view, the home page (anonymous and
   signed in), a product page and order placement on the hot SKU at 16 and 64
   clients (orders counted in PostgreSQL); the whole shopper flow with a
   multi-process client (benchmarks/flow_client.py).
6. Invariants after the load, the ratios, a table printed and written into
   docs/benchmarks.md between the bench markers.

Everything it starts runs in its own process group and is stopped in a
finally block; both databases are dropped and Redis DB 8 flushed at the end.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PYTHON = str(BIN / "python") if (BIN / "python").exists() else sys.executable
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", "5432", "postgres"
APP_DB = "tuangou_bench"
PG_DB = "tuangou_bench_pg"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- bench:start -->"
END_MARK = "<!-- bench:end -->"
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Profile:
    pg_seconds: int
    http_seconds: int
    order_seconds: int
    flow_seconds: int
    shoppers: int
    flow_procs: int


FULL = Profile(
    pg_seconds=10, http_seconds=10, order_seconds=15, flow_seconds=30, shoppers=2000, flow_procs=8
)
QUICK = Profile(
    pg_seconds=3, http_seconds=3, order_seconds=5, flow_seconds=8, shoppers=300, flow_procs=4
)


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# --- tools -------------------------------------------------------------------------


def find_pgbench() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


def ensure_tools() -> tuple[str, str]:
    """pgbench and wrk; installed with apt-get when missing and run as root."""
    # Debian 12: pgbench ships in postgresql-15 (the server package, pulled in
    # by `postgresql`); wrk is its own package.
    missing = []
    if not find_pgbench():
        missing.append("postgresql")
    if not shutil.which("wrk"):
        missing.append("wrk")
    if missing:
        command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log(f"installing {' '.join(missing)} (apt-get)")
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(command, check=True, env=quiet)
        else:
            sys.exit(f"bench needs {', '.join(missing)}: run  sudo {' '.join(command)}")
    pgbench, wrk = find_pgbench(), shutil.which("wrk")
    if not pgbench or not wrk:
        sys.exit("bench: pgbench or wrk still missing after apt-get")
    return pgbench, wrk


# --- databases ---------------------------------------------------------------------


def admin_sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def recreate_db(name: str) -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def drop_db(name: str) -> None:
    try:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # cleanup must not hide the run's own error
        log(f"could not drop {name}: {exc}")


def pg_version() -> str:
    import psycopg

    with psycopg.connect(f"{PG_ADMIN}/postgres") as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


# --- pgbench -----------------------------------------------------------------------

PG_SCHEMA = """
CREATE TABLE stock (id int PRIMARY KEY, quantity int NOT NULL CHECK (quantity >= 0),
                    sold int NOT NULL DEFAULT 0);
CREATE TABLE orders (id bigserial PRIMARY KEY, stock_id int NOT NULL REFERENCES stock,
                     quantity int NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO stock (id, quantity) SELECT g, 100000000 FROM generate_series(1, 1000) g;
"""
PG_HOT = """BEGIN;
UPDATE stock SET quantity = quantity - 1, sold = sold + 1 WHERE id = 1 AND quantity > 0;
INSERT INTO orders (stock_id, quantity) VALUES (1, 1);
END;
"""
PG_SPREAD = """\\set id random(1, 1000)
BEGIN;
UPDATE stock SET quantity = quantity - 1, sold = sold + 1 WHERE id = :id AND quantity > 0;
INSERT INTO orders (stock_id, quantity) VALUES (:id, 1);
END;
"""


@dataclass
class Rate:
    name: str
    clients: int
    rate: float  # per second
    p50_ms: float | None = None
    p99_ms: float | None = None
    queries: str = ""
    errors: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)


def run_pgbench(pgbench: str, tmp: Path, seconds: int) -> list[Rate]:
    import psycopg

    recreate_db(PG_DB)
    with psycopg.connect(f"{PG_ADMIN}/{PG_DB}", autocommit=True) as conn:
        conn.execute(PG_SCHEMA)
    scripts = {"hot": tmp / "hot.sql", "spread": tmp / "spread.sql"}
    scripts["hot"].write_text(PG_HOT)
    scripts["spread"].write_text(PG_SPREAD)
    rows = []
    for kind in ("hot", "spread"):
        for clients in (8, 16, 64):
            prefix = tmp / f"pglog-{kind}-{clients}"
            command = [
                pgbench, "-n", "-c", str(clients), "-j", "2", "-T", str(seconds),
                "-f", str(scripts[kind]), "-l", f"--log-prefix={prefix}",
                "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, PG_DB,
            ]  # fmt: skip
            out = subprocess.run(
                command, capture_output=True, text=True, cwd=tmp, check=False,
                timeout=seconds + 120,
            )  # fmt: skip
            found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
            failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
            if out.returncode != 0 or not found:
                raise RuntimeError(f"pgbench failed: {out.stdout[-500:]} {out.stderr[-500:]}")
            latencies = []
            for path in glob.glob(f"{prefix}*"):
                with open(path) as handle:
                    latencies.extend(int(line.split()[2]) for line in handle if line.strip())
                os.unlink(path)
            p50, p99 = _percentiles_us(latencies)
            label = "pgbench one hot row" if kind == "hot" else "pgbench 1,000 rows"
            rows.append(
                Rate(
                    label,
                    clients,
                    float(found.group(1)),
                    p50,
                    p99,
                    queries="2 + BEGIN/END",
                    errors=failed.group(1) if failed else "0",
                )
            )
            log(f"{label} c{clients}: {float(found.group(1)):.0f} tps, p99 {p99:.1f} ms")
    drop_db(PG_DB)
    return rows


def _percentiles_us(latencies_us: list[float]) -> tuple[float | None, float | None]:
    if len(latencies_us) < 2:
        return None, None
    q = statistics.quantiles(latencies_us, n=100)
    return q[49] / 1000, q[98] / 1000


# --- processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    handle = open(log_path, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


# --server: the production config file as it is, or the same file with another
# worker class (the comparison of docs/scaling.md, "Serving").
SERVERS = {
    "conf": ("tuangou.wsgi:application", None),
    "sync": ("tuangou.wsgi:application", "sync"),
    "gthread": ("tuangou.wsgi:application", "gthread"),
    "asgi": ("tuangou.asgi:application", "uvicorn_worker.UvicornWorker"),
}
# Under ASGI Django runs each synchronous view in a thread of its own choosing,
# so a persistent connection (CONN_MAX_AGE) is never reused and one is left open
# per thread until PostgreSQL refuses more ("too many clients"): Django's
# psycopg pool is the way it supports persistent connections there.
# gunicorn turns "sync" into gthread when threads > 1: one thread for a real sync run.
SERVER_ENV = {"asgi": {"DATABASE_POOL": "true"}, "sync": {"GUNICORN_THREADS": "1"}}


def gunicorn_command(port: int, server: str = "conf") -> tuple[list[str], str]:
    """The app's gunicorn settings: its config file when the project has one,
    with the worker class of `server` (`conf` keeps the file's)."""
    app, worker_class = SERVERS[server]
    command = [str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}"]
    if worker_class:
        command += ["--worker-class", worker_class]
    for candidate in ("gunicorn.conf.py", "deploy/gunicorn.conf.py"):
        if (ROOT / candidate).exists():
            command += ["-c", candidate]
            label = f"gunicorn -c {candidate}"
            return command, f"{label} -k {worker_class}" if worker_class else label
    workers = int(os.environ.get("BENCH_WORKERS", 2 * CORES))
    command += ["--workers", str(workers)]
    return command, f"gunicorn, {workers} sync workers (2 x cores)"


def wait_http(url: str, seconds: float = 120, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before answering {url}")
        try:
            request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
                if answer.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer at {url}")


# --- wrk ---------------------------------------------------------------------------


def run_wrk(
    wrk: str, base: str, *, clients: int, seconds: int, method: str, path: str,
    sessions: str = "-", body: str = "",
) -> dict:  # fmt: skip
    threads = min(2, clients)
    command = [
        wrk, f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(ROOT / "benchmarks" / "wrk" / "bench.lua"), base,
        "--", method, path, sessions, body,
    ]  # fmt: skip
    out = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + 120
    )
    found = re.search(r"^BENCH (.*)$", out.stdout, re.M)
    if not found:
        raise RuntimeError(f"wrk failed: {out.stdout[-800:]} {out.stderr[-800:]}")
    result = {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    result["seconds"] = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / result["seconds"]
    return result


def wrk_errors(result: dict) -> str:
    parts = []
    for key, label in (("s5", "5xx"), ("s4", "4xx"), ("s429", "busy"), ("sockerr", "socket"),
                       ("timeout", "timeout")):  # fmt: skip
        if result.get(key):
            parts.append(f"{result[key]} {label}")
    return ", ".join(parts) or "0"


# --- the Django side (in-process, after the database exists) -----------------------


def django_env(tmp: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DATABASE_URL": f"{PG_ADMIN}/{APP_DB}",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": "bench",
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
        # No order may expire during the run: the invariants count them all.
        "ORDER_PAYMENT_TIMEOUT_MINUTES": "240",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }


def count_queries(shop, shopper_user) -> dict[str, int]:
    """SQL statements per request (the second of two, caches warm), test client."""
    import json as _json

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_X_FORWARDED_PROTO="https")
    signed = Client(HTTP_X_FORWARDED_PROTO="https")
    signed.force_login(shopper_user)

    def measure(make):
        make()
        with CaptureQueriesContext(connection) as ctx:
            answer = make()
        return len(ctx.captured_queries), answer

    counts: dict[str, int] = {}
    counts["bare"], _ = measure(lambda: client.get("/bench/bare/"))
    counts["home_anon"], _ = measure(lambda: client.get("/"))
    counts["home_signed"], _ = measure(lambda: signed.get("/"))
    counts["product"], _ = measure(lambda: signed.get(f"/p/{shop.product_code}/"))
    counts["place_order"], _ = measure(
        lambda: signed.post("/orders/checkout/", {"sku": shop.hot_sku_code, "quantity": 1})
    )
    # The flow, step by step (twice: the second is counted).
    for _round in range(2):
        steps = {}
        with CaptureQueriesContext(connection) as ctx:
            signed.post(
                "/orders/cart/add/", {"sku": shop.hot_sku_code, "quantity": 1, "action": "cart"}
            )
        steps["cart_add"] = len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            answer = signed.post("/orders/checkout/", {"note": ""})
        steps["checkout"] = len(ctx.captured_queries)
        pay_url = answer["Location"]
        with CaptureQueriesContext(connection) as ctx:
            signed.get(pay_url)
        steps["pay_page"] = len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            answer = signed.post(pay_url, {})
        steps["start_payment"] = len(ctx.captured_queries)
        sandbox_url = answer["Location"]
        with CaptureQueriesContext(connection) as ctx:
            answer = signed.post(sandbox_url, {})
        steps["sandbox_pay"] = len(ctx.captured_queries)
        found = re.search(
            r'<script id="sandbox-notification" type="application/json">(.*?)</script>',
            answer.content.decode(),
            re.S,
        )
        note = _json.loads(found.group(1))
        with CaptureQueriesContext(connection) as ctx:
            answer = client.post(
                note["url"],
                data=note["body"].encode(),
                content_type="application/json",
                headers={k: v for k, v in note["headers"].items() if k != "Content-Type"},
            )
        steps["notify"] = len(ctx.captured_queries)
        if answer.status_code != 200:
            raise RuntimeError(f"in-process notify answered {answer.status_code}")
    counts.update({f"flow_{k}": v for k, v in steps.items()})
    counts["flow"] = sum(steps.values())
    return counts


def orders_count(**filters) -> int:
    from orders.models import Order

    return Order.objects.filter(**filters).count()


def check_invariants(before: dict[int, int]) -> list[tuple[str, bool, str]]:
    from django.db.models import Sum

    from benchmarks.shop import snapshot_stock
    from catalog.models import (
        Sku,  # noqa: F401 - keeps the app registry warm
        StockLedger,
        StockReason,
        StockRecord,
    )
    from catalog.selectors import stock_ledger_mismatches
    from orders.models import Order, OrderLine, OrderStatus

    checks = []
    after = snapshot_stock()
    changed = [pk for pk in before if after.get(pk) != before[pk]]
    checks.append(("stock quantity + sold unchanged", not changed, f"{len(changed)} rows changed"))
    negative = StockRecord.objects.filter(quantity__lt=0).count()
    checks.append(("no stock row below zero (no oversell)", negative == 0, f"{negative} rows"))
    mismatches = stock_ledger_mismatches()
    checks.append(("ledger sums equal stock", not mismatches, f"{len(mismatches)} mismatches"))
    lineless = Order.objects.filter(lines__isnull=True).count()
    checks.append(("every order has lines", lineless == 0, f"{lineless} without"))
    closed = [OrderStatus.CANCELLED, OrderStatus.REFUNDED]
    lines = {
        (r["order__number"], r["sku_id"]): r["q"]
        for r in OrderLine.objects.exclude(order__status__in=closed)
        .values("order__number", "sku_id")
        .annotate(q=Sum("quantity"))
    }
    ledger = {
        (r["reference"], r["sku_id"]): -r["d"]
        for r in StockLedger.objects.filter(reason__in=[StockReason.RESERVE, StockReason.RELEASE])
        .values("reference", "sku_id")
        .annotate(d=Sum("delta"))
    }
    unbacked = sum(1 for key, q in lines.items() if ledger.get(key) != q)
    checks.append(
        ("every order's lines reserved in the ledger", unbacked == 0, f"{unbacked} lines not")
    )
    sold = StockRecord.objects.aggregate(s=Sum("sold"))["s"] or 0
    ordered = sum(lines.values())
    checks.append(("stock sold = units in open orders", sold == ordered, f"{sold} vs {ordered}"))
    return checks


# --- the report --------------------------------------------------------------------


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.3f}"


def render(meta: dict, rows: list[Rate], ratios: list[tuple[str, str, str]], checks) -> str:
    out = [
        f"Run: {meta['date']} · {meta['mode']} · {meta['cpus']} CPUs · load average "
        f"{meta['load_before']} before, {meta['load_after']} after · PostgreSQL "
        f"{meta['pg']} · Python {meta['python']} · {meta['server']} · commit {meta['commit']}"
        f"{' · ' + meta['note'] if meta.get('note') else ''}",
        "",
        "| What | Clients | Rate /s | p50 ms | p99 ms | SQL per request | Errors |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        out.append(
            f"| {row.name} | {row.clients} | {fmt(row.rate, 1 if row.rate < 100 else 0)} | "
            f"{fmt(row.p50_ms, 1)} | {fmt(row.p99_ms, 1)} | {row.queries} | {row.errors}"
            f"{' · ' + row.note if row.note else ''} |"
        )
    out += ["", "| Ratio | Value | Target |", "|---|---:|---|"]
    out += [f"| {name} | {value} | {target} |" for name, value, target in ratios]
    out += ["", "| Invariant after the load | Result |", "|---|---|"]
    out += [f"| {name} | {'OK' if ok else 'FAIL'} ({detail}) |" for name, ok, detail in checks]
    return "\n".join(out) + "\n"


def write_doc(table: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    block = f"{START_MARK}\n{table}{END_MARK}"
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        tail = rest.split(END_MARK, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n## Latest run\n\n" + block + "\n"
    DOC.write_text(text)


# --- main --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 2 minutes, for development")
    parser.add_argument("--no-doc", action="store_true", help="print only, leave the doc alone")
    parser.add_argument("--note", default="", help="a remark for the doc (e.g. 'machine busy')")
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default="conf",
        help="worker class: the config file's (conf), sync, gthread or asgi (uvicorn workers)",
    )
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL

    def _terminated(signum, _frame):
        raise SystemExit(f"bench: stopped by signal {signum}")  # runs the finally: cleanup

    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    began = time.time()
    load_before = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    pgbench, wrk = ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="tuangou-bench-"))
    env = django_env(tmp)
    server = worker = None
    rows: list[Rate] = []
    try:
        flush_redis()
        log(f"pgbench anchors ({profile.pg_seconds} s each)")
        pg_rows = run_pgbench(pgbench, tmp, profile.pg_seconds)

        log(f"creating {APP_DB}: migrate, collectstatic")
        recreate_db(APP_DB)
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(
                [PYTHON, "manage.py", *command, "-v", "0"], cwd=ROOT, env=env, check=True
            )
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.conf import settings

        from benchmarks.shop import build_shop, snapshot_stock, write_sessions

        log(f"generating the shop ({profile.shoppers} shoppers with sessions)")
        shop = build_shop(shoppers=profile.shoppers + 1)
        measure_user, shoppers = shop.shoppers[-1], shop.shoppers[:-1]
        split = len(shoppers) * 3 // 4
        order_sessions, flow_sessions = tmp / "shoppers.txt", tmp / "flow.txt"
        write_sessions(order_sessions, shoppers[:split])
        write_sessions(flow_sessions, shoppers[split:])

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command, server_label = gunicorn_command(port, args.server)
        env.update(SERVER_ENV.get(args.server, {}))
        queues = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
        for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
            if isinstance(route, dict) and route.get("queue"):
                queues.add(route["queue"])
        for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or ():
            queues.add(getattr(queue, "name", queue))
        log(f"starting {server_label} on {base}; celery worker on {','.join(sorted(queues))}")
        server = start(command, env, tmp / "gunicorn.log")
        worker = start(
            [str(BIN / "celery"), "-A", "tuangou", "worker", "--pool", "solo", "-l", "warning",
             "-Q", ",".join(sorted(queues))],
            env,
            tmp / "celery.log",
        )  # fmt: skip
        wait_http(f"{base}/bench/bare/", proc=server)

        log("SQL statements per request (test client, in-process)")
        from tuangou.accounts.models import User

        counts = count_queries(shop, User.objects.get(pk=measure_user.user_id))
        health = " (+1 health check)" if settings.DATABASES["default"].get(
            "CONN_HEALTH_CHECKS"
        ) else ""  # fmt: skip

        before_stock = snapshot_stock()
        signed = str(order_sessions)
        # Warm every worker (connections, templates) before measuring.
        for path in ("/bench/bare/", "/"):
            run_wrk(wrk, base, clients=16, seconds=2, method="GET", path=path, sessions=signed)
        drain = lambda: wait_http(f"{base}/bench/bare/")  # noqa: E731
        drain()

        http_rows = [
            ("bare Django view, one SELECT", "/bench/bare/", "-", "bare"),
            ("home page, anonymous", "/", "-", "home_anon"),
            ("home page, signed in", "/", signed, "home_signed"),
            ("product page, signed in", f"/p/{shop.product_code}/", signed, "product"),
        ]
        results: dict[str, Rate] = {}
        for label, path, sessions, key in http_rows:
            result = run_wrk(
                wrk, base, clients=16, seconds=profile.http_seconds, method="GET", path=path,
                sessions=sessions,
            )  # fmt: skip
            drain()
            results[key] = Rate(
                label, 16, result["rps"], result["p50_us"] / 1000, result["p99_us"] / 1000,
                queries=f"{counts[key]}{health}", errors=wrk_errors(result),
            )  # fmt: skip
            log(f"{label}: {result['rps']:.0f}/s, p99 {result['p99_us'] / 1000:.1f} ms")

        body = f"sku={shop.hot_sku_code}&quantity=1&note=&csrfmiddlewaretoken=CSRF"
        for clients in (16, 64):
            placed_before = orders_count()
            result = run_wrk(
                wrk, base, clients=clients, seconds=profile.order_seconds, method="POST",
                path="/orders/checkout/", sessions=signed, body=body,
            )  # fmt: skip
            placed = orders_count() - placed_before  # committed while wrk ran
            drain()
            rate = placed / result["seconds"]
            results[f"order{clients}"] = Rate(
                "order on the hot SKU (HTTP, counted in PostgreSQL)", clients, rate,
                result["p50_us"] / 1000, result["p99_us"] / 1000,
                queries=f"{counts['place_order']}{health}", errors=wrk_errors(result),
                note=f"{placed} orders, {result['s3']} redirects",
            )  # fmt: skip
            log(f"orders c{clients}: {rate:.0f}/s ({placed} in PostgreSQL, {wrk_errors(result)})")

        log(f"the whole flow: {profile.flow_procs} client processes, {profile.flow_seconds} s")
        paid_before = orders_count(paid_at__isnull=False)
        out = subprocess.run(
            [PYTHON, str(ROOT / "benchmarks" / "flow_client.py"), base, str(flow_sessions),
             "--sku", shop.hot_sku_code, "--procs", str(profile.flow_procs),
             "--seconds", str(profile.flow_seconds)],
            capture_output=True, text=True, check=False, cwd=ROOT,
            timeout=profile.flow_seconds + 300,
        )  # fmt: skip
        try:
            flow = json.loads(out.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError) as exc:
            reason = f"flow client failed: {out.stdout[-800:]} {out.stderr[-800:]}"
            raise RuntimeError(reason) from exc
        paid = orders_count(paid_at__isnull=False) - paid_before
        drain()
        flat = [x * 1e6 for x in flow["latencies"]]
        p50, p99 = _percentiles_us(flat)
        flow_errors = ", ".join(f"{v} {k}" for k, v in sorted(flow["errors"].items())) or "0"
        results["flow"] = Rate(
            "whole flow: cart → checkout → pay → 模拟支付 → notify",
            profile.flow_procs, paid / flow["seconds"], p50, p99,
            queries=f"{counts['flow']} ({' + '.join(str(counts['flow_' + s]) for s in FLOW)})",
            errors=flow_errors, note=f"{flow['flows']} flows, {paid} orders paid in PostgreSQL",
        )  # fmt: skip
        log(f"flows: {paid / flow['seconds']:.1f}/s ({flow_errors})")

        gunicorn_log = (tmp / "gunicorn.log").read_text(errors="replace")
        worker_class = re.search(r"Using worker: (\S+)", gunicorn_log)
        booted = len(set(re.findall(r"Booting worker with pid: (\d+)", gunicorn_log)))
        server_label += (
            f" ({worker_class.group(1) if worker_class else '?'}, {booted} workers booted)"
        )
        log("invariants")
        checks = check_invariants(before_stock)
        for name, path in (("gunicorn", "gunicorn.log"), ("celery", "celery.log")):
            text = (tmp / path).read_text(errors="replace") if (tmp / path).exists() else ""
            bad = len(re.findall(r"Traceback|\bERROR\b|CRITICAL", text))
            checks.append((f"no errors in the {name} log", bad == 0, f"{bad} error lines"))
            if bad:
                shutil.copy(tmp / path, ROOT / "var" / f"bench-{path}")
        server_errors = sum(r.errors.count("5xx") for r in results.values())
        checks.append(("no 5xx answers", server_errors == 0, f"{server_errors} rows with 5xx"))
    except BaseException:
        # Keep the servers' logs for the post-mortem: tmp is removed below.
        for path in ("gunicorn.log", "celery.log"):
            if (tmp / path).exists():
                (ROOT / "var").mkdir(exist_ok=True)
                shutil.copy(tmp / path, ROOT / "var" / f"bench-{path}")
                log(f"kept var/bench-{path}")
        raise
    finally:
        stop(server)
        stop(worker)
        drop_db(PG_DB)
        drop_db(APP_DB)
        try:
            flush_redis()
        except Exception as exc:
            log(f"could not flush {REDIS_URL}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)

    pg = {(r.name.split()[1], r.clients): r for r in pg_rows}  # ("one"|"1,000", clients)
    hot = {c: pg[("one", c)] for c in (8, 16, 64)}
    rows = [
        *pg_rows,
        results["bare"],
        results["home_anon"],
        results["home_signed"],
        results["product"],
        results["order16"],
        results["order64"],
        results["flow"],
    ]
    o16, o64, bare = results["order16"], results["order64"], results["bare"]
    p99_16 = ratio(o16.p99_ms, hot[16].p99_ms)
    ratios = [
        ("orders/s c16 ÷ pgbench hot row c16", ratio(o16.rate, hot[16].rate), "≥ 0.6"),
        ("orders/s c64 ÷ pgbench hot row c64", ratio(o64.rate, hot[64].rate), "≥ 0.6"),
        ("orders p99 c16 ÷ pgbench hot row p99 c16", p99_16, "≤ 2"),
        ("orders p99 c64 ÷ pgbench hot row p99 c64", ratio(o64.p99_ms, hot[64].p99_ms), "≤ 2"),
        ("orders/s c64 ÷ c16 (app)", ratio(o64.rate, o16.rate), "≥ 0.9"),
        ("pgbench hot row c64 ÷ c16 (reference)", ratio(hot[64].rate, hot[16].rate), ""),
        ("home anonymous ÷ bare view", ratio(results["home_anon"].rate, bare.rate), "≥ 0.5"),
        ("home signed in ÷ bare view", ratio(results["home_signed"].rate, bare.rate), "≥ 0.5"),
        ("flows/s", fmt(results["flow"].rate, 1), "≈ 100 here"),
        ("flows/s ÷ bare view", ratio(results["flow"].rate, bare.rate), "≥ 0.05"),
        ("SQL statements, whole flow", str(counts["flow"]), "≤ 25"),
    ]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "."], cwd=ROOT).returncode
    if commit and dirty:
        commit += " + uncommitted changes"
    meta = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "mode": "make bench-quick" if args.quick else "make bench",
        "cpus": CORES,
        "load_before": load_before,
        "load_after": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "pg": pg_version(),
        "python": platform.python_version(),
        "server": server_label,
        "commit": commit or "?",
        "note": args.note,
    }
    table = render(meta, rows, ratios, checks)
    print("\n" + table)
    if not args.no_doc:
        write_doc(table)
        log(f"written to {DOC.relative_to(ROOT)}")
    log(f"done in {time.time() - began:.0f} s")
    return 0 if all(ok for _name, ok, _detail in checks) else 1


FLOW = ["cart_add", "checkout", "pay_page", "start_payment", "sandbox_pay", "notify"]

if __name__ == "__main__":
    sys.exit(main())
