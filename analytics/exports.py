"""The registry of exportable reports: kind → how its parameters are checked and
how its file is written (CSV, XLSX or PDF), with progress.

A report job (analytics.jobs) looks its kind up here, checks the parameters
before any row is created (`clean`), and a worker later calls `write` with a
binary file, the format, the cleaned parameters, whether the requester may see
shoppers' personal data, and a `progress(done, total)` callback. The callback
raises JobCancelled when the job's owner has cancelled it: writers call it
between chunks, so a cancel stops the work within one chunk.

Kinds:
- orders: every order paid in a date range, one row each (the one export that
  reads raw orders: it lists them), streamed with a server-side cursor.
- shopper_rfm: every shopper's recency, frequency and money (RFM) scores and
  segment, from the shopper-month facts.
- daily_summary: the operators' PDF of one day (analytics.summary).

Shoppers' phones are masked (138****8000) unless the requester has
analytics.export_personal_data. Cells that start like a spreadsheet formula
are quoted (logistics.documents.render.safe_cell).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import connection
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from logistics.documents.render import safe_cell
from orders.models import Order, OrderKind, OrderStatus
from tuangou.accounts.phone import mask_phone
from tuangou.money import ZERO
from tuangou.timeutils import local_datetime, local_today, to_local

# Exports are written in Chinese whatever the worker's language (like statements).
EXPORT_LANGUAGE = "zh-hans"

# Rows in one XLSX sheet (Excel's limit); longer exports continue on a new sheet.
XLSX_MAX_ROWS = 1_048_576

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class ExportError(ValueError):
    """Bad parameters for an export: `message` is shown to the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobCancelled(Exception):
    """Raised by the progress callback when the job is no longer running."""


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportKind:
    kind: str
    label: Promise
    formats: tuple[str, ...]
    clean: Callable[[Mapping[str, Any]], dict]
    write: Callable[..., int]  # (*, out, file_format, params, personal, progress) -> rows

    def filename(self, *, file_format: str, params: Mapping[str, Any]) -> str:
        if "day" in params:
            span = params["day"]
        else:
            span = f"{params.get('start', '')}_{params.get('end', '')}"
        with translation.override(EXPORT_LANGUAGE):
            return f"{self.label}_{span}.{file_format}"


# --- parameters ------------------------------------------------------------------------


def _date(params: Mapping[str, Any], name: str, label: str) -> date:
    value = params.get(name)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ExportError(_("Enter the %(what)s as YYYY-MM-DD.") % {"what": label}) from None


def two_years_after(day: date) -> date:
    """The same calendar day two years on (29 Feb → 1 Mar): the first day too far."""
    try:
        return day.replace(year=day.year + 2)
    except ValueError:
        return date(day.year + 2, 3, 1)


def clean_range(params: Mapping[str, Any]) -> dict:
    """start..end (both included): not backwards, at most two years, not in the future."""
    start = _date(params, "start", _("start date"))
    end = _date(params, "end", _("end date"))
    if end < start:
        raise ExportError(_("The end date is before the start date."))
    if end >= two_years_after(start):
        raise ExportError(_("Choose a range of at most two years."))
    if start > local_today():
        raise ExportError(_("The range starts in the future: there is nothing to export yet."))
    return {"start": start.isoformat(), "end": end.isoformat()}


def clean_day(params: Mapping[str, Any]) -> dict:
    """One day that has already begun (yesterday when none is given)."""
    if not params.get("day"):
        return {"day": (local_today() - timedelta(days=1)).isoformat()}
    day = _date(params, "day", _("day of the summary"))
    if day > local_today():
        raise ExportError(_("That day has not come yet."))
    return {"day": day.isoformat()}


# --- writing rows --------------------------------------------------------------------------


def _phone(phone: str | None, *, personal: bool) -> str:
    if not phone:
        return ""
    if personal:
        return phone[3:] if phone.startswith("+86") else phone
    return mask_phone(phone)


def _local_text(value) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _write_table(
    out: IO[bytes],
    *,
    file_format: str,
    title: str,
    headers: list[str],
    chunks: Iterable[list[list]],
    footer: Callable[[], list] | None = None,
) -> int:
    """Headers, then the rows chunk by chunk, then an optional totals row."""
    rows = 0
    if file_format == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow(headers)
        for chunk in chunks:
            writer.writerows([[safe_cell(v) for v in row] for row in chunk])
            rows += len(chunk)
        if footer is not None:
            writer.writerow(footer())
        text.flush()
        text.detach()
        return rows
    if file_format == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        book = Workbook(write_only=True)
        bold = Font(bold=True)
        sheets: list = []

        def bolded(sheet, values):
            cells = []
            for value in values:
                cell = WriteOnlyCell(sheet, value=value)
                cell.font = bold
                cells.append(cell)
            return cells

        def new_sheet():
            # Excel holds 1,048,576 rows a sheet: a longer export goes on in 订单明细 (2)…
            name = title[:26] if not sheets else f"{title[:24]} ({len(sheets) + 1})"
            sheet = book.create_sheet(title=name)
            sheet.freeze_panes = "A2"
            sheet.append(bolded(sheet, headers))
            sheets.append(sheet)
            return sheet

        sheet, in_sheet = new_sheet(), 1
        for chunk in chunks:
            for row in chunk:
                if in_sheet >= XLSX_MAX_ROWS - 1:  # room for the totals row
                    sheet, in_sheet = new_sheet(), 1
                sheet.append([safe_cell(v) for v in row])
                in_sheet += 1
            rows += len(chunk)
        if footer is not None:
            sheet.append(bolded(sheet, footer()))
        book.save(out)
        return rows
    raise ExportError(_("Unknown file format."))


