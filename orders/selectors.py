"""Reads for the shopper's pages: cart, checkout preview, my orders, messages.

Every page runs a fixed number of queries whatever the number of orders or
lines (pinned by tests): orders come with their lines in one prefetch, a
cart with its SKUs, products, images and stock in four queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.cutoff import delivery_date_for
from catalog.models import ProductImage, Sku, StockRecord
from tuangou import timeutils
from tuangou.money import ZERO, to_money
from tuangou.timeutils import local_datetime, now, to_local

from .models import (
    AfterSaleClaim,
    CartLine,
    ClaimLine,
    ClaimStatus,
    Notice,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    PickupCode,
)
from .notices import render as render_notice
from .pricing import Item, OrderPrice, price_lines
from .services import cancellation
from .services.cancellation import CancelCheck, check_paid_cancel
from .services.checkout import Want

S = OrderStatus

# --- the order tabs ---------------------------------------------------------------

# (key, label, statuses); "aftersale" is by claims and refunds, not by status.
ORDER_TABS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("all", gettext_lazy("All"), ()),
    ("unpaid", gettext_lazy("To pay"), (S.PENDING_PAYMENT,)),
    ("group", gettext_lazy("Group forming"), (S.AWAITING_GROUP,)),
    (
        "pickup",
        gettext_lazy("To pick up"),
        (S.PAID, S.CONFIRMED, S.IN_DELIVERY, S.READY_FOR_PICKUP),
    ),
    ("done", gettext_lazy("Completed"), (S.COMPLETED,)),
    ("aftersale", gettext_lazy("After-sale"), ()),
)
TAB_KEYS = {key for key, _label, _statuses in ORDER_TABS}
ORDERS_PER_PAGE = 20


def _aftersale_q() -> Q:
    return Q(status=S.REFUNDED) | Q(refunded_amount__gt=0) | Q(has_claim=True)


def _tab_filter(tab: str) -> Q:
    if tab == "aftersale":
        return _aftersale_q()
    for key, _label, statuses in ORDER_TABS:
        if key == tab and statuses:
            return Q(status__in=statuses)
    return Q()


def _with_claim_flag(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.annotate(has_claim=Exists(AfterSaleClaim.objects.filter(order=OuterRef("pk"))))


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    count: int | None  # shown as a badge on the tabs that need action
    is_current: bool


# The tabs whose badge counts the orders the tab lists (waiting on the shopper
# or on the platform); "all", "done" and "aftersale" carry no badge.
BADGE_TABS = ("unpaid", "group", "pickup")


def order_counts(*, user) -> dict[str, int]:
    """{tab: how many orders that tab lists} for the badge tabs, in one query.

    Counted with the very filter the tab lists by (`_tab_filter`), so a badge
    never disagrees with its tab. Also used by 我的 for its order shortcuts.
    """
    if not getattr(user, "is_authenticated", False):
        return dict.fromkeys(BADGE_TABS, 0)
    return Order.objects.filter(user=user).aggregate(
        **{key: Count("pk", filter=_tab_filter(key)) for key in BADGE_TABS}
    )


def order_tabs(*, user, current: str) -> list[Tab]:
    """The status tabs with their badges (one query)."""
    counts = order_counts(user=user)
    return [
        Tab(key=key, label=str(label), count=counts.get(key) or None, is_current=key == current)
        for key, label, _statuses in ORDER_TABS
    ]


def orders_for_shopper(*, user, tab: str = "all", limit: int = ORDERS_PER_PAGE) -> list[Order]:
    """The shopper's recent orders on one tab, newest first, lines prefetched (2 queries)."""
    tab = tab if tab in TAB_KEYS else "all"
    orders = (
        _with_claim_flag(Order.objects.filter(user=user))
        .filter(_tab_filter(tab))
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
        .order_by("-created_at", "-pk")[:limit]
    )
    return list(orders)


def order_for_shopper(*, user, code: str) -> Order | None:
    """One of the shopper's own orders by its public code; None for anybody else's."""
    if not user.is_authenticated or not code:
        return None
    return Order.objects.filter(user=user, code=code).select_related("warehouse").first()


def order_for_paying(*, user, code: str) -> Order | None:
    """order_for_shopper, with what start_payment asks first (in the same query):
    `payment_tries` (how many payments the order has had) and
    `has_live_payment` (one still open)."""
    if not user.is_authenticated or not code:
        return None
    tries = (
        Payment.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Order.objects.filter(user=user, code=code)
        .select_related("warehouse")
        .annotate(
            payment_tries=Coalesce(Subquery(tries), 0),
            has_live_payment=Exists(
                Payment.objects.filter(order=OuterRef("pk"), status=PaymentStatus.CREATED)
            ),
        )
        .first()
    )


