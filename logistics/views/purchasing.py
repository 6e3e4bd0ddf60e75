"""Logistics pages: purchasing (采购). Purchase orders by day and status, one purchase
order with its lines, send / cancel / receive buttons, the shortage cuts and their
refunds, and the supplier's copy as CSV or Excel. Thin: parse input, call a
selector or a service, render.

Who: staff with logistics.view_purchaseorder (the warehouse role, operators);
the buttons need logistics.change_purchaseorder. Anyone else gets 403
(anonymous: the staff login page). Bad input is a page with the reason (or a
404 for an unknown number), never a 500, and a refused action writes nothing.
"""

from __future__ import annotations

import csv
import functools
import io
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tuangou.statemachine import IllegalTransition
from tuangou.timeutils import local_today

from .. import selectors_purchasing as selectors
from ..forms_purchasing import CancelForm, PurchaseOrderFilterForm, ReceiveForm, line_field_name
from ..models import PurchaseOrder, PurchaseStatus, Wave
from ..services import purchasing

VIEW_PERMISSION = "logistics.view_purchaseorder"
CHANGE_PERMISSION = "logistics.change_purchaseorder"
PAGE_SIZE = 50


def purchasing_staff_required(view):
    """Staff who may view purchase orders (or superusers); anyone else is refused."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not (request.user.is_staff and request.user.has_perm(VIEW_PERMISSION)):
            raise PermissionDenied("purchasing staff only")
        return view(request, *args, **kwargs)

    return wrapper


def _require_change(request: HttpRequest) -> None:
    if not request.user.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied(CHANGE_PERMISSION)


def _get_purchase_order(number: str) -> PurchaseOrder:
    po = selectors.purchase_order_by_number(number=number)
    if po is None:
        raise Http404("no such purchase order")
    return po


# --- pages ----------------------------------------------------------------------------


@purchasing_staff_required
@require_GET
def purchase_orders(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if "date" not in params:
        params["date"] = _default_day().isoformat()
    form = PurchaseOrderFilterForm(params)
    orders, waves, day = [], [], None
    if form.is_valid():
        day = form.cleaned_data["date"]
        supplier = form.cleaned_data["supplier"]
        warehouse = form.cleaned_data["warehouse"]
        qs = selectors.purchase_orders(
            day=day,
            status=form.cleaned_data["status"],
            supplier_id=supplier.pk if supplier else None,
            warehouse_id=warehouse.pk if warehouse else None,
        )
        orders = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        if day is not None:
            waves = selectors.waves_with_problems(
                day=day, warehouse_id=warehouse.pk if warehouse else None
            )
    return render(
        request,
        "logistics/purchasing/list.html",
        {
            "form": form,
            "orders": orders,
            "waves": waves,
            "day": day,
            "statuses": PurchaseStatus.choices,
            "current_status": params.get("status", ""),
            "can_change": request.user.has_perm(CHANGE_PERMISSION),
            "query_without_status": _query_without(params, "status"),
            "query": _query_without(params, "page"),
        },
    )


def _default_day():
    """Today while today's goods are still being received (the night after the
    cutoff), else tomorrow (Shanghai). "date=" in the URL shows every day."""
    today = local_today()
    receiving = PurchaseOrder.objects.filter(
        delivery_date=today,
        status__in=[PurchaseStatus.SENT, PurchaseStatus.PARTLY_RECEIVED],
    ).exists()
    return today if receiving else today + timedelta(days=1)


def _query_without(params, name: str) -> str:
    rest = params.copy()
    rest.pop(name, None)
    rest.pop("page", None)
    return rest.urlencode()


def _detail_context(request: HttpRequest, po: PurchaseOrder, *, form=None) -> dict:
    page = selectors.purchase_order_page(purchase_order=po)
    can_change = request.user.has_perm(CHANGE_PERMISSION)
    receiving = po.status in (PurchaseStatus.SENT, PurchaseStatus.PARTLY_RECEIVED)
    if form is None and receiving:
        form = ReceiveForm(lines=[r.line for r in page.rows])
    rows = []
    for row in page.rows:
        pending = form is not None and row.line.received_quantity is None
        field = form[line_field_name(row.line)] if pending else None
        rows.append((row, field))
    return {
        "po": po,
        "page": page,
        "rows": rows,
        "form": form,
        "can_change": can_change,
        "can_send": can_change and po.status == PurchaseStatus.DRAFT,
        "can_cancel": can_change and po.status in (PurchaseStatus.DRAFT, PurchaseStatus.SENT),
        "can_receive": can_change and receiving and bool(page.pending_rows),
        "cancel_form": CancelForm(),
    }


@purchasing_staff_required
@require_GET
def purchase_order(request: HttpRequest, number: str) -> HttpResponse:
    po = _get_purchase_order(number)
    return render(request, "logistics/purchasing/detail.html", _detail_context(request, po))


# --- actions --------------------------------------------------------------------------


@purchasing_staff_required
@require_POST
def send(request: HttpRequest, number: str) -> HttpResponse:
    _require_change(request)
    po = _get_purchase_order(number)
    try:
        po = purchasing.send_purchase_order(purchase_order=po, actor=request.user)
    except (purchasing.PurchasingError, IllegalTransition) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Purchase order %(number)s was sent.") % {"number": po.number})
    return redirect("logistics:purchase_order", number=po.number)


@purchasing_staff_required
@require_POST
def cancel(request: HttpRequest, number: str) -> HttpResponse:
    _require_change(request)
    po = _get_purchase_order(number)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The reason is too long (at most 100 characters)."))
        return redirect("logistics:purchase_order", number=po.number)
    try:
        po = purchasing.cancel_purchase_order(
            purchase_order=po, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except (purchasing.PurchasingError, IllegalTransition) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Purchase order %(number)s was cancelled.") % {"number": po.number}
        )
    return redirect("logistics:purchase_order", number=po.number)


@purchasing_staff_required
@require_POST
def receive(request: HttpRequest, number: str) -> HttpResponse:
    _require_change(request)
    po = _get_purchase_order(number)
    page = selectors.purchase_order_page(purchase_order=po)
    form = ReceiveForm(request.POST, lines=[r.line for r in page.rows])
    if form.is_valid():
        try:
            result = purchasing.receive_purchase_order(
                purchase_order=po, received=form.received(), actor=request.user
            )
        except (purchasing.PurchasingError, IllegalTransition) as exc:
            form.add_error(None, exc.message)
        else:
            _tell_received(request, result)
            return redirect("logistics:purchase_order", number=po.number)
    elif not form.lines:
        # Nothing left to receive (received meanwhile, or a second click).
        messages.info(request, _("Everything on this purchase order is already received."))
        return redirect("logistics:purchase_order", number=po.number)
    context = _detail_context(request, po, form=form)
    return render(request, "logistics/purchasing/detail.html", context, status=400)


def _tell_received(request: HttpRequest, result: purchasing.ReceivingResult) -> None:
    if result.already_done:
        messages.info(request, _("This receiving was already recorded: nothing changed."))
        return
    units = sum(result.received.values())
    if not result.cuts:
        messages.success(request, _("Received %(units)d units.") % {"units": units})
        return
    cut = sum(c.cut.units for c in result.cuts)
    orders = len({line.order_id for c in result.cuts for line in c.lines})
    messages.warning(
        request,
        _(
            "Received %(units)d units. Short: %(cut)d units cut from %(orders)d orders, "
            "¥%(amount)s refunded."
        )
        % {"units": units, "cut": cut, "orders": orders, "amount": result.refunded_total},
    )


@purchasing_staff_required
@require_POST
def redraft(request: HttpRequest, wave_id: int) -> HttpResponse:
    """Draft the wave's purchase orders again (after a cancel, a new cost price, …)."""
    _require_change(request)
    wave = Wave.objects.filter(pk=wave_id).first()
    if wave is None:
        raise Http404("no such wave")
    drafts = purchasing.draft_purchase_orders(wave=wave)
    messages.success(
        request,
        _("%(n)d draft purchase orders are up to date for %(day)s.")
        % {"n": len(drafts), "day": f"{wave.delivery_date:%Y-%m-%d}"},
    )
    return redirect(
        f"{reverse('logistics:purchase_orders')}?date={wave.delivery_date.isoformat()}&warehouse={wave.warehouse_id}"
    )