# --- orders ------------------------------------------------------------------------------


def orders_in_range(*, start: date, end: date):
    """Orders paid from start to end (Shanghai days, both included)."""
    from_ = local_datetime(start, time(0, 0))
    until = local_datetime(end + timedelta(days=1), time(0, 0))
    return Order.objects.filter(paid_at__gte=from_, paid_at__lt=until)


def _write_orders(*, out, file_format, params, personal, progress) -> int:
    start, end = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
    orders = orders_in_range(start=start, end=end)
    total = orders.count()
    progress(0, total)
    statuses = dict(OrderStatus.choices)
    kinds = dict(OrderKind.choices)
    sums = [ZERO, ZERO, ZERO, ZERO]
    rows = (
        orders.order_by("paid_at", "pk")
        .values_list(
            "number",
            "created_at",
            "paid_at",
            "status",
            "kind",
            "user__phone",
            "pickup_point_name",
            "warehouse__name",
            "delivery_date",
            "goods_total",
            "discount_total",
            "payable",
            "refunded_amount",
        )
        .iterator(chunk_size=settings.ANALYTICS_EXPORT_CHUNK)
    )

    def chunks() -> Iterator[list[list]]:
        done = 0
        for chunk in _batched(rows, settings.ANALYTICS_EXPORT_CHUNK):
            out_rows = []
            for (
                number, created, paid, status, kind, phone, point, warehouse, day,
                goods, discount, payable, refunded,
            ) in chunk:  # fmt: skip
                for i, amount in enumerate((goods, discount, payable, refunded)):
                    sums[i] += amount
                out_rows.append(
                    [
                        number,
                        _local_text(created),
                        _local_text(paid),
                        str(statuses.get(status, status)),
                        str(kinds.get(kind, kind)),
                        _phone(phone, personal=personal),
                        point,
                        warehouse,
                        day.isoformat(),
                        goods,
                        discount,
                        payable,
                        refunded,
                        payable - refunded,
                    ]
                )
            done += len(out_rows)
            yield out_rows
            progress(done, total)

    with translation.override(EXPORT_LANGUAGE):
        headers = [
            pgettext("export column", "Order number"),
            pgettext("export column", "Placed at"),
            pgettext("export column", "Paid at"),
            pgettext("export column", "Status"),
            pgettext("export column", "Order kind"),
            pgettext("export column", "Shopper's phone"),
            pgettext("export column", "Pickup point"),
            pgettext("export column", "Warehouse"),
            pgettext("export column", "Delivery date"),
            pgettext("export column", "Goods total"),
            pgettext("export column", "Discounts"),
            pgettext("export column", "Paid"),
            pgettext("export column", "Refunded"),
            pgettext("export column", "Net"),
        ]
        total_label = pgettext("export column", "Total")
        return _write_table(
            out,
            file_format=file_format,
            title=str(ORDERS.label),
            headers=headers,
            chunks=chunks(),
            footer=lambda: [total_label, *[""] * 8, *sums, sums[2] - sums[3]],
        )


