"""The wave's printable documents: picking lists, packing lists, bag labels, run sheets.

A Document is what one download holds, in any of three formats: its rows
(for CSV and XLSX, streamed from the wave tables) and its PDF template and
context. Documents are always in Simplified Chinese (the warehouse floor's
language): every heading is made a plain string while Chinese is active, so
a streamed CSV never depends on the language of the moment it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

import segno
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from catalog.models import StorageClass
from orders.pickup_selectors import pickup_scan_path

from ..models import DeliveryRun, Route, Wave
from . import data

DOCUMENT_LANGUAGE = "zh-hans"

PICKING = "picking"
PACKING = "packing"
LABELS = "labels"
RUN_SHEET = "runsheet"
KINDS = (PICKING, PACKING, LABELS, RUN_SHEET)

FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# Label lines printed on one 100×70 mm label; the rest is counted ("+2 more").
LABEL_LINES = 6
# Labels in one PDF: WeasyPrint lays out ~60 label pages a second here, so a
# bigger route is printed point by point (the packing page links each point).
LABELS_PER_PDF = 1000


class DocumentError(Exception):
    """A document that cannot be made as asked: the message is for the reader."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Document:
    kind: str
    wave: Wave
    title: str
    filename: str  # without the extension
    headers: list[str]
    rows: Callable[[], Iterable[list]]
    template: str
    context: Callable[[], dict] = field(repr=False)
    # Why this document is not offered as a PDF ("" when it is): too long to print at once.
    pdf_refusal: str = ""
    # A context key whose items the PDF is laid out in chunks of (render.render_pdf):
    # WeasyPrint's memory grows with the HTML laid out at once, not with the pages kept.
    pdf_chunk_key: str = ""


def storage_label(storage_class: str) -> str:
    try:
        return str(StorageClass(storage_class).label)
    except ValueError:
        return storage_class


def _wave_meta(wave: Wave) -> dict:
    return {
        "wave": wave,
        "warehouse": wave.warehouse,
        "delivery_date": wave.delivery_date,
    }


def _day(d: date) -> str:
    return d.isoformat()


# --- picking ----------------------------------------------------------------------------


def picking_document(*, wave: Wave, storage_class: str | None = None) -> Document:
    if storage_class and storage_class not in StorageClass.values:
        raise DocumentError(_("Unknown storage class."))
    with translation.override(DOCUMENT_LANGUAGE):
        title = pgettext("warehouse", "Picking list")
        if storage_class:
            title = f"{title} · {storage_label(storage_class)}"
        labels = {s: storage_label(s) for s in StorageClass.values}
        headers = [
            pgettext("warehouse", "Storage"),
            pgettext("warehouse", "Walk order"),
            pgettext("warehouse", "Bin"),
            pgettext("warehouse", "Product"),
            pgettext("warehouse", "Spec"),
            pgettext("warehouse", "Quantity"),
            pgettext("warehouse", "Unit"),
            pgettext("warehouse", "Picked"),
        ]

    def rows() -> Iterator[list]:
        for r in data.picking_rows(wave=wave, storage_class=storage_class):
            yield [
                labels.get(r.storage_class, r.storage_class),
                r.sequence,
                r.bin_location,
                r.product,
                r.spec,
                r.quantity,
                r.unit,
                "" if r.picked_quantity is None else r.picked_quantity,
            ]

    def context() -> dict:
        sections: dict[str, list[data.PickRow]] = {}
        for r in data.picking_rows(wave=wave, storage_class=storage_class):
            sections.setdefault(r.storage_class, []).append(r)
        return {
            **_wave_meta(wave),
            "sections": [
                {
                    "storage_class": cls,
                    "label": labels.get(cls, cls),
                    "rows": items,
                    "units": sum(i.quantity for i in items),
                }
                for cls, items in sections.items()
            ],
        }

    suffix = f"-{storage_class}" if storage_class else ""
    return Document(
        kind=PICKING,
        wave=wave,
        title=title,
        filename=f"picking-{_day(wave.delivery_date)}{suffix}",
        headers=headers,
        rows=rows,
        template="logistics/pdf/picking.html",
        context=context,
    )


# --- packing ----------------------------------------------------------------------------