# --- the supplier's copy --------------------------------------------------------------


def _sheet(po: PurchaseOrder) -> tuple[list[str], list[list], list]:
    """Header, rows and the total line of the supplier's copy (no demand or stock)."""
    page = selectors.purchase_order_page(purchase_order=po)
    header = [
        _("Product"),
        _("Spec"),
        _("Barcode"),
        _("Units per case"),
        _("Cases"),
        _("Units"),
        _("Unit cost (¥)"),
        _("Amount (¥)"),
    ]
    rows = [
        [
            r.line.sku.product.name,
            r.line.sku.spec,
            r.line.sku.barcode,
            r.line.sku.case_pack,
            r.cases,
            r.line.quantity,
            r.line.unit_cost,
            r.subtotal,
        ]
        for r in page.rows
    ]
    total = [_("Total"), "", "", "", "", sum(r.line.quantity for r in page.rows), "", page.total]
    return header, rows, total


def _title_lines(po: PurchaseOrder) -> list[list[str]]:
    return [
        [_("Purchase order"), po.number],
        [_("Supplier"), po.supplier.name],
        [_("Deliver to"), f"{po.warehouse.name} {po.warehouse.address}"],
        [_("Delivery date"), f"{po.delivery_date:%Y-%m-%d}"],
        [_("Status"), po.get_status_display()],
    ]


