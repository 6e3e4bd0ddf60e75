"""Reading Django admin pages in tests: the change list's column headers and
rows as the reader sees them (text, no tags), field labels, inline headers."""

from __future__ import annotations

import re
from html import unescape


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


def column_headers(html: str) -> list[str]:
    """The change list's column headers (the action checkbox's column has none)."""
    table = html.split('id="result_list"', 1)[1].split("</thead>", 1)[0]
    headers = [text(t) for t in re.findall(r'<div class="text">(.*?)</div>', table, re.S)]
    return [h for h in headers if h]


def rows(html: str) -> list[list[str]]:
    """Each row of the change list: its cells' text (the checkbox cell dropped)."""
    if 'id="result_list"' not in html:
        return []
    body = html.split('id="result_list"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t([dh])([^>]*)>(.*?)</t[dh]>", row, re.S)
        out.append([text(c) for _kind, attrs, c in cells if "action-checkbox" not in attrs])
    return out


def first_row(html: str) -> list[str]:
    return rows(html)[0]


def field_labels(html: str) -> list[str]:
    return [text(x).rstrip(":") for x in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)]


def inline_headers(html: str) -> list[str]:
    return [text(x) for x in re.findall(r'<th class="column-[^"]*"[^>]*>(.*?)</th>', html, re.S)]


def title(html: str) -> str:
    return text(re.search(r"<title>(.*?)</title>", html, re.S).group(1))


def inline_rows(html: str) -> list[dict[str, str]]:
    """The saved rows of a tabular inline: {field name: text} per row."""
    found = []
    for row in re.findall(
        r'<tr class="form-row[^"]*has_original[^"]*"[^>]*>(.*?)</tr>', html, re.S
    ):
        cells = re.findall(r'<td class="field-(\w+)">(.*?)</td>', row, re.S)
        found.append({name: text(cell) for name, cell in cells})
    return found
