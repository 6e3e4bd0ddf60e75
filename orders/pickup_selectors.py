"""Reads for the leader's order pages and the pickup counter (no writes here).

Every function takes the leader's own points: a page never reads another
leader's orders, codes or lines, because it never asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Exists, F, OuterRef, Prefetch, Subquery, Sum
from django.urls import reverse

from leaders.models import PickupPoint
from tuangou.timeutils import local_today

from .models import DeliverySignoff, Order, OrderLine, OrderStatus, PickupCode

# How far back the pickup counter looks for a code (a shopper may come late).
PICKUP_LOOKBACK_DAYS = 14
# The statuses a leader's day board shows (not unpaid, not cancelled).
BOARD_STATUSES = [
    OrderStatus.CONFIRMED,
    OrderStatus.IN_DELIVERY,
    OrderStatus.READY_FOR_PICKUP,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDED,
]
ARRIVING_STATUSES = [OrderStatus.CONFIRMED, OrderStatus.IN_DELIVERY]


def delivery_has_arrived(delivery_date: date) -> bool:
    """Whether a day's delivery can be signed for yet: on its day or later
    (Shanghai). The one rule sign_for_delivery enforces and the pages follow."""
    return delivery_date <= local_today()


def pickup_scan_path(*, code: str) -> str:
    """What a pickup code's QR code opens on the leader's phone."""
    return f"{reverse('orders:leader_pickup')}?code={code}"


def points_of_leader(*, leader) -> list[PickupPoint]:
    return list(PickupPoint.objects.filter(leader=leader).order_by("pk"))


def _lines_prefetch():
    return Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))


# --- the day board --------------------------------------------------------------------


@dataclass
class ShopperRow:
    user: object
    code: str = ""
    orders: list[Order] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(li.quantity - li.refunded_quantity for o in self.orders for li in o.lines.all())

    @property
    def outstanding(self) -> int:
        return sum(
            li.outstanding_quantity
            for o in self.orders
            if o.status == OrderStatus.READY_FOR_PICKUP
            for li in o.lines.all()
        )


@dataclass
class DayBoard:
    pickup_point: PickupPoint
    day: date
    shoppers: list[ShopperRow]
    signoff: DeliverySignoff | None
    counts: dict[str, int]

    @property
    def order_count(self) -> int:
        return sum(len(r.orders) for r in self.shoppers)

    @property
    def unit_count(self) -> int:
        return sum(r.units for r in self.shoppers)

    @property
    def arriving(self) -> int:
        """Orders still to be signed for (on the way, or confirmed)."""
        return sum(self.counts.get(status, 0) for status in ARRIVING_STATUSES)

    @property
    def can_sign(self) -> bool:
        return self.signoff is None and self.arriving > 0 and delivery_has_arrived(self.day)


def day_board(*, pickup_point: PickupPoint, day: date) -> DayBoard:
    """The day's orders at a point grouped by shopper (4 queries)."""
    orders = list(
        Order.objects.filter(
            pickup_point=pickup_point, delivery_date=day, status__in=BOARD_STATUSES
        )
        .select_related("user")
        .prefetch_related(_lines_prefetch())
        .order_by("user_id", "created_at", "pk")
    )
    codes = dict(
        PickupCode.objects.filter(pickup_point=pickup_point, delivery_date=day).values_list(
            "user_id", "code"
        )
    )
    rows: dict[int, ShopperRow] = {}
    counts: dict[str, int] = {}
    for order in orders:
        row = rows.setdefault(
            order.user_id, ShopperRow(user=order.user, code=codes.get(order.user_id, ""))
        )
        row.orders.append(order)
        counts[order.status] = counts.get(order.status, 0) + 1
    signoff = (
        DeliverySignoff.objects.select_related("signed_by")
        .filter(pickup_point=pickup_point, delivery_date=day)
        .first()
    )
    shoppers = sorted(rows.values(), key=lambda r: (r.outstanding == 0, r.code or "", r.user.pk))
    return DayBoard(
        pickup_point=pickup_point, day=day, shoppers=shoppers, signoff=signoff, counts=counts
    )


# --- the sign-off sheet ----------------------------------------------------------------


@dataclass(frozen=True)
class SkuCount:
    sku_id: int
    product_name: str
    spec: str
    units: int


