"""Exports: only orders paid in the range (Shanghai days), formula-looking cells quoted,
statuses in Chinese, a shopper without a phone, progress in chunks."""

from __future__ import annotations

import io
from datetime import time, timedelta
from decimal import Decimal

import pytest

from analytics.exports import EXPORTS, check_request, two_years_after
from orders.models import Order
from orders.services.checkout import Want, place_order
from tests.clock import TODAY
from tuangou.timeutils import local_datetime

from .jobs_support import csv_rows, raw_order_sums, xlsx_rows

pytestmark = pytest.mark.django_db

FIRST, SECOND = TODAY - timedelta(days=2), TODAY - timedelta(days=1)


def _export(kind: str, fmt: str, *, personal=False, **params) -> tuple[bytes, list]:
    export = EXPORTS[kind]
    calls: list[tuple[int, int]] = []
    out = io.BytesIO()
    export.write(
        out=out,
        file_format=fmt,
        params=check_request(kind=kind, file_format=fmt, params=params),
        personal=personal,
        progress=lambda done, total: calls.append((done, total)),
    )
    return out.getvalue(), calls


def test_only_orders_paid_in_the_range_are_listed(history, shopper, point, sku, settings):
    settings.ANALYTICS_EXPORT_CHUNK = 4
    unpaid = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    assert unpaid.paid_at is None
    data, calls = _export("orders", "xlsx", start=FIRST.isoformat(), end=SECOND.isoformat())
    rows = xlsx_rows(data)
    body = rows[1:-1]
    count, _goods, _discounts, paid, _refunded = raw_order_sums(FIRST, SECOND)
    assert len(body) == count == 7  # 4 on the first day (one at 23:40), 3 on the second
    assert unpaid.number not in {r[0] for r in body}
    todays = {o.number for o in history.orders if o.paid_at >= local_datetime(TODAY, time(0))}
    assert len(todays) == 3 and not todays & {r[0] for r in body}
    assert Decimal(str(rows[-1][11])) == paid
    # Oldest payment first; progress after each chunk of 4, the cancel check with it.
    assert [r[2] for r in body] == sorted(r[2] for r in body)
    assert calls == [(0, 7), (4, 7), (7, 7)]
    assert {r[3] for r in body} == {"已确认"}
    assert body[0][2].startswith(f"{FIRST} 09:30")  # Shanghai time, not UTC


def test_a_cell_that_looks_like_a_formula_is_quoted(history):
    order = history.orders[0]
    Order.objects.filter(pk=order.pk).update(pickup_point_name='=HYPERLINK("http://x","点我")')
    for fmt, read in (("xlsx", xlsx_rows), ("csv", csv_rows)):
        data, _calls = _export("orders", fmt, start=FIRST.isoformat(), end=FIRST.isoformat())
        [row] = [r for r in read(data) if r[0] == order.number]
        assert row[6] == '\'=HYPERLINK("http://x","点我")', fmt


def test_a_shopper_without_a_phone_has_an_empty_cell(history, shopper):
    type(shopper).objects.filter(pk=shopper.pk).update(phone=None)
    data, _calls = _export("orders", "csv", start=FIRST.isoformat(), end=FIRST.isoformat())
    phones = {r[5] for r in csv_rows(data)[1:-1]}
    assert phones == {"", "138****0002"}


def test_a_range_of_days_with_no_orders_is_headers_and_a_zero_total(history):
    day = (TODAY - timedelta(days=30)).isoformat()
    data, calls = _export("orders", "csv", start=day, end=day)
    rows = csv_rows(data)
    assert len(rows) == 2 and rows[1][0] == "合计" and rows[1][11] == "0.00"
    assert calls == [(0, 0)]


def test_two_years_is_counted_in_calendar_years():
    from datetime import date

    assert two_years_after(date(2024, 11, 26)) == date(2026, 11, 26)
    assert two_years_after(date(2024, 2, 29)) == date(2026, 3, 1)


def test_an_xlsx_longer_than_a_sheet_goes_on_in_a_new_sheet(history, monkeypatch):
    from openpyxl import load_workbook

    monkeypatch.setattr("analytics.exports.XLSX_MAX_ROWS", 5)  # header + 3 rows + totals
    data, _calls = _export("orders", "xlsx", start=FIRST.isoformat(), end=TODAY.isoformat())
    book = load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["订单明细", "订单明细 (2)", "订单明细 (3)", "订单明细 (4)"]
    sheets = [list(s.iter_rows(values_only=True)) for s in book.worksheets]
    assert [len(rows) for rows in sheets] == [4, 4, 4, 3]  # the last: header, 1 row, totals
    assert all(rows[0][0] == "订单号" for rows in sheets)
    assert sheets[-1][-1][0] == "合计"
    assert sum(len(rows) - 1 for rows in sheets) - 1 == 10
