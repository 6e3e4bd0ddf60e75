"""The cutoff wave's documents (picking lists, packing lists, bag labels, run sheets),
made on request from the wave tables as PDF, CSV or XLSX; never stored."""

from .build import (  # noqa: F401
    FORMATS,
    KINDS,
    LABELS,
    PACKING,
    PICKING,
    RUN_SHEET,
    Document,
    DocumentError,
    document_for,
    labels_document,
    packing_document,
    picking_document,
    run_sheet_document,
)
from .render import csv_chunks, render_csv, render_html, render_pdf, render_xlsx  # noqa: F401
