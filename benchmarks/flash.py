"""The 秒杀 gate under HTTP load: purchase attempts per second, beside a bare view.

    .venv/bin/python benchmarks/flash.py [--seconds 10] [--rounds 5] [--clients 16,64]

One run, one gunicorn (production settings, benchmarks.settings), its own
database (tuangou_bench_flash) and Redis DB (BENCH_FLASH_REDIS_URL, default 9):

1. a generated shop (benchmarks/shop.py: signed-in shoppers with sessions and
   CSRF secrets) and three 秒杀 items: a Redis-gated one (quota 100) on the
   hot SKU, a database-mode one that is sold out, and an ended Redis-gated one
   used to warm every shopper's session into the cache;
2. SQL statements per attempt, counted in-process (test client);
3. wrk (benchmarks/wrk/bench.lua, shared with run.py) POSTing 抢购 for the
   rotating shoppers: the bare view (GET /bench/bare/, one SELECT), the Redis
   gate (the first 100 attempts are admitted, every later one is refused from
   Redis), and the database-mode item (refused after reading PostgreSQL), at
   each client count, taking turns in short rounds so that the machine's
   other load falls on each part alike;
4. invariants: the gate admitted exactly the quota, to distinct shoppers; no
   5xx; nothing written to the database by the attempts.

Helpers (databases, processes, wrk, reporting) are imported from
benchmarks/run.py. Everything started is stopped in a finally block; the
database is dropped and the Redis DB flushed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# run.py reads its Redis URL when imported: point it at the flash bench's DB.
os.environ.setdefault(
    "BENCH_REDIS_URL", os.environ.get("BENCH_FLASH_REDIS_URL", "redis://127.0.0.1:6379/9")
)
sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402 - after the environment above

FLASH_DB = "tuangou_bench_flash"
QUOTA = 100


def log(message: str) -> None:
    print(f"[flash {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def make_items(shop) -> dict[str, int]:
    """The three 秒杀 items (see the module docstring); returns their ids."""
    from django.utils import timezone

    from catalog.models import Sku
    from marketing.models import FlashSale, FlashSaleItem, GateMode
    from marketing.services.flash import save_flash_sale

    now = timezone.now()
    others = list(Sku.objects.exclude(pk=shop.hot_sku_id).order_by("pk")[:2])

    def item(name, mode, sku, *, start, end, sold=0):
        sale = FlashSale.objects.create(name=name, starts_at=start, ends_at=end, gate_mode=mode)
        made = FlashSaleItem.objects.create(
            sale=sale, sku=sku, price="0.99", quota=QUOTA, sold=sold, per_user_limit=1
        )
        save_flash_sale(sale=sale)
        return made.pk

    hour = timedelta(hours=1)
    return {
        "redis": item("压测秒杀", GateMode.REDIS, Sku.objects.get(pk=shop.hot_sku_id),
                      start=now - hour, end=now + 4 * hour),
        "database": item("压测秒杀·数据库", GateMode.DATABASE, others[0],
                         start=now - hour, end=now + 4 * hour, sold=QUOTA),
        "warm": item("压测秒杀·已结束", GateMode.REDIS, others[1],
                     start=now - 3 * hour, end=now - 2 * hour),
    }  # fmt: skip


def count_queries(items: dict[str, int], shopper) -> dict[str, int]:
    """SQL statements of one attempt (the second of two: session cached)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_X_FORWARDED_PROTO="https")
    client.cookies["sessionid"] = shopper.session_key

    def measure(make):
        make()
        with CaptureQueriesContext(connection) as ctx:
            make()
        return len(ctx.captured_queries)

    counts = {"bare": measure(lambda: client.get("/bench/bare/"))}
    # A refusal by the gate (the ended item: the hot one's quota is for the load).
    for key, item_key in (("redis", "warm"), ("database", "database")):
        path = f"/promo/flash/{items[item_key]}/grab/"
        counts[key] = measure(lambda path=path: client.post(path, {"quantity": 1}))
    return counts


