# ruff: noqa: F401, F811 - pytest fixtures imported from the suite's modules
"""The shopper's order flow in-process: CPU per step of an order (issue #11,
docs/benchmarks_hotpath.md "Third round").

Not part of the suite (testpaths is tests/) and not a test of speed: it
prints figures. Cart add → checkout POST → pay page → start payment →
模拟支付 → payment notification, signed in with a pickup point, outside a
test transaction as production runs, Celery eager; ORDERS orders after 3
warm-up ones (caches warm, as the benchmark counts them):

    .venv/bin/pytest -p no:xdist -s benchmarks/test_order_inprocess.py

`ORDER_PROFILE=1` also writes a cProfile of the same number of orders to
order-flow.prof in the temporary directory. CPU time of the process
(`time.process_time`) is reported beside wall time because the box is
usually shared: wall time then measures the neighbours. The figures include
the test client's own work per request.
"""

from __future__ import annotations

import cProfile
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Payment
from orders.payments import sandbox
from tests.catalog.factories import set_stock
from tests.conftest import (
    _default_language,
    _fast_and_eager,
    _isolated_cache,
    _media_root,
    clock,
    leader_user,
    make_user,
    shopper,
)
from tests.leaders.conftest import community, leader, pickup_point
from tests.orders.conftest import TOMORROW, eager_celery, point, sku
from tests.orders.shopper_helpers import bound_shopper, shopper_client
from tuangou.money import to_fen

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = int(os.environ.get("ORDERS", "60"))
STEPS = ("cart_add", "checkout", "pay_page", "start_payment", "sandbox_pay", "notification")


def _one_order(client, sku, cpu: dict, wall: dict) -> None:
    def run(name, request):
        c0, w0 = time.process_time(), time.perf_counter()
        response = request()
        cpu[name] = cpu.get(name, 0.0) + time.process_time() - c0
        wall[name] = wall.get(name, 0.0) + time.perf_counter() - w0
        return response

    added = run(
        "cart_add",
        lambda: client.post(
            reverse("orders:cart_add"), {"sku": sku.code, "quantity": 1, "action": "cart"}
        ),
    )
    assert added.status_code == 302
    placed = run("checkout", lambda: client.post(reverse("orders:checkout"), {"note": ""}))
    assert placed.status_code == 302
    pay_url = placed["Location"]
    assert run("pay_page", lambda: client.get(pay_url)).status_code == 200
    assert run("start_payment", lambda: client.post(pay_url)).status_code == 302
    payment = Payment.objects.latest("pk")
    sandbox_url = reverse("orders:sandbox_pay", args=[payment.out_trade_no])
    assert run("sandbox_pay", lambda: client.post(sandbox_url)).status_code == 200
    # Built outside the timing: WeChat Pay's side of the notification.
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    meta = {"HTTP_" + re.sub(r"[^A-Z0-9]", "_", k.upper()): v for k, v in headers.items()}
    notifier = Client()
    notified = run(
        "notification",
        lambda: notifier.generic(
            "POST",
            reverse("orders:notify_payment"),
            body,
            content_type="application/json",
            **meta,
        ),
    )
    assert notified.status_code == 200


def test_the_order_flow_in_process(clock, shopper_client, sku, point):
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=1_000_000)
    for _ in range(3):
        _one_order(shopper_client, sku, {}, {})
    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    for _ in range(ORDERS):
        _one_order(shopper_client, sku, cpu, wall)
    print(f"\n{ORDERS} orders, ms per order (CPU of this process, wall)")
    for step in STEPS:
        print(f"{step:14s} {1000 * cpu[step] / ORDERS:7.2f} {1000 * wall[step] / ORDERS:8.2f}")
    total_cpu, total_wall = sum(cpu.values()), sum(wall.values())
    print(f"{'order':14s} {1000 * total_cpu / ORDERS:7.2f} {1000 * total_wall / ORDERS:8.2f}")
    if os.environ.get("ORDER_PROFILE"):
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(ORDERS):
            _one_order(shopper_client, sku, {}, {})
        profile.disable()
        path = Path(tempfile.gettempdir()) / "order-flow.prof"
        profile.dump_stats(path)
        print(f"profile: {path}")
