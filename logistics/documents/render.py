"""A Document as bytes: PDF (WeasyPrint, Noto Sans CJK SC), CSV (streamed), XLSX (openpyxl).

Nothing is written to disk or MEDIA: the views hand the bytes (or the CSV
stream) straight to the reader after checking their permission.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from itertools import islice

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .build import DOCUMENT_LANGUAGE, Document

logging.getLogger("fontTools").setLevel(logging.WARNING)

DEFAULT_PDF_CHUNK = 250


def render_html(document: Document) -> str:
    with translation.override(DOCUMENT_LANGUAGE):
        return render_to_string(
            document.template,
            {"doc": document, "printed_at": timezone.now(), **document.context()},
        )


def pdf_chunk_size() -> int:
    """Items (labels) laid out per WeasyPrint pass: LOGISTICS_PDF_CHUNK, default 250."""
    size = getattr(settings, "LOGISTICS_PDF_CHUNK", DEFAULT_PDF_CHUNK)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ImproperlyConfigured("LOGISTICS_PDF_CHUNK must be a whole number >= 1")
    return size


def render_pdf(document: Document) -> bytes:
    """The document as one PDF. A document with `pdf_chunk_key` (the labels) is
    laid out `pdf_chunk_size()` items at a time, each pass its own HTML, and
    the passes' pages are written as one PDF: WeasyPrint's peak memory grows
    with the HTML laid out at once (about 0.5 MB a label in one pass), far
    less with the pages it keeps (logistics/README.md, "Label PDFs")."""
    from weasyprint import HTML

    key = document.pdf_chunk_key
    if not key:
        return HTML(string=render_html(document)).write_pdf()
    size = pdf_chunk_size()
    with translation.override(DOCUMENT_LANGUAGE):
        context = {"doc": document, "printed_at": timezone.now(), **document.context()}
        items = iter(context[key])
        first = None
        pages = []
        while True:
            chunk = list(islice(items, size))
            if not chunk and first is not None:
                break
            html = render_to_string(document.template, {**context, key: chunk})
            rendered = HTML(string=html).render()
            first = first or rendered
            pages.extend(rendered.pages)
            if len(chunk) < size:
                break
    return first.copy(pages).write_pdf()


# A cell that starts like a formula is quoted, so a spreadsheet shows it and never runs
# it: point names and addresses come from leaders' applications, product names from staff.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _safe(row) -> list:
    return [safe_cell(v) for v in row]


class _Line:
    """A file-like whose write returns what was written (csv.writer → one row as text)."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(document: Document) -> Iterator[str]:
    """The CSV row by row (a BOM first, so Excel reads the Chinese as UTF-8)."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(document.headers)
    for row in document.rows():
        yield writer.writerow(_safe(row))


def render_csv(document: Document) -> str:
    return "".join(csv_chunks(document))


def render_xlsx(document: Document) -> bytes:
    """One sheet, headers in the first row, numbers as numbers (write-only: rows stream out)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=document.kind)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in document.headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in document.rows():
        sheet.append(_safe(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