def arriving_skus(*, pickup_point: PickupPoint, day: date) -> list[SkuCount]:
    """What the day's delivery should bring to the point, per SKU (one query)."""
    rows = (
        OrderLine.objects.filter(
            order__pickup_point=pickup_point,
            order__delivery_date=day,
            order__status__in=ARRIVING_STATUSES,
        )
        .values("sku_id", "product_name", "spec")
        .annotate(units=Sum(F("quantity") - F("refunded_quantity") - F("handed_out_quantity")))
        .order_by("product_name", "spec", "sku_id")
    )
    merged: dict[int, SkuCount] = {}
    for row in rows:
        if row["units"] <= 0:
            continue
        seen = merged.get(row["sku_id"])
        units = row["units"] + (seen.units if seen else 0)
        merged[row["sku_id"]] = SkuCount(row["sku_id"], row["product_name"], row["spec"], units)
    return list(merged.values())


def signoff_for(*, pickup_point: PickupPoint, day: date) -> DeliverySignoff | None:
    return (
        DeliverySignoff.objects.select_related("signed_by")
        .prefetch_related("shortages__sku__product")
        .filter(pickup_point=pickup_point, delivery_date=day)
        .first()
    )


# --- the pickup counter -----------------------------------------------------------------


@dataclass
class PickupMatch:
    code: PickupCode
    orders: list[Order]

    @property
    def user(self):
        return self.code.user

    @property
    def outstanding(self) -> int:
        return sum(
            li.outstanding_quantity
            for o in self.orders
            if o.status == OrderStatus.READY_FOR_PICKUP
            for li in o.lines.all()
        )

    @property
    def handed_out(self) -> int:
        return sum(li.handed_out_quantity for o in self.orders for li in o.lines.all())


def pickup_matches(
    *, points: list[PickupPoint], today: date, code: str = "", last4: str = ""
) -> list[PickupMatch]:
    """Shoppers at the leader's points by pickup code, or by the last 4 phone digits.

    By code: that code on any recent day (latest first), even when everything
    is handed out, so the counter shows what happened. By phone digits: only
    shoppers with goods still waiting.
    """
    since = today - timedelta(days=PICKUP_LOOKBACK_DAYS)
    qs = PickupCode.objects.filter(
        pickup_point__in=points, delivery_date__gte=since, delivery_date__lte=today
    ).select_related("user", "pickup_point")
    if code:
        qs = qs.filter(code=code)
    elif last4:
        waiting = Order.objects.filter(
            user=OuterRef("user"),
            pickup_point=OuterRef("pickup_point"),
            delivery_date=OuterRef("delivery_date"),
            status=OrderStatus.READY_FOR_PICKUP,
        )
        qs = qs.filter(user__phone__endswith=last4).filter(Exists(waiting))
    else:
        return []
    codes = list(qs.order_by("-delivery_date", "pk")[:20])
    if not codes:
        return []
    orders = (
        Order.objects.filter(
            pickup_point__in=[c.pickup_point_id for c in codes],
            user__in=[c.user_id for c in codes],
            delivery_date__in=[c.delivery_date for c in codes],
            status__in=[OrderStatus.READY_FOR_PICKUP, OrderStatus.COMPLETED],
        )
        .prefetch_related(_lines_prefetch())
        .order_by("created_at", "pk")
    )
    grouped: dict[tuple, list[Order]] = {}
    for order in orders:
        grouped.setdefault((order.user_id, order.pickup_point_id, order.delivery_date), []).append(
            order
        )
    return [
        PickupMatch(code=c, orders=grouped.get((c.user_id, c.pickup_point_id, c.delivery_date), []))
        for c in codes
    ]


def uncollected_orders(*, points: list[PickupPoint]) -> list[Order]:
    """Orders flagged uncollected and still waiting at the leader's points."""
    return list(
        Order.objects.filter(
            pickup_point__in=points,
            status=OrderStatus.READY_FOR_PICKUP,
            is_uncollected=True,
        )
        .select_related("user", "pickup_point")
        .annotate(
            pickup_code=Subquery(
                PickupCode.objects.filter(
                    user=OuterRef("user"),
                    pickup_point=OuterRef("pickup_point"),
                    delivery_date=OuterRef("delivery_date"),
                ).values("code")[:1]
            )
        )
        .prefetch_related(_lines_prefetch())
        .order_by("delivery_date", "pk")
    )
