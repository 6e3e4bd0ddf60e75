"""bench_facts at a tiny size, in place: it generates orders that satisfy every
constraint, the facts it times equal SQL over them, and it leaves nothing behind."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from analytics.models import OrderDayFact, SalesFact
from orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db

TINY = ["--in-place", "--orders", "400", "--days", "4", "--points", "5", "--skus", "14"]


def _run(*args) -> str:
    out = io.StringIO()
    call_command("bench_facts", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_nightly_job_and_every_report_and_leaves_nothing(clock):
    text = _run(*TINY)
    assert "generated 400 orders (800 lines) of 20 shoppers at 5 points over 4 days" in text
    assert re.search(r"facts over the whole range \(4 days\): [\d.]+ s", text)
    assert re.search(r"nightly fact job, one day \(2026-11-24\): [\d.]+ s", text)
    for report in ("sales_report", "leader_board", "leader_trend", "shopper_behaviour",
                   "groupbuy_report", "delivery_report"):  # fmt: skip
        assert re.search(rf"report {report}: \d+ ms cold, \d+ ms warm", text), report
    assert re.search(r"slowest report: \w+ \d+ ms \((under|OVER) 1 s\) over 400 orders", text)
    assert text.rstrip().endswith("rolled back: nothing left in the database")
    assert not Order.objects.exists() and not SalesFact.objects.exists()


def test_the_generated_orders_are_whole_and_the_facts_match_them(clock):
    _run(*TINY, "--keep")  # kept inside the test's transaction
    assert Order.objects.count() == 400 and OrderLine.objects.count() == 800
    with connection.cursor() as cursor:
        # Order totals are the sums of their lines; refunds within what was paid.
        cursor.execute(
            """
            SELECT count(*) FROM orders_order o JOIN (
                SELECT order_id, sum(goods_total) g, sum(discount_total) d, sum(payable) p,
                       sum(refunded_amount) r
                FROM orders_orderline GROUP BY order_id) l ON l.order_id = o.id
            WHERE (o.goods_total, o.discount_total, o.payable, o.refunded_amount)
                  <> (l.g, l.d, l.p, l.r)
            """
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM orders_order WHERE status = 'refunded'")
        assert cursor.fetchone()[0] == 4  # every 100th
    sums = Order.objects.aggregate(gmv=Sum("goods_total"), refunds=Sum("refunded_amount"))
    facts = SalesFact.objects.aggregate(gmv=Sum("gmv"), refunds=Sum("refunds"))
    assert facts == sums
    assert OrderDayFact.objects.aggregate(n=Sum("orders"))["n"] == 400
    assert OrderDayFact.objects.values("day").distinct().count() == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orders", "0"], "--orders must be at least 1"),
        (["--days", "800"], "--days must be at most 730"),
        (["--lines-per-order", "9"], "--lines-per-order must be 1..5"),
        (["--database", "x;drop"], "--database must be letters, digits and _"),
    ],
)
def test_bad_sizes_are_refused_before_anything_is_made(clock, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        _run(*args)
    assert not Order.objects.exists()
