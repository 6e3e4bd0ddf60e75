"""A mixed load held for minutes, then every invariant checked (issue #15, faults 5).

    .venv/bin/python benchmarks/mixed_load.py --smoke          # 30 s
    .venv/bin/python benchmarks/mixed_load.py --minutes 10     # the full run

Built on the harness of benchmarks/run.py (imported, not copied): its own
database (tuangou_mixed) and its own redis-server on a spare port, the
generated shop, gunicorn with production settings and one Celery worker.
While the time runs, at once:

- browsing: wrk on the home page (anonymous and signed in) and a product page;
- buying: benchmarks/flow_client.py, the whole shopper flow (加入购物车 →
  checkout → pay page → start payment → 模拟支付 → the signed notification);
- hot checkouts: wrk placing 立即购买 orders on the hot SKU (left unpaid);
- 拼团: benchmarks/group_client.py, pairs of neighbours in a two-person group
  (开团 and pay, read the group off the order page, 参团 and pay: the group fills
  and its orders are confirmed).

The rates are set below the capacity measured by `make bench`
(docs/benchmarks.md): wrk's clients are few and each flow process runs one
shopper after another, so the box stays at about its measured throughput,
not beyond it. Afterwards run.py's invariants (stock quantity + sold
unchanged, no row below zero, ledger sums equal stock, every open order's
lines reserved, sold = units in open orders), plus: no order paid twice, no
5xx from any client, no error line in the gunicorn or Celery log, and for
the groups: none over its size, every filled group's members paid and orders
confirmed, the campaign's units taken equal to its live orders. Exit 0 when
all hold.

Do not run the long version while others use the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import run as harness

ROOT = harness.ROOT


def _wrk_in_thread(results: dict, key: str, **kwargs) -> threading.Thread:
    def go():
        try:
            results[key] = harness.run_wrk(**kwargs)
        except Exception as exc:  # reported as a failed check
            results[key] = {"error": str(exc)}

    thread = threading.Thread(target=go, name=key)
    thread.start()
    return thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help="30 seconds, 200 shoppers")
    parser.add_argument("--shoppers", type=int, default=1000)
    parser.add_argument("--flow-procs", type=int, default=4)
    parser.add_argument("--group-procs", type=int, default=2)
    args = parser.parse_args()
    seconds = 30 if args.smoke else int(args.minutes * 60)
    shoppers = 200 if args.smoke else args.shoppers

    def _terminated(signum, _frame):
        raise SystemExit(f"mixed load: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _terminated)
    _pgbench, wrk = harness.ensure_tools()
    # Its own database and its own redis-server on a spare port: never the
    # databases of `make bench` or the Redis DBs of running test suites.
    harness.APP_DB = "tuangou_mixed"
    redis_port = harness.free_port()
    redis_server = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    harness.REDIS_URL = f"redis://127.0.0.1:{redis_port}/0"
    tmp = Path(tempfile.mkdtemp(prefix="tuangou-mixed-"))
    env = harness.django_env(tmp)
    server = worker = None
    checks: list[tuple[str, bool, str]] = []
    figures: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                harness.flush_redis()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        harness.log(f"creating {harness.APP_DB}")
        harness.recreate_db(harness.APP_DB)
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(
                [harness.PYTHON, "manage.py", *command, "-v", "0"], cwd=ROOT, env=env, check=True
            )
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings

        from benchmarks.shop import (
            build_group_campaign,
            build_shop,
            group_checks,
            snapshot_stock,
            write_sessions,
        )

        harness.log(f"generating the shop ({shoppers} shoppers)")
        shop = build_shop(shoppers=shoppers)
        campaign = build_group_campaign()
        quarter = len(shop.shoppers) // 4
        browse, buy = tmp / "browse.txt", tmp / "buy.txt"
        flow, group = tmp / "flow.txt", tmp / "group.txt"
        write_sessions(browse, shop.shoppers[:quarter])
        write_sessions(buy, shop.shoppers[quarter : 2 * quarter])
        write_sessions(flow, shop.shoppers[2 * quarter : 3 * quarter])
        write_sessions(group, shop.shoppers[3 * quarter :])

        port = harness.free_port()
        base = f"http://127.0.0.1:{port}"
        command, _label = harness.gunicorn_command(port)
        queues = {settings.CELERY_TASK_DEFAULT_QUEUE}
        queues.update(q.name for q in settings.CELERY_TASK_QUEUES)
        server = harness.start(command, env, tmp / "gunicorn.log")
        worker = harness.start(
            [str(harness.BIN / "celery"), "-A", "tuangou", "worker", "--pool", "solo",
             "-l", "warning", "-Q", ",".join(sorted(queues))],
            env,
            tmp / "celery.log",
        )  # fmt: skip
        harness.wait_http(f"{base}/bench/bare/", proc=server)
        before = snapshot_stock()
        placed_before = harness.orders_count()

        harness.log(f"mixed load for {seconds} s")
        results: dict[str, dict] = {}
        body = f"sku={shop.hot_sku_code}&quantity=1&note=&csrfmiddlewaretoken=CSRF"
        threads = [
            _wrk_in_thread(
                results, "home anonymous", wrk=wrk, base=base, clients=2, seconds=seconds,
                method="GET", path="/",
            ),
            _wrk_in_thread(
                results, "home signed in", wrk=wrk, base=base, clients=2, seconds=seconds,
                method="GET", path="/", sessions=str(browse),
            ),
            _wrk_in_thread(
                results, "product page", wrk=wrk, base=base, clients=2, seconds=seconds,
                method="GET", path=f"/p/{shop.product_code}/", sessions=str(browse),
            ),
            _wrk_in_thread(
                results, "hot checkout", wrk=wrk, base=base, clients=2, seconds=seconds,
                method="POST", path="/orders/checkout/", sessions=str(buy), body=body,
            ),
        ]  # fmt: skip
        groups = subprocess.Popen(
            [harness.PYTHON, str(ROOT / "benchmarks" / "group_client.py"), base, str(group),
             "--campaign", campaign, "--procs", str(args.group_procs),
             "--seconds", str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        out = subprocess.run(
            [harness.PYTHON, str(ROOT / "benchmarks" / "flow_client.py"), base, str(flow),
             "--sku", shop.hot_sku_code, "--procs", str(args.flow_procs),
             "--seconds", str(seconds)],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=seconds + 300,
        )  # fmt: skip
        group_out, group_err = groups.communicate(timeout=seconds + 300)
        for thread in threads:
            thread.join()
        harness.wait_http(f"{base}/bench/bare/")
        # Let the worker finish what the load queued (notices) before checking.
        time.sleep(2)

        for name, result in results.items():
            if "error" in result:
                checks.append((f"{name}: wrk ran", False, result["error"][:200]))
                continue
            figures[name] = (
                f"{result['rps']:.0f}/s, p99 {result['p99_us'] / 1000:.0f} ms, "
                f"errors {harness.wrk_errors(result)}"
            )
            checks.append((f"{name}: no 5xx", not result.get("s5"), harness.wrk_errors(result)))
        try:
            flow_result = json.loads(out.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            checks.append(("flow client ran", False, (out.stdout + out.stderr)[-300:]))
        else:
            fives = {k: v for k, v in flow_result["errors"].items() if re.search(r":5\d\d$", k)}
            figures["whole flow"] = (
                f"{flow_result['flows']} flows in {flow_result['seconds']:.0f} s, "
                f"errors {flow_result['errors'] or 0}"
            )
            checks.append(("whole flow: no 5xx", not fives, str(fives or 0)))
        try:
            group_result = json.loads(group_out.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            checks.append(("拼团 client ran", False, (group_out + group_err)[-300:]))
        else:
            fives = {k: v for k, v in group_result["errors"].items() if re.search(r":5\d\d$", k)}
            figures["拼团 (open + join, both paid)"] = (
                f"{group_result['groups']} groups filled in {group_result['seconds']:.0f} s, "
                f"errors {group_result['errors'] or 0}"
            )
            checks.append(("拼团: no 5xx", not fives, str(fives or 0)))
        figures["orders placed"] = str(harness.orders_count() - placed_before)

        checks.extend(harness.check_invariants(before))
        checks.extend(group_checks(campaign))
        from django.db.models import Count

        from orders.models import Payment, PaymentStatus

        twice = (
            Payment.objects.filter(status=PaymentStatus.PAID)
            .values("order_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .count()
        )
        checks.append(("no order paid twice", twice == 0, f"{twice} orders"))
        for name in ("gunicorn", "celery"):
            text = (tmp / f"{name}.log").read_text(errors="replace")
            bad = len(re.findall(r"Traceback|\bERROR\b|CRITICAL", text))
            checks.append((f"no errors in the {name} log", bad == 0, f"{bad} error lines"))
            if bad:
                (ROOT / "var").mkdir(exist_ok=True)
                shutil.copy(tmp / f"{name}.log", ROOT / "var" / f"mixed-{name}.log")
    finally:
        harness.stop(server)
        harness.stop(worker)
        harness.drop_db(harness.APP_DB)
        redis_server.kill()
        redis_server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nmixed load, {seconds} s, {shoppers} shoppers, {os.cpu_count()} CPUs")
    for name, figure in figures.items():
        print(f"  {name}: {figure}")
    for name, ok, detail in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {name} ({detail})")
    return 0 if checks and all(ok for _n, ok, _d in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