@dataclass
class OrderPage:
    """Everything the order detail page shows (a fixed number of queries)."""

    order: Order
    lines: list[OrderLine]
    events: list[OrderEvent]
    claims: list[AfterSaleClaim]
    pickup_code: str | None
    claimable: dict[int, int] = field(default_factory=dict)  # {line_id: quantity}

    @property
    def can_pay(self) -> bool:
        return self.order.status == S.PENDING_PAYMENT and self.order.pay_deadline > now()

    @property
    def can_cancel(self) -> bool:
        return self.order.status == S.PENDING_PAYMENT

    @property
    def can_claim(self) -> bool:
        return bool(self.claimable) and claim_window_open(self.order)

    @cached_property
    def paid_cancel(self) -> CancelCheck | None:
        """取消并退款: allowed, or why not (None for unpaid and closed orders,
        which show no such thing)."""
        check = check_paid_cancel(order=self.order, lines=self.lines)
        if check.code in {cancellation.UNPAID, cancellation.CLOSED}:
            return None
        return check

    @property
    def progress(self) -> list[ProgressStep]:
        """The order's way from placement to pickup: the steps passed (with
        their times), the one it is at, and those still to come (greyed on the
        page). A cancelled or refunded order ends at that step instead."""
        return order_progress(order=self.order, events=self.events)

    @property
    def timeline(self) -> list[dict]:
        """Status changes as the shopper reads them (placement first)."""
        steps = []
        for event in self.events:
            if event.from_status == event.to_status:
                label = _("Order placed")
            else:
                label = OrderStatus(event.to_status).label
            steps.append({"label": str(label), "at": event.created_at, "note": event.note})
        return steps


@dataclass(frozen=True)
class ProgressStep:
    key: str  # the order status the step stands for ("placed" for placement)
    label: str
    at: datetime | None  # when it was reached (None: not yet, or not recorded)
    state: str  # "done", "current" or "todo"


PLACED = "placed"
_WAY = (PLACED, S.PAID, S.CONFIRMED, S.IN_DELIVERY, S.READY_FOR_PICKUP, S.COMPLETED)
_GROUP_WAY = (*_WAY[:2], S.AWAITING_GROUP, *_WAY[2:])
_ENDS = (S.CANCELLED, S.REFUNDED)


def order_progress(*, order: Order, events: list[OrderEvent]) -> list[ProgressStep]:
    """See OrderPage.progress (no queries: the events are loaded)."""
    reached: dict[str, datetime] = {}
    for event in events:
        key = PLACED if event.from_status == event.to_status else event.to_status
        reached.setdefault(key, event.created_at)
    reached.setdefault(PLACED, order.created_at)
    way = _GROUP_WAY if order.kind == "group" else _WAY
    furthest = max((i for i, key in enumerate(way) if key in reached), default=0)
    if order.status in way:
        furthest = max(furthest, way.index(order.status))
    ended = order.status in _ENDS

    def label(key: str) -> str:
        return str(_("Order placed") if key == PLACED else OrderStatus(key).label)

    steps = []
    for i, key in enumerate(way):
        if ended and i > furthest:
            break
        if i < furthest or (ended and i == furthest):
            state = "done"
        elif i == furthest:
            state = "current"
        else:
            state = "todo"
        steps.append(ProgressStep(key=key, label=label(key), at=reached.get(key), state=state))
    if ended:
        steps.append(
            ProgressStep(
                key=order.status,
                label=label(order.status),
                at=reached.get(order.status) or order.closed_at,
                state="current",
            )
        )
    return steps


def claim_window_open(order: Order) -> bool:
    """After-sale claims are taken until the order's after-sale deadline (the
    same rule that keeps the leader's commission frozen)."""
    if order.status != S.COMPLETED or order.completed_at is None:
        return False
    return timeutils.now() < timeutils.after_sale_deadline(completed_at=order.completed_at)


def claimable_quantities(*, order: Order, lines: Iterable[OrderLine], claims) -> dict[int, int]:
    """What may still be claimed per line: picked up, not refunded, not in an open claim."""
    if order.status != S.COMPLETED:
        return {}
    pending: dict[int, int] = {}
    for claim in claims:
        if claim.status == ClaimStatus.OPEN:
            for claim_line in claim.lines.all():
                pending[claim_line.order_line_id] = (
                    pending.get(claim_line.order_line_id, 0) + claim_line.quantity
                )
    result = {}
    for line in lines:
        left = min(line.handed_out_quantity, line.quantity - line.refunded_quantity)
        left -= pending.get(line.pk, 0)
        if left > 0:
            result[line.pk] = left
    return result