@purchasing_staff_required
@require_GET
def export(request: HttpRequest, number: str, fmt: str) -> HttpResponse:
    po = _get_purchase_order(number)
    header, rows, total = _sheet(po)
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens a UTF-8 CSV with Chinese only with a BOM
        writer = csv.writer(buffer)
        writer.writerows(_safe(line) for line in _title_lines(po))
        writer.writerow([])
        writer.writerow(header)
        writer.writerows(_safe(row) for row in rows)
        writer.writerow(total)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    elif fmt == "pdf":
        response = HttpResponse(_pdf(po), content_type="application/pdf")
    elif fmt == "xlsx":
        response = HttpResponse(
            _xlsx(po, header, rows, total),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise Http404("unknown format")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{po.number}.{fmt}"
    )
    return response


def _safe(row) -> list:
    """Cells that start like a formula are quoted (names are typed by people)."""
    from ..documents.render import safe_cell

    return [safe_cell(value) for value in row]


def _pdf(po: PurchaseOrder) -> bytes:
    """The supplier's copy on A4 (WeasyPrint, Noto Sans CJK), in Chinese."""
    from django.template.loader import render_to_string
    from django.utils import timezone, translation
    from weasyprint import HTML

    from ..documents.build import DOCUMENT_LANGUAGE

    with translation.override(DOCUMENT_LANGUAGE):
        header, rows, total = _sheet(po)
        html = render_to_string(
            "logistics/purchasing/pdf.html",
            {
                "doc": {"title": f"{_('Purchase order')} {po.number}"},
                "po": po,
                "delivery_date": po.delivery_date,
                "printed_at": timezone.now(),
                "header": header,
                "rows": rows,
                "total": total,
            },
        )
    return HTML(string=html).write_pdf()


def _xlsx(po: PurchaseOrder, header, rows, total) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = po.number[:31]
    for line in _title_lines(po):
        sheet.append(_safe(line))
    sheet.append([])
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(_safe(row))
        for cell in sheet[sheet.max_row][6:8]:
            cell.number_format = "0.00"
    sheet.append(total)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet[sheet.max_row][7].number_format = "0.00"
    for column, width in zip("ABCDEFGH", (18, 12, 16, 10, 8, 8, 12, 12), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