def _batched(iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- shoppers' RFM -------------------------------------------------------------------------

# Each score is 1..5: the share of shoppers at or below this one (cume_dist), in
# fifths, so equal values always get equal scores. Recency: a later last order
# scores higher; frequency: more orders; money: more spend (paid minus refunds).
# The segment is the 用户行为 report's (analytics.selectors.SHOPPERS_SQL): recent
# = ordered in the last RECENT_DAYS days of the range, frequent = FREQUENT_ORDERS
# orders or more, so an export and the page always agree.
_RFM_SQL = """
WITH s AS (
    SELECT f.user_id, min(f.first_month) AS first_month, max(f.last_day) AS last_day,
           sum(f.orders) AS orders, sum(f.spend) AS spend
    FROM analytics_shoppermonthfact f
    WHERE f.month >= %(first_month)s AND f.month <= %(end)s
    GROUP BY f.user_id
), scored AS (
    SELECT s.*,
           ceil(5 * cume_dist() OVER (ORDER BY s.last_day))::int AS r,
           ceil(5 * cume_dist() OVER (ORDER BY s.orders))::int AS f,
           ceil(5 * cume_dist() OVER (ORDER BY s.spend))::int AS m,
           CASE
               WHEN s.last_day > %(recent)s AND s.orders >= %(frequent)s THEN 'champions'
               WHEN s.last_day > %(recent)s THEN 'new_or_promising'
               WHEN s.orders >= %(frequent)s THEN 'at_risk'
               ELSE 'hibernating'
           END AS segment
    FROM s
)
SELECT sc.user_id, u.phone, sc.first_month, sc.last_day, sc.orders, sc.spend,
       sc.r, sc.f, sc.m, sc.segment
FROM scored sc JOIN accounts_user u ON u.id = sc.user_id
ORDER BY sc.r * 100 + sc.f * 10 + sc.m DESC, sc.user_id
"""

_RFM_COUNT_SQL = """
SELECT count(DISTINCT user_id) FROM analytics_shoppermonthfact
WHERE month >= %(first_month)s AND month <= %(end)s
"""

# The same words as the 用户行为 page (one msgid, one translation).
RFM_SEGMENTS = {
    "champions": gettext_lazy("Loyal and recent"),
    "new_or_promising": gettext_lazy("New or promising"),
    "at_risk": gettext_lazy("Loyal, slipping away"),
    "hibernating": gettext_lazy("Dormant"),
}


def _write_rfm(*, out, file_format, params, personal, progress) -> int:
    start, end = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
    from .selectors import FREQUENT_ORDERS, RECENT_DAYS

    args = {
        "first_month": start.replace(day=1),
        "end": end,
        "recent": end - timedelta(days=RECENT_DAYS),
        "frequent": FREQUENT_ORDERS,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RFM_COUNT_SQL, args)
        total = cursor.fetchone()[0]
    progress(0, total)

    def chunks() -> Iterator[list[list]]:
        # A named (server-side) cursor: rows come in chunks, never all at once.
        done = 0
        with connection.chunked_cursor() as cursor:
            cursor.execute(_RFM_SQL, args)
            while batch := cursor.fetchmany(settings.ANALYTICS_EXPORT_CHUNK):
                out_rows = []
                for user_id, phone, first_month, last_day, orders, spend, r, f, m, seg in batch:
                    out_rows.append(
                        [
                            user_id,
                            _phone(phone, personal=personal),
                            first_month.strftime("%Y-%m"),
                            last_day.isoformat(),
                            (end - last_day).days,
                            orders,
                            spend,
                            r,
                            f,
                            m,
                            f"{r}{f}{m}",
                            str(RFM_SEGMENTS[seg]),
                        ]
                    )
                done += len(out_rows)
                yield out_rows
                progress(done, total)

    with translation.override(EXPORT_LANGUAGE):
        headers = [
            pgettext("export column", "Shopper no."),
            pgettext("export column", "Shopper's phone"),
            pgettext("export column", "First order month"),
            pgettext("export column", "Last order day"),
            pgettext("export column", "Days since last order"),
            pgettext("export column", "Orders"),
            pgettext("export column", "Spend"),
            "R",
            "F",
            "M",
            "RFM",
            pgettext("export column", "Segment"),
        ]
        return _write_table(
            out,
            file_format=file_format,
            title=str(SHOPPER_RFM.label),
            headers=headers,
            chunks=chunks(),
        )


# --- the daily summary (PDF) -----------------------------------------------------------------


def _write_daily_summary(*, out, file_format, params, personal, progress) -> int:
    from .summary import build_daily_summary, render_summary_pdf

    if file_format != "pdf":
        raise ExportError(_("Unknown file format."))
    progress(0, 2)
    summary = build_daily_summary(day=date.fromisoformat(params["day"]))
    progress(1, 2)
    out.write(render_summary_pdf(summary=summary))
    return len(summary.top_products)


# --- the registry --------------------------------------------------------------------------

ORDERS = ExportKind(
    kind="orders",
    label=pgettext_lazy("report kind", "Order details"),
    formats=("xlsx", "csv"),
    clean=clean_range,
    write=_write_orders,
)
SHOPPER_RFM = ExportKind(
    kind="shopper_rfm",
    label=pgettext_lazy("report kind", "Shoppers' RFM"),
    formats=("xlsx", "csv"),
    clean=clean_range,
    write=_write_rfm,
)
DAILY_SUMMARY = ExportKind(
    kind="daily_summary",
    label=pgettext_lazy("report kind", "Daily summary"),
    formats=("pdf",),
    clean=clean_day,
    write=_write_daily_summary,
)

EXPORTS: dict[str, ExportKind] = {e.kind: e for e in (ORDERS, SHOPPER_RFM, DAILY_SUMMARY)}


def get_export(kind: str) -> ExportKind:
    try:
        return EXPORTS[kind]
    except KeyError:
        raise ExportError(_("Unknown report.")) from None


def check_request(*, kind: str, file_format: str, params: Mapping[str, Any]) -> dict:
    """The cleaned parameters of a request, or ExportError with the reason."""
    export = get_export(kind)
    if file_format not in export.formats:
        raise ExportError(
            _("This report comes as %(formats)s only.")
            % {"formats": " / ".join(f.upper() for f in export.formats)}
        )
    return export.clean(params)
