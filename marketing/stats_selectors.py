"""Campaign statistics: per coupon template, flash session and 满减 promotion.

    campaign_stats(*, limit=50) -> CampaignStats   # exactly 4 queries, pinned

What each column means (the same for every kind of campaign where it applies):

- issued: coupons given out (any channel) · flash: units on offer (Σ quota)
- claimed: coupons the shopper took in the 领券中心 · flash: units sold (Σ sold)
- used: coupons used by a paid order · flash: shoppers who bought · 满减:
  orders that got it
- discount cost: Σ of the amounts frozen on order lines (OrderLine.discounts,
  kind "coupon" with the coupon code as ref, "flash_sale" with the session
  id, "promotion" with the promotion id), over orders that were paid
  (neither unpaid nor cancelled). Gross: a later refund gives the apportioned
  share back to the shopper, the platform's cost stays what was granted.
- GMV: Σ payable of those orders, each order counted once per campaign.
- new shoppers won: those orders that were their shopper's first paid order.

Marketing sits below orders: the orders tables are read by name through the
app registry in one SQL statement, never by importing orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from tuangou.money import ZERO, to_money

from .models import (
    Coupon,
    CouponChannel,
    CouponStatus,
    CouponTemplate,
    FlashPurchase,
    FlashSale,
    FlashSaleItem,
    Promotion,
)

COUPON, FLASH, PROMOTION = "coupon", "flash_sale", "promotion"
CLOSED_STATUSES = ("pending_payment", "cancelled")


@dataclass
class CampaignRow:
    kind: str  # COUPON, FLASH, PROMOTION
    pk: int
    name: str
    issued: int | None = None
    claimed: int | None = None
    used: int = 0
    discount_cost: Decimal = ZERO
    gmv: Decimal = ZERO
    orders: int = 0
    new_shoppers: int = 0
    is_active: bool = True

    @property
    def anchor(self) -> str:
        return f"{self.kind}-{self.pk}"

    @property
    def cost_ratio(self) -> Decimal | None:
        """Discount cost per ¥ of GMV, in percent."""
        if not self.gmv:
            return None
        return to_money(self.discount_cost * 100 / self.gmv)


@dataclass
class CampaignStats:
    coupons: list[CampaignRow] = field(default_factory=list)
    flash_sales: list[CampaignRow] = field(default_factory=list)
    promotions: list[CampaignRow] = field(default_factory=list)

    @property
    def rows(self) -> list[CampaignRow]:
        return [*self.coupons, *self.flash_sales, *self.promotions]

    def chart(self) -> dict:
        """What the page's ECharts bar chart draws: cost and GMV per campaign."""
        rows = [r for r in self.rows if r.orders]
        return {
            "labels": [r.name for r in rows],
            "kinds": [r.kind for r in rows],
            "cost": [str(r.discount_cost) for r in rows],
            "gmv": [str(r.gmv) for r in rows],
        }

    def row(self, kind: str, pk: int) -> CampaignRow | None:
        return next((r for r in self.rows if r.kind == kind and r.pk == pk), None)


# One statement: every discount part of paid orders, summed per order and
# campaign first (an order with two lines of one coupon counts once), then per
# campaign. Coupon parts are keyed by their coupon's template.
DISCOUNTS_SQL = """
WITH parts AS (
    SELECT l.order_id,
           p->>'kind' AS kind,
           CASE WHEN p->>'kind' = 'coupon' THEN c.template_id::text ELSE p->>'ref' END AS ref,
           SUM((p->>'amount')::numeric) AS amount
    FROM {line} l
    JOIN {order} o ON o.id = l.order_id
    CROSS JOIN LATERAL jsonb_array_elements(l.discounts) AS p
    LEFT JOIN {coupon} c ON p->>'kind' = 'coupon' AND c.code = p->>'ref'
    WHERE o.status <> ALL(%s) AND p->>'kind' = ANY(%s)
    GROUP BY l.order_id, 2, 3
)
SELECT parts.kind, parts.ref, SUM(parts.amount), COUNT(*), SUM(o.payable),
       COUNT(*) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM {order} earlier
           WHERE earlier.user_id = o.user_id AND earlier.status <> ALL(%s)
             AND (earlier.created_at, earlier.id) < (o.created_at, o.id)))
FROM parts JOIN {order} o ON o.id = parts.order_id
GROUP BY parts.kind, parts.ref
"""


def _discount_totals() -> dict[tuple[str, str], tuple[Decimal, int, Decimal, int]]:
    Order = apps.get_model("orders", "Order")
    OrderLine = apps.get_model("orders", "OrderLine")
    sql = DISCOUNTS_SQL.format(
        line=OrderLine._meta.db_table, order=Order._meta.db_table, coupon=Coupon._meta.db_table
    )
    closed = list(CLOSED_STATUSES)
    with connection.cursor() as cursor:
        cursor.execute(sql, [closed, [COUPON, FLASH, PROMOTION], closed])
        return {
            (kind, ref): (to_money(cost or 0), orders, to_money(gmv or 0), new)
            for kind, ref, cost, orders, gmv, new in cursor.fetchall()
        }


def _fill(row: CampaignRow, totals) -> CampaignRow:
    found = totals.get((row.kind, str(row.pk)))
    if found is not None:
        row.discount_cost, row.orders, row.gmv, row.new_shoppers = found
    return row


def campaign_stats(*, limit: int = 50) -> CampaignStats:
    """The newest `limit` campaigns of each kind with their numbers: 4 queries
    (templates with coupon counts, sessions with units and buyers, promotions,
    the discounts of paid orders)."""
    templates = CouponTemplate.objects.annotate(
        n_issued=Count("coupons"),
        n_claimed=Count("coupons", filter=Q(coupons__channel=CouponChannel.CLAIM_CENTRE)),
        n_used=Count("coupons", filter=Q(coupons__status=CouponStatus.USED)),
    ).order_by("-created_at", "-pk")[:limit]
    buyers = (
        FlashPurchase.objects.filter(item__sale=OuterRef("pk"))
        .order_by()
        .values("item__sale")
        .annotate(n=Count("user_id", distinct=True))
        .values("n")
    )
    units = (
        FlashSaleItem.objects.filter(sale=OuterRef("pk"))
        .order_by()
        .values("sale")
        .annotate(q=Sum("quota"), s=Sum("sold"))
    )
    sales = FlashSale.objects.annotate(
        n_quota=Coalesce(Subquery(units.values("q"), output_field=IntegerField()), 0),
        n_sold=Coalesce(Subquery(units.values("s"), output_field=IntegerField()), 0),
        n_buyers=Coalesce(Subquery(buyers, output_field=IntegerField()), 0),
    ).order_by("-starts_at", "-pk")[:limit]
    promotions = Promotion.objects.order_by("-starts_at", "-pk")[:limit]
    templates, sales, promotions = list(templates), list(sales), list(promotions)
    totals = _discount_totals()
    stats = CampaignStats()
    for t in templates:
        row = CampaignRow(COUPON, t.pk, t.name, t.n_issued, t.n_claimed, t.n_used)
        row.is_active = t.is_active
        stats.coupons.append(_fill(row, totals))
    for s in sales:
        row = CampaignRow(FLASH, s.pk, s.name, s.n_quota, s.n_sold, s.n_buyers)
        row.is_active = s.is_active
        stats.flash_sales.append(_fill(row, totals))
    for p in promotions:
        row = _fill(CampaignRow(PROMOTION, p.pk, p.name), totals)
        row.used = row.orders
        row.is_active = p.is_active
        stats.promotions.append(row)
    return stats