def pickup_code_for(order: Order) -> str | None:
    """The shopper's pickup code for the order's point and day, once it is ready."""
    if order.status != S.READY_FOR_PICKUP:
        return None
    return (
        PickupCode.objects.filter(
            user_id=order.user_id,
            pickup_point_id=order.pickup_point_id,
            delivery_date=order.delivery_date,
        )
        .values_list("code", flat=True)
        .first()
    )


def order_page(*, order: Order) -> OrderPage:
    """The detail page of an order already checked to be the shopper's (4-5 queries)."""
    lines = list(order.lines.select_related("sku").order_by("pk"))
    events = list(order.events.order_by("created_at", "pk"))
    claims = list(
        order.claims.prefetch_related(
            Prefetch("lines", queryset=ClaimLine.objects.order_by("pk")), "photos"
        ).order_by("-created_at", "-pk")
    )
    page = OrderPage(
        order=order,
        lines=lines,
        events=events,
        claims=claims,
        pickup_code=pickup_code_for(order),
    )
    page.claimable = claimable_quantities(order=order, lines=lines, claims=claims)
    return page


# --- the cart and the checkout preview ---------------------------------------------------


@dataclass
class LineView:
    """One line of a cart or checkout, with what would stop it being ordered."""

    sku: Sku
    quantity: int
    available: int | None  # left for its delivery day; None without a warehouse
    delivery_date: date | None
    image: ProductImage | None = None
    problem: str = ""

    @property
    def name(self) -> str:
        return self.sku.product.name

    @property
    def unit_price(self) -> Decimal:
        return self.sku.price

    @property
    def line_total(self) -> Decimal:
        return to_money(self.sku.price * self.quantity)

    @property
    def max_quantity(self) -> int:
        limits = [999]
        if self.sku.per_order_limit:
            limits.append(self.sku.per_order_limit)
        if self.available is not None:
            limits.append(max(self.available, 0))
        return max(min(limits), 1)


@dataclass
class Basket:
    """A cart or a buy-now line, checked and priced on the server."""

    lines: list[LineView]
    pickup_point: object | None
    warehouse: object | None
    at: datetime
    price: OrderPrice | None = None

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def problems(self) -> list[str]:
        return [line.problem for line in self.lines if line.problem]

    @property
    def can_check_out(self) -> bool:
        return bool(self.lines) and self.pickup_point is not None and not self.problems

    @property
    def delivery_date(self) -> date | None:
        days = [line.delivery_date for line in self.lines if line.delivery_date]
        return max(days) if days else None

    @property
    def pickup_from(self) -> datetime | None:
        if self.warehouse is None or self.delivery_date is None:
            return None
        return local_datetime(self.delivery_date, self.warehouse.pickup_time)

    @property
    def pickup_text(self) -> str:
        """ "明天 10:00 后到自提点取货"."""
        start = self.pickup_from
        if start is None:
            return ""
        offset = (self.delivery_date - to_local(self.at).date()).days
        if offset == 1:
            day = _("tomorrow")
        elif offset == 2:
            day = _("the day after tomorrow")
        else:
            day = f"{self.delivery_date:%m-%d}"
        return _("Pick up at your pickup point after %(day)s %(time)s") % {
            "day": day,
            "time": f"{to_local(start):%H:%M}",
        }

    @property
    def goods_total(self) -> Decimal:
        return self.price.goods_total if self.price else ZERO

    @property
    def discount_total(self) -> Decimal:
        return self.price.discount_total if self.price else ZERO

    @property
    def payable(self) -> Decimal:
        return self.price.payable if self.price else ZERO

    @property
    def wants(self) -> list[Want]:
        return [Want(line.sku.pk, line.quantity) for line in self.lines]


def _warehouse_for(pickup_point):
    if pickup_point is not None and getattr(pickup_point, "warehouse", None) is not None:
        return pickup_point.warehouse
    from catalog.selectors import default_warehouse

    return default_warehouse()


def _check_lines(lines: list[LineView]) -> None:
    """Name what would stop each line (the same rules as place_order, gently)."""
    for line in lines:
        sku = line.sku
        if not sku.is_active or not sku.product.is_on_shelf:
            line.problem = _("%(name)s is no longer on sale.") % {"name": sku}
        elif sku.per_order_limit and line.quantity > sku.per_order_limit:
            line.problem = _("%(name)s is limited to %(limit)d per order.") % {
                "name": sku,
                "limit": sku.per_order_limit,
            }
        elif line.available is not None and line.available <= 0:
            line.problem = _("%(name)s is sold out.") % {"name": sku}
        elif line.available is not None and line.quantity > line.available:
            line.problem = _("Only %(left)d of %(name)s are left.") % {
                "left": line.available,
                "name": sku,
            }


