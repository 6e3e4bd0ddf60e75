"""Helpers of the report job tests (helper A2): read an export back, SQL sums over orders."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta
from decimal import Decimal

from django.db import connection
from openpyxl import load_workbook

from tuangou.timeutils import local_datetime


def xlsx_rows(data: bytes) -> list[list]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the Chinese as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def raw_order_sums(start: date, end: date) -> tuple[int, Decimal, Decimal, Decimal, Decimal]:
    """Orders paid start..end (Shanghai): count, goods, discounts, paid, refunded, in SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), coalesce(sum(goods_total), 0), coalesce(sum(discount_total), 0),
                   coalesce(sum(payable), 0), coalesce(sum(refunded_amount), 0)
            FROM orders_order WHERE paid_at >= %s AND paid_at < %s
            """,
            [
                local_datetime(start, time(0, 0)),
                local_datetime(end + timedelta(days=1), time(0, 0)),
            ],
        )
        return cursor.fetchone()


def file_bytes(job) -> bytes:
    with job.file.storage.open(job.file.name, "rb") as fh:
        return fh.read()
