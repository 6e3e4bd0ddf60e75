"""bench_wave stays working: a tiny night, in place, rolled back afterwards."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Warehouse
from logistics.models import Wave
from orders.models import Order

pytestmark = pytest.mark.django_db


def test_a_tiny_bench_builds_the_wave_and_leaves_nothing(clock):
    out = StringIO()

    call_command(
        "bench_wave",
        "--in-place",
        "--lines",
        "2000",
        "--points",
        "20",
        "--points-per-route",
        "8",
        "--skus",
        "60",
        "--date",
        "2026-11-26",
        stdout=out,
    )

    text = out.getvalue()
    assert (
        "generated 2,000 lines in 667 orders of 200 shoppers over 20 points (3 routes, 60 SKUs)"
        in text
    )
    assert "wave: 2,000 lines, 667 orders, " in text
    assert ", 3 runs, 0 problems" in text
    assert re.search(r"wave took [\d.]+ s: [\d,]+ lines/s; peak RSS \d+ MB before", text)
    for step in ("freeze lines", "demand", "picking lists", "packing lists", "labels", "stops"):
        assert f": {step} " in text
    assert text.rstrip().endswith("rolled back: nothing left in the database")
    assert not Warehouse.objects.exists() and not Order.objects.exists()
    assert not Wave.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lines", "0"], "--lines must be at least 1"),
        (["--lines-per-order", "9"], "--lines-per-order must be 1..5"),
        (["--skus", "10"], "--skus must be at least 40"),
        (["--date", "tomorrow"], "--date must be a date like 2026-11-26"),
        (["--database", "x; drop"], "--database must be letters, digits and _"),
    ],
)
def test_the_bench_refuses_bad_sizes(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("bench_wave", *args)