def _route_of(wave: Wave, route_id: int | None) -> Route | None:
    if route_id is None:
        return None
    route = Route.objects.filter(pk=route_id, warehouse_id=wave.warehouse_id).first()
    if route is None:
        raise DocumentError(_("No such route at this warehouse."))
    return route


def _point_of(wave: Wave, point_id: int | None):
    if point_id is None:
        return None
    from leaders.models import PickupPoint

    point = PickupPoint.objects.filter(pk=point_id, warehouse_id=wave.warehouse_id).first()
    if point is None:
        raise DocumentError(_("No such pickup point at this warehouse."))
    return point


def _scope_name(route: Route | None, point) -> str:
    if point is not None:
        return f"-p{point.pk}"
    if route is not None:
        return f"-{route.code}"
    return ""


def packing_document(
    *, wave: Wave, route_id: int | None = None, point_id: int | None = None
) -> Document:
    route = _route_of(wave, route_id)
    point = _point_of(wave, point_id)
    with translation.override(DOCUMENT_LANGUAGE):
        title = pgettext("warehouse", "Packing list")
        if route is not None:
            title = f"{title} · {route.code} {route.name}"
        if point is not None:
            title = f"{title} · {point.name}"
        headers = [
            pgettext("warehouse", "Route"),
            pgettext("warehouse", "Stop"),
            pgettext("warehouse", "Pickup point"),
            pgettext("warehouse", "Address"),
            pgettext("warehouse", "Product"),
            pgettext("warehouse", "Spec"),
            pgettext("warehouse", "Quantity"),
            pgettext("warehouse", "Unit"),
            pgettext("warehouse", "Packed"),
        ]
        yes = pgettext("warehouse", "yes")

    def points():
        return data.packing_points(
            wave=wave,
            route_id=route.pk if route else None,
            point_id=point.pk if point else None,
        )

    def rows() -> Iterator[list]:
        for p in points():
            for line in p.lines:
                yield [
                    p.route_code,
                    p.position or "",
                    p.point_name,
                    p.address,
                    line.product,
                    line.spec,
                    line.quantity,
                    line.unit,
                    yes if line.is_packed else "",
                ]

    def context() -> dict:
        found = list(points())
        return {
            **_wave_meta(wave),
            "route": route,
            "points": found,
            "units": sum(p.units for p in found),
        }

    return Document(
        kind=PACKING,
        wave=wave,
        title=title,
        filename=f"packing-{_day(wave.delivery_date)}{_scope_name(route, point)}",
        headers=headers,
        rows=rows,
        template="logistics/pdf/packing.html",
        context=context,
        # A whole city's packing lists are thousands of pages: print them per route.
        pdf_refusal=""
        if route is not None or point is not None
        else _("Choose a route or a pickup point: a whole city is too long to print at once."),
    )


# --- bag labels -------------------------------------------------------------------------


def label_url(code: str) -> str:
    """What a label's QR code opens: the leader's counter with the code filled in."""
    return f"{settings.SITE_URL}{pickup_scan_path(code=code)}"


def label_qr(code: str) -> str:
    """The label's QR code as a PNG of one pixel per module (the label scales it up
    without smoothing): a tenth of the layout time of an SVG in WeasyPrint."""
    return segno.make(label_url(code), error="m").png_data_uri(scale=1, border=2)


