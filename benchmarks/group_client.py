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
import functools
import re
from urllib.parse import urljoin

from flow_client import browser_headers, drive, failure, pay, read_sessions

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


def _pair(base, campaign, http, pair, errors) -> bool:
    opener, joiner = pair
    return _group(http, base, campaign, opener, joiner, errors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("sessions")
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    shoppers = read_sessions(args.sessions)
    pairs = list(zip(shoppers[0::2], shoppers[1::2], strict=False))
    work = functools.partial(_pair, args.url.rstrip("/"), args.campaign)
    drive(work, pairs, procs=args.procs, seconds=args.seconds, label="groups")


if __name__ == "__main__":
    main()
