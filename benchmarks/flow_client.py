"""The whole shopper flow as a load client in its own processes (no Django).

    python benchmarks/flow_client.py URL SESSIONS --procs 8 --seconds 20

Each process takes its share of the shoppers (a "sessionid csrftoken" file)
and, until the time is up, runs the flow as a browser would, one shopper
after the other: 加入购物车 → 去结算 (checkout POST) → the pay page →
确认支付 (start payment) → 模拟支付 (the sandbox signs the notification) → the
notification POSTed to the real notify endpoint. It prints one JSON line:
flows completed, their latencies, and every unexpected answer by step.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import re
import time
from urllib.parse import urljoin

FLOW_STEPS = ["cart_add", "checkout", "pay_page", "start_payment", "sandbox_pay", "notify"]
NOTIFICATION = re.compile(
    r'<script id="sandbox-notification" type="application/json">(.*?)</script>', re.S
)


def browser_headers(base: str, sid: str, csrf: str) -> dict:
    """What a signed-in phone browser sends over HTTPS (behind the proxy)."""
    host = base.split("://", 1)[1].rstrip("/")
    return {
        "X-Forwarded-Proto": "https",
        "Origin": f"https://{host}",
        "Referer": f"https://{host}/",
        "Cookie": f"sessionid={sid}; csrftoken={csrf}",
    }


def failure(errors: dict, step: str, status) -> bool:
    key = f"{step}:{status}"
    errors[key] = errors.get(key, 0) + 1
    return False


def pay(http, base: str, pay_url: str, headers: dict, csrf: str, errors: dict) -> bool:
    """The pay page → 确认支付 → 模拟支付 → the signed notification, as a browser and
    WeChat would; False (with the failing step counted) when a step answers wrongly."""
    r = http.get(pay_url, headers=headers, allow_redirects=False)
    if r.status_code != 200:
        return failure(errors, "pay_page", r.status_code)
    r = http.post(
        pay_url, data={"csrfmiddlewaretoken": csrf}, headers=headers, allow_redirects=False
    )
    if r.status_code != 302:
        return failure(errors, "start_payment", r.status_code)
    sandbox_url = urljoin(base + "/", r.headers["Location"])
    r = http.post(
        sandbox_url, data={"csrfmiddlewaretoken": csrf}, headers=headers, allow_redirects=False
    )
    found = NOTIFICATION.search(r.text) if r.status_code == 200 else None
    if not found:
        return failure(errors, "sandbox_pay", r.status_code)
    note = json.loads(found.group(1))
    r = http.post(
        urljoin(base + "/", note["url"]),
        data=note["body"].encode("utf-8"),
        headers={**note["headers"], "X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    if r.status_code != 200:
        return failure(errors, "notify", r.status_code)
    return True


def _flow(http, base: str, sku: str, sid: str, csrf: str, errors: dict) -> bool:
    headers = browser_headers(base, sid, csrf)
    r = http.post(
        f"{base}/orders/cart/add/",
        data={"sku": sku, "quantity": 1, "action": "cart", "csrfmiddlewaretoken": csrf},
        headers=headers,
        allow_redirects=False,
    )
    if r.status_code != 302:
        return failure(errors, "cart_add", r.status_code)
    r = http.post(
        f"{base}/orders/checkout/",
        data={"note": "", "csrfmiddlewaretoken": csrf},
        headers=headers,
        allow_redirects=False,
    )
    if r.status_code != 302 or "/pay/" not in r.headers.get("Location", ""):
        return failure(errors, "checkout", r.status_code)
    return pay(http, base, urljoin(base + "/", r.headers["Location"]), headers, csrf, errors)


def _worker(work, items, deadline, start_at, out) -> None:
    import requests

    http = requests.Session()
    errors: dict[str, int] = {}
    latencies: list[float] = []
    while time.time() < start_at:
        time.sleep(0.01)
    n = 0
    while time.time() < deadline and items:
        item = items[n % len(items)]
        n += 1
        started = time.perf_counter()
        try:
            ok = work(http, item, errors)
        except Exception as exc:  # a connection error counts, never stops the run
            key = f"exception:{type(exc).__name__}"
            errors[key] = errors.get(key, 0) + 1
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)
    out.put({"latencies": latencies, "errors": errors})


def drive(work, items: list, *, procs: int, seconds: float, label: str) -> dict:
    """Run `work(http, item, errors) -> bool` in `procs` processes, each over its
    share of `items` round and round, for `seconds`; print and return one JSON
    line: how many succeeded (under `label`), their latencies, errors by step."""
    out = multiprocessing.Queue()
    start_at = time.time() + 1.0
    deadline = start_at + seconds
    workers = [
        multiprocessing.Process(
            target=_worker, args=(work, items[i::procs], deadline, start_at, out)
        )
        for i in range(procs)
    ]
    for proc in workers:
        proc.start()
    results = [out.get() for _ in workers]
    for proc in workers:
        proc.join()
    # Until the last one ended: work begun before the deadline all counts.
    elapsed = time.time() - start_at
    latencies = sorted(x for r in results for x in r["latencies"])
    errors: dict[str, int] = {}
    for r in results:
        for key, count in r["errors"].items():
            errors[key] = errors.get(key, 0) + count
    summary = {label: len(latencies), "seconds": elapsed, "latencies": latencies, "errors": errors}
    print(json.dumps(summary))
    return summary


def read_sessions(path: str) -> list[tuple[str, str]]:
    with open(path) as handle:
        return [tuple(line.split()) for line in handle if line.strip()]


def _shopper_flow(base, sku, http, shopper, errors) -> bool:
    sid, csrf = shopper
    return _flow(http, base, sku, sid, csrf, errors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("sessions")
    parser.add_argument("--sku", required=True)
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    work = functools.partial(_shopper_flow, args.url.rstrip("/"), args.sku)
    drive(work, read_sessions(args.sessions), procs=args.procs, seconds=args.seconds, label="flows")


if __name__ == "__main__":
    main()