def labels_document(
    *, wave: Wave, route_id: int | None = None, point_id: int | None = None
) -> Document:
    route = _route_of(wave, route_id)
    point = _point_of(wave, point_id)
    if route is None and point is None:
        raise DocumentError(
            _("Choose a route or a pickup point: labels are printed per route or per point.")
        )
    with translation.override(DOCUMENT_LANGUAGE):
        title = pgettext("warehouse", "Bag labels")
        headers = [
            pgettext("warehouse", "Route"),
            pgettext("warehouse", "Stop"),
            pgettext("warehouse", "Pickup point"),
            pgettext("warehouse", "Pickup code"),
            pgettext("warehouse", "Phone"),
            pgettext("warehouse", "Lines"),
            pgettext("warehouse", "Units"),
            pgettext("warehouse", "Goods"),
        ]

    def labels():
        return data.labels(
            wave=wave,
            route_id=route.pk if route else None,
            point_id=point.pk if point else None,
        )

    def rows() -> Iterator[list]:
        for label in labels():
            yield [
                label.route_code,
                label.position or "",
                label.point_name,
                label.pickup_code,
                label.masked_phone,
                label.line_count,
                label.unit_count,
                "；".join(f"{x.product} {x.spec} ×{x.quantity}" for x in label.lines),
            ]

    def context() -> dict:
        return {
            **_wave_meta(wave),
            "total": count,
            "labels": (
                {
                    "n": n,
                    "label": label,
                    "qr": label_qr(label.pickup_code),
                    "shown": label.lines[:LABEL_LINES],
                    "more": max(0, len(label.lines) - LABEL_LINES),
                }
                for n, label in enumerate(labels(), start=1)
            ),
        }

    count = data.label_count(
        wave=wave, route_id=route.pk if route else None, point_id=point.pk if point else None
    )
    refusal = ""
    if count > LABELS_PER_PDF:
        refusal = _(
            "%(n)d labels are too many for one file (at most %(max)d): print them per pickup "
            "point from the packing page."
        ) % {"n": count, "max": LABELS_PER_PDF}

    return Document(
        kind=LABELS,
        wave=wave,
        title=title,
        filename=f"labels-{_day(wave.delivery_date)}{_scope_name(route, point)}",
        headers=headers,
        rows=rows,
        template="logistics/pdf/labels.html",
        pdf_chunk_key="labels",
        context=context,
        pdf_refusal=refusal,
    )


# --- run sheets -------------------------------------------------------------------------


def run_sheet_document(*, wave: Wave, run_id: int | None) -> Document:
    run = (
        DeliveryRun.objects.filter(pk=run_id, wave=wave)
        .select_related("route", "vehicle", "driver", "wave__warehouse")
        .first()
        if run_id is not None
        else None
    )
    if run is None:
        raise DocumentError(_("No such delivery run in this wave."))
    with translation.override(DOCUMENT_LANGUAGE):
        title = f"{pgettext('warehouse', 'Run sheet')} · {run.route.code} {run.route.name}"
        headers = [
            pgettext("warehouse", "Stop"),
            pgettext("warehouse", "Pickup point"),
            pgettext("warehouse", "Address"),
            pgettext("warehouse", "Contact"),
            pgettext("warehouse", "Phone"),
            pgettext("warehouse", "Orders"),
            pgettext("warehouse", "Crates"),
            pgettext("warehouse", "Weight (kg)"),
            pgettext("warehouse", "Planned arrival"),
            pgettext("warehouse", "Due by"),
            pgettext("warehouse", "Uncollected goods to take back"),
        ]

    def _time(value) -> str:
        from tuangou.timeutils import to_local

        return f"{to_local(value):%H:%M}" if value else ""

    def rows() -> Iterator[list]:
        for s in data.run_stops(run=run):
            yield [
                s.position,
                s.point_name,
                s.address,
                s.contact,
                s.phone,
                s.order_count,
                s.crates,
                s.weight_kg,
                _time(s.planned_arrival),
                _time(s.due_at),
                s.returns,
            ]

    def context() -> dict:
        stops = data.run_stops(run=run)
        return {
            **_wave_meta(wave),
            "run": run,
            "stops": stops,
            "orders": sum(s.order_count for s in stops),
            "crates": sum(s.crates for s in stops),
            "weight_kg": data.kilograms(run.weight_grams),
        }

    return Document(
        kind=RUN_SHEET,
        wave=wave,
        title=title,
        filename=f"runsheet-{_day(wave.delivery_date)}-{run.route.code}",
        headers=headers,
        rows=rows,
        template="logistics/pdf/runsheet.html",
        context=context,
    )


def document_for(
    *,
    wave: Wave,
    kind: str,
    storage_class: str | None = None,
    route_id: int | None = None,
    point_id: int | None = None,
    run_id: int | None = None,
) -> Document:
    """The document a download link names (a DocumentError for a bad scope)."""
    if kind == PICKING:
        return picking_document(wave=wave, storage_class=storage_class)
    if kind == PACKING:
        return packing_document(wave=wave, route_id=route_id, point_id=point_id)
    if kind == LABELS:
        return labels_document(wave=wave, route_id=route_id, point_id=point_id)
    if kind == RUN_SHEET:
        return run_sheet_document(wave=wave, run_id=run_id)
    raise DocumentError(_("Unknown document."))
