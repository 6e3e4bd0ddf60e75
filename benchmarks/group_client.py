"""拼团 as a load client in its own processes (no Django): two-person groups.

    python benchmarks/group_client.py URL SESSIONS --campaign CODE --procs 2 --seconds 20

Each process takes its share of the shoppers (a "sessionid csrftoken" file)
in pairs and, until the time is up, runs what two neighbours do: the first
开团 (opens a group) and pays, reads the group's code off the order page,
the second 参团 (joins it) and pays, which fills the group. Paying is the
same browser-and-WeChat sequence as the whole flow's (flow_client.pay). It
prints one JSON line: groups filled, their latencies, and every unexpected
answer by step.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import time
from urllib.parse import urljoin

from flow_client import browser_headers, failure, pay

GROUP_LINK = re.compile(r'class="card gb-order-group" data-group="([^"]+)"')


def _group(http, base: str, campaign: str, opener, joiner, errors: dict) -> bool:
    sid, csrf = opener
    headers = browser_headers(base, sid, csrf)
    r = http.post(
        f"{base}/groups/c/{campaign}/open/",
        data={"quantity": 1, "csrfmiddlewaretoken": csrf},
        headers=headers,
        allow_redirects=False,
    )
    if r.status_code != 302 or "/pay/" not in r.headers.get("Location", ""):
        return failure(errors, "open_group", r.status_code)
    pay_url = urljoin(base + "/", r.headers["Location"])
    if not pay(http, base, pay_url, headers, csrf, errors):
        return False
    r = http.get(pay_url.removesuffix("pay/"), headers=headers, allow_redirects=False)
    found = GROUP_LINK.search(r.text) if r.status_code == 200 else None
    if not found:
        return failure(errors, "order_page_group", r.status_code)
    sid, csrf = joiner
    headers = browser_headers(base, sid, csrf)
    r = http.post(
        f"{base}/groups/g/{found.group(1)}/join/",
        data={"quantity": 1, "csrfmiddlewaretoken": csrf},
        headers=headers,
        allow_redirects=False,
    )
    if r.status_code != 302 or "/pay/" not in r.headers.get("Location", ""):
        return failure(errors, "join_group", r.status_code)
    return pay(http, base, urljoin(base + "/", r.headers["Location"]), headers, csrf, errors)


def _worker(base, campaign, pairs, deadline, start_at, out) -> None:
    import requests

    http = requests.Session()
    errors: dict[str, int] = {}
    latencies: list[float] = []
    while time.time() < start_at:
        time.sleep(0.01)
    n = 0
    while time.time() < deadline and pairs:
        opener, joiner = pairs[n % len(pairs)]
        n += 1
        started = time.perf_counter()
        try:
            ok = _group(http, base, campaign, opener, joiner, errors)
        except Exception as exc:  # a connection error counts, never stops the run
            key = f"exception:{type(exc).__name__}"
            errors[key] = errors.get(key, 0) + 1
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)
    out.put({"latencies": latencies, "errors": errors})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("sessions")
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with open(args.sessions) as handle:
        shoppers = [tuple(line.split()) for line in handle if line.strip()]
    pairs = list(zip(shoppers[0::2], shoppers[1::2], strict=False))
    base = args.url.rstrip("/")
    out = multiprocessing.Queue()
    start_at = time.time() + 1.0
    deadline = start_at + args.seconds
    procs = [
        multiprocessing.Process(
            target=_worker,
            args=(base, args.campaign, pairs[i :: args.procs], deadline, start_at, out),
        )
        for i in range(args.procs)
    ]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.time() - start_at
    latencies = sorted(x for r in results for x in r["latencies"])
    errors: dict[str, int] = {}
    for r in results:
        for key, count in r["errors"].items():
            errors[key] = errors.get(key, 0) + count
    print(
        json.dumps(
            {"groups": len(latencies), "seconds": elapsed, "latencies": latencies, "errors": errors}
        )
    )


if __name__ == "__main__":
    main()