def _basket(*, pairs: list[tuple[Sku, int]], pickup_point, at: datetime | None) -> Basket:
    at = at or now()
    warehouse = _warehouse_for(pickup_point)
    lines = []
    days: dict[int, date] = {}
    if warehouse is not None:
        days = {sku.pk: delivery_date_for(warehouse=warehouse, at=at, sku=sku) for sku, _q in pairs}
    stock: dict[tuple[int, date], int] = {}
    if warehouse is not None and pairs:
        rows = StockRecord.objects.filter(
            warehouse=warehouse,
            sku_id__in=[sku.pk for sku, _q in pairs],
            delivery_date__in=set(days.values()),
        ).values_list("sku_id", "delivery_date", "quantity", "held")
        # Units held for 拼团 campaigns are not for sale in the cart.
        stock = {(sku_id, day): quantity - held for sku_id, day, quantity, held in rows}
    for sku, quantity in pairs:
        images = getattr(sku.product, "cart_images", None) or []
        day = days.get(sku.pk)
        lines.append(
            LineView(
                sku=sku,
                quantity=quantity,
                available=stock.get((sku.pk, day), 0) if warehouse is not None else None,
                delivery_date=day,
                image=images[0] if images else None,
            )
        )
    _check_lines(lines)
    basket = Basket(lines=lines, pickup_point=pickup_point, warehouse=warehouse, at=at)
    sellable = [line for line in lines if line.sku.is_active and line.sku.product.is_on_shelf]
    basket.price = price_lines(
        [Item(sku_id=ln.sku.pk, quantity=ln.quantity, unit_price=ln.sku.price) for ln in sellable]
    )
    return basket


def _images() -> Prefetch:
    return Prefetch(
        "sku__product__images",
        queryset=ProductImage.objects.order_by("position", "pk"),
        to_attr="cart_images",
    )


def cart_for_shopper(*, user, pickup_point=None, at: datetime | None = None) -> Basket:
    """The cart, each line checked against limits and stock, priced (3 queries)."""
    cart_lines = list(
        CartLine.objects.filter(cart__user=user)
        .select_related("sku__product")
        .prefetch_related(_images())
        .order_by("added_at", "pk")
    )
    return _basket(
        pairs=[(line.sku, line.quantity) for line in cart_lines],
        pickup_point=pickup_point,
        at=at,
    )


def cart_lines_for_checkout(*, user) -> list[CartLine]:
    """The cart's lines with their SKU and product, for placing the order (1 query).

    No pictures and no stock: the order's stock UPDATE is the check that counts.
    """
    return list(
        CartLine.objects.filter(cart__user=user)
        .select_related("sku__product")
        .order_by("added_at", "pk")
    )


def buy_now_basket(*, sku: Sku, quantity: int, pickup_point=None, at=None) -> Basket:
    """A one-line basket for 立即购买 (nothing is written to the cart)."""
    return _basket(pairs=[(sku, quantity)], pickup_point=pickup_point, at=at)


def sku_for_purchase(*, code: str) -> Sku | None:
    """A SKU by its public code with its product and pictures.

    From the storefront cache (catalog.storefront_cache: every write to SKUs,
    products, pictures and the shelf replaces it after commit), so checkout
    and cart add read no SKU on the hot path; 2 queries when not cached.
    Price, shelf state and limits are what place_order checks; the stock it
    takes is its own conditional UPDATE, never this row.
    """
    from catalog import storefront_cache

    return storefront_cache.cached(f"sku:{code}", lambda: _sku_for_purchase(code))


def _sku_for_purchase(code: str) -> Sku | None:
    return (
        Sku.objects.filter(code=code)
        .select_related("product")
        .prefetch_related(
            Prefetch(
                "product__images",
                queryset=ProductImage.objects.order_by("position", "pk"),
                to_attr="cart_images",
            )
        )
        .first()
    )


def cart_count(*, user) -> int:
    """How many items are in the cart (for the badge)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    from django.db.models import Sum

    return CartLine.objects.filter(cart__user=user).aggregate(n=Sum("quantity"))["n"] or 0


# --- 我的消息 ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeView:
    notice: Notice
    title: str
    body: str
    order_code: str | None

    @property
    def is_unread(self) -> bool:
        return self.notice.read_at is None


NOTICES_PER_PAGE = 50


def notices_for(*, user, limit: int = NOTICES_PER_PAGE) -> list[NoticeView]:
    """The shopper's latest messages, rendered in the reader's language (1 query)."""
    notices = (
        Notice.objects.filter(user=user)
        .select_related("order")
        .order_by("-created_at", "-pk")[:limit]
    )
    views = []
    for notice in notices:
        title, body = render_notice(notice)
        views.append(
            NoticeView(
                notice=notice,
                title=title,
                body=body,
                order_code=notice.order.code if notice.order_id else None,
            )
        )
    return views


def unread_notice_count(*, user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notice.objects.filter(user=user, read_at__isnull=True).count()
