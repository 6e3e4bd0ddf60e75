"""Statements as PDF with WeasyPrint, in Chinese (Noto Sans CJK SC).

The statement is always rendered in Simplified Chinese (finance's and the
leader's language), whatever the language of the request or worker. Fonts:
@page margin boxes do not inherit the body's font, so the CSS names it there
too; fontTools' subsetting chatter is kept at WARNING (HarfBuzz-subset does
the work when libharfbuzz-subset0 is installed).
"""

from __future__ import annotations

import logging

from django.template.loader import render_to_string
from django.utils import translation

from .selectors import Statement

STATEMENT_LANGUAGE = "zh-hans"

logging.getLogger("fontTools").setLevel(logging.WARNING)


def render_statement_html(*, statement: Statement) -> str:
    with translation.override(STATEMENT_LANGUAGE):
        return render_to_string("leaders/pdf/statement.html", {"s": statement})


def render_statement_pdf(*, statement: Statement) -> bytes:
    from weasyprint import HTML

    html = render_statement_html(statement=statement)
    return HTML(string=html).write_pdf()