def gate_state(item_id: int) -> tuple[int | None, int]:
    from marketing import gate

    snap = gate.snapshot(item_id=item_id)
    return snap.left, len(snap.buyers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measured part")
    parser.add_argument("--clients", default="16,64", help="comma-separated wrk connections")
    parser.add_argument("--shoppers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="turns each part's time is cut in")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",") if c.strip()]

    def _terminated(signum, _frame):
        raise SystemExit(f"flash bench: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    load_before = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    _pgbench, wrk = run.ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="tuangou-flash-"))
    env = run.django_env(tmp)
    env["DATABASE_URL"] = f"{run.PG_ADMIN}/{FLASH_DB}"
    server = None
    rows: list[run.Rate] = []
    checks: list[tuple[str, bool, str]] = []
    try:
        run.flush_redis()
        log(f"creating {FLASH_DB} (migrate)")
        run.recreate_db(FLASH_DB)
        subprocess.run(
            [run.PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        os.environ.update(env)
        import django

        django.setup()
        from benchmarks.shop import build_shop, write_sessions

        log(f"generating the shop ({args.shoppers} shoppers with sessions) and the 秒杀 items")
        shop = build_shop(shoppers=args.shoppers + 1)
        measure_user, shoppers = shop.shoppers[-1], shop.shoppers[:-1]
        sessions = tmp / "shoppers.txt"
        write_sessions(sessions, shoppers)
        items = make_items(shop)
        counts = count_queries(items, measure_user)
        log(f"SQL per request: {counts}")

        port = run.free_port()
        base = f"http://127.0.0.1:{port}"
        command, server_label = run.gunicorn_command(port)
        log(f"starting {server_label} on {base}")
        server = run.start(command, env, tmp / "gunicorn.log")
        run.wait_http(f"{base}/bench/bare/", proc=server)
        body = "quantity=1&csrfmiddlewaretoken=CSRF"
        # Warm every worker and every shopper's session into the cache (the
        # ended item is refused by Redis: nothing else is touched).
        run.run_wrk(wrk, base, clients=16, seconds=3, method="GET", path="/bench/bare/")
        run.run_wrk(wrk, base, clients=16, seconds=4, method="POST", sessions=str(sessions),
                    path=f"/promo/flash/{items['warm']}/grab/", body=body)  # fmt: skip
        run.wait_http(f"{base}/bench/bare/")

        parts = [
            ("bare Django view, one SELECT", "GET", "/bench/bare/", "-", "bare"),
            ("秒杀 attempt, Redis gate (quota 100, then refusals)", "POST",
             f"/promo/flash/{items['redis']}/grab/", str(sessions), "redis"),
            ("秒杀 attempt, database mode (sold out)", "POST",
             f"/promo/flash/{items['database']}/grab/", str(sessions), "database"),
        ]  # fmt: skip
        results: dict[tuple[str, int], run.Rate] = {}
        # The parts take turns in short rounds (bare, gate, database, bare, …):
        # the load of whatever else runs on the machine drifts, and this way
        # each part sees the same share of it, so their ratios hold.
        rounds = max(1, args.rounds)
        slice_seconds = max(1, round(args.seconds / rounds))
        for clients in client_counts:
            totals = {key: [] for *_rest, key in parts}
            for _round in range(rounds):
                for _label, method, path, session_file, key in parts:
                    totals[key].append(run.run_wrk(
                        wrk, base, clients=clients, seconds=slice_seconds, method=method,
                        path=path, sessions=session_file, body=body if method == "POST" else "",
                    ))  # fmt: skip
                    run.wait_http(f"{base}/bench/bare/")
            for label, _method, _path, _sessions, key in parts:
                got = totals[key]
                requests = sum(r["requests"] for r in got)
                seconds = sum(r["seconds"] for r in got)
                merged = {k: sum(r.get(k, 0) for r in got) for k in
                          ("s2", "s3", "s4", "s5", "s429", "sockerr", "timeout")}  # fmt: skip
                p50 = sorted(r["p50_us"] for r in got)[len(got) // 2] / 1000
                p99 = max(r["p99_us"] for r in got) / 1000
                rate = run.Rate(
                    label, clients, requests / seconds, p50, p99, queries=str(counts[key]),
                    errors=run.wrk_errors(merged),
                    note=f"{requests} answers, {merged['s3']} redirects",
                )  # fmt: skip
                results[(key, clients)] = rate
                rows.append(rate)
                log(f"{label} c{clients}: {rate.rate:.0f}/s, p99 {p99:.1f} ms ({rate.errors})")

        from django.db.models import Sum

        from marketing.models import FlashPurchase, FlashSaleItem

        left, buyers = gate_state(items["redis"])
        checks.append(("the gate admitted exactly the quota", (left, buyers) == (0, QUOTA),
                       f"{buyers} shoppers admitted, {left} left"))  # fmt: skip
        written = FlashPurchase.objects.count()
        checks.append(("attempts wrote nothing to PostgreSQL", written == 0, f"{written} rows"))
        sold = FlashSaleItem.objects.aggregate(s=Sum("sold"))["s"]
        checks.append(("database counters unchanged", sold == QUOTA, f"sold {sold}"))
        fives = sum(r.errors.count("5xx") for r in rows)
        checks.append(("no 5xx answers", fives == 0, f"{fives} rows with 5xx"))
        text = (tmp / "gunicorn.log").read_text(errors="replace")
        bad = text.count("Traceback")
        checks.append(("no errors in the gunicorn log", bad == 0, f"{bad} tracebacks"))
        if bad:
            shutil.copy(tmp / "gunicorn.log", ROOT / "var" / "bench-flash-gunicorn.log")
    finally:
        run.stop(server)
        run.drop_db(FLASH_DB)
        try:
            run.flush_redis()
        except Exception as exc:
            log(f"could not flush {run.REDIS_URL}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)

    ratios = []
    for clients in client_counts:
        bare = results[("bare", clients)]
        ratios += [
            (f"Redis-gate attempts ÷ bare view, c{clients}",
             run.ratio(results[("redis", clients)].rate, bare.rate), "≥ 0.5"),
            (f"database-mode attempts ÷ bare view, c{clients}",
             run.ratio(results[("database", clients)].rate, bare.rate), ""),
            (f"Redis gate ÷ database mode, c{clients}",
             run.ratio(results[("redis", clients)].rate, results[("database", clients)].rate), ""),
        ]  # fmt: skip
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    meta = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "mode": f"benchmarks/flash.py --seconds {args.seconds} --rounds {args.rounds}",
        "cpus": run.CORES,
        "load_before": load_before,
        "load_after": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "pg": run.pg_version(),
        "python": sys.version.split()[0],
        "server": server_label,
        "commit": commit or "?",
        "note": "SQL per request counted in-process; the session is read from Redis",
    }
    print("\n" + run.render(meta, rows, ratios, checks))
    return 0 if all(ok for _name, ok, _detail in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
