"""Reads for the purchasing pages and exports: purchase orders with their totals, one
purchase order with its lines, receipts and shortage cuts. No writes here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Prefetch, Sum, Value
from django.db.models.functions import Coalesce

from tuangou.money import ZERO

from .models import PurchaseOrder, PurchaseOrderLine, PurchaseStatus, ShortageCut, Wave
from .services.purchasing import PurchaseProblem, purchase_plan

_LINE_COST = ExpressionWrapper(
    F("lines__quantity") * F("lines__unit_cost"),
    output_field=DecimalField(max_digits=14, decimal_places=2),
)


def purchase_orders(
    *,
    day: date | None = None,
    status: str = "",
    supplier_id: int | None = None,
    warehouse_id: int | None = None,
):
    """Purchase orders, newest delivery date first, with line count and cost total."""
    qs = PurchaseOrder.objects.select_related("supplier", "warehouse")
    if day is not None:
        qs = qs.filter(delivery_date=day)
    if status:
        qs = qs.filter(status=status)
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    return qs.annotate(
        line_count=Count("lines"),
        total_cost=Coalesce(Sum(_LINE_COST), Value(ZERO), output_field=DecimalField()),
    ).order_by("-delivery_date", "supplier__name", "pk")


@dataclass
class PurchaseLineRow:
    line: PurchaseOrderLine
    cases: int
    subtotal: Decimal
    has_cost: bool
    cut_units: int


@dataclass
class PurchaseOrderPage:
    purchase_order: PurchaseOrder
    rows: list[PurchaseLineRow]
    total: Decimal
    cuts: list[ShortageCut] = field(default_factory=list)

    @property
    def pending_rows(self) -> list[PurchaseLineRow]:
        return [r for r in self.rows if r.line.received_quantity is None]


def purchase_order_by_number(*, number: str) -> PurchaseOrder | None:
    return (
        PurchaseOrder.objects.select_related("supplier", "warehouse", "wave")
        .filter(number=number)
        .first()
    )


def purchase_order_page(*, purchase_order: PurchaseOrder) -> PurchaseOrderPage:
    """The lines (SKU and product joined), their cuts and the cuts' refunds (3 queries)."""
    lines = list(
        purchase_order.lines.select_related("sku__product", "cut").order_by(
            "sku__product__name", "sku__spec", "pk"
        )
    )
    rows = []
    for line in lines:
        pack = max(line.sku.case_pack, 1)
        cut = getattr(line, "cut", None)
        rows.append(
            PurchaseLineRow(
                line=line,
                cases=-(-line.quantity // pack),
                subtotal=line.quantity * line.unit_cost,
                has_cost=line.sku.cost_price is not None,
                cut_units=cut.units if cut is not None else 0,
            )
        )
    cuts = list(
        ShortageCut.objects.filter(purchase_order_line__purchase_order=purchase_order)
        .select_related("purchase_order_line__sku__product")
        .prefetch_related(
            Prefetch(
                "refunds",
                queryset=_refunds_queryset(),
            )
        )
        .order_by("pk")
    )
    total = sum((r.subtotal for r in rows), ZERO)
    return PurchaseOrderPage(purchase_order=purchase_order, rows=rows, total=total, cuts=cuts)


def _refunds_queryset():
    from orders.models import Refund

    return Refund.objects.select_related("order").order_by("order__number", "pk")


@dataclass
class WavePurchasing:
    wave: Wave
    problems: list[PurchaseProblem]


def waves_with_problems(*, day: date, warehouse_id: int | None = None) -> list[WavePurchasing]:
    """The day's waves and what their purchasing needs by hand (two queries per wave)."""
    waves = Wave.objects.filter(delivery_date=day).select_related("warehouse").order_by("pk")
    if warehouse_id:
        waves = waves.filter(warehouse_id=warehouse_id)
    return [WavePurchasing(wave=w, problems=purchase_plan(wave=w).problems) for w in waves]


STATUS_CHOICES = PurchaseStatus.choices
