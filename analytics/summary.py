"""The operators' daily summary: yesterday's GMV, orders, refunds, top products
and late deliveries, as a PDF (WeasyPrint, Noto Sans CJK SC) mailed at 08:00
Shanghai to every active operator with an email address.

    build_daily_summary(*, day) -> DailySummary      (reads the facts: 6 queries)
    render_summary_pdf(*, summary) -> bytes
    send_daily_summary(*, day=None) -> int            (mails sent; once per day)

The numbers come from the daily facts (analytics.models), which the nightly
job (03:30) has filled for the day before; nothing here scans orders. A day is
the Shanghai day an order was paid (the facts' rule). The mail is sent once
per day: a Redis key taken with cache.add marks the day (a second delivery of
the task sends nothing); a failed send gives the key back so a retry can send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.db.models import Count, Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation

from tuangou.accounts.roles import OPERATORS
from tuangou.money import ZERO, to_money
from tuangou.timeutils import local_today

from .models import DeliveryRunFact, OrderDayFact, ProductDayFact

logger = logging.getLogger(__name__)
logging.getLogger("fontTools").setLevel(logging.WARNING)

SUMMARY_LANGUAGE = "zh-hans"
TOP_PRODUCTS = 10
SENT_KEY = "analytics:daily-summary-sent:{day}"
SENT_KEEP_SECONDS = 8 * 24 * 3600


@dataclass(frozen=True)
class ProductLine:
    product_id: int
    name: str
    units: int
    gmv: Decimal
    refunds: Decimal


@dataclass(frozen=True)
class LateRun:
    route: str
    driver: str
    stops: int
    late: int
    late_minutes: int
    max_late_minutes: int


@dataclass(frozen=True)
class DayTotals:
    orders: int = 0
    refunded_orders: int = 0
    gmv: Decimal = ZERO
    discounts: Decimal = ZERO
    paid: Decimal = ZERO
    refunds: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.paid - self.refunds

    @property
    def average_order(self) -> Decimal | None:
        return to_money(self.paid / self.orders) if self.orders else None


@dataclass(frozen=True)
class DailySummary:
    day: date
    totals: DayTotals
    last_week: DayTotals  # the same weekday a week before
    top_products: list[ProductLine] = field(default_factory=list)
    late_runs: list[LateRun] = field(default_factory=list)
    runs: int = 0
    measured: int = 0
    on_time: int = 0

    @property
    def gmv_change(self) -> Decimal | None:
        """GMV against the same weekday last week, in percent (one decimal)."""
        if not self.last_week.gmv:
            return None
        change = (self.totals.gmv - self.last_week.gmv) * 100 / self.last_week.gmv
        return change.quantize(Decimal("0.1"))

    @property
    def on_time_rate(self) -> Decimal | None:
        if not self.measured:
            return None
        return (Decimal(self.on_time) * 100 / self.measured).quantize(Decimal("0.1"))

    @property
    def late_stops(self) -> int:
        return sum(run.late for run in self.late_runs)


def _totals(day: date) -> DayTotals:
    row = OrderDayFact.objects.filter(day=day).aggregate(
        orders=Sum("orders"),
        refunded_orders=Sum("refunded_orders"),
        gmv=Sum("gmv"),
        discounts=Sum("discounts"),
        paid=Sum("paid"),
        refunds=Sum("refunds"),
    )
    return DayTotals(**{k: v for k, v in row.items() if v is not None})


def build_daily_summary(*, day: date) -> DailySummary:
    """One day's numbers from the facts (6 queries, whatever the day's size)."""
    from catalog.models import Product
    from logistics.models import Driver, Route

    # The product roll-up: a few hundred rows a day, not SalesFact's many.
    products = list(
        ProductDayFact.objects.filter(day=day)
        .values("product_id", "units", "gmv", "refunds")
        .order_by("-gmv", "-units", "product_id")[:TOP_PRODUCTS]
    )
    names = dict(
        Product.objects.filter(pk__in=[p["product_id"] for p in products]).values_list("pk", "name")
    )
    runs = list(
        DeliveryRunFact.objects.filter(day=day)
        .annotate(
            route_code=_subquery_value(Route, "route_id", "code"),
            route_name=_subquery_value(Route, "route_id", "name"),
            driver_name=_subquery_value(Driver, "driver_id", "name"),
        )
        .order_by("-late", "-max_late_minutes", "route_id")
    )
    day_runs = DeliveryRunFact.objects.filter(day=day).aggregate(
        runs=Count("pk"), measured=Sum("measured"), on_time=Sum("on_time"), most=Max("late")
    )
    return DailySummary(
        day=day,
        totals=_totals(day),
        last_week=_totals(day - timedelta(days=7)),
        top_products=[
            ProductLine(
                product_id=p["product_id"],
                name=names.get(p["product_id"], f"#{p['product_id']}"),
                units=p["units"],
                gmv=p["gmv"],
                refunds=p["refunds"],
            )
            for p in products
        ],
        late_runs=[
            LateRun(
                route=f"{r.route_code or ''} {r.route_name or ''}".strip() or f"#{r.route_id}",
                driver=r.driver_name or "",
                stops=r.stops,
                late=r.late,
                late_minutes=r.late_minutes,
                max_late_minutes=r.max_late_minutes,
            )
            for r in runs
            if r.late
        ],
        runs=day_runs["runs"] or 0,
        measured=day_runs["measured"] or 0,
        on_time=day_runs["on_time"] or 0,
    )


def _subquery_value(model, key: str, column: str):
    from django.db.models import OuterRef, Subquery

    return Subquery(model.objects.filter(pk=OuterRef(key)).values(column)[:1])


def render_summary_html(*, summary: DailySummary) -> str:
    with translation.override(SUMMARY_LANGUAGE):
        return render_to_string(
            "analytics/pdf/daily_summary.html",
            {"s": summary, "printed_at": timezone.now()},
        )


def render_summary_pdf(*, summary: DailySummary) -> bytes:
    from weasyprint import HTML

    return HTML(string=render_summary_html(summary=summary)).write_pdf()


def summary_recipients() -> list[str]:
    """Active operators with an email address (each once)."""
    users = (
        get_user_model().objects.filter(Q(groups__name=OPERATORS), is_active=True).exclude(email="")
    )
    return sorted(set(users.values_list("email", flat=True)))


def send_daily_summary(*, day: date | None = None) -> int:
    """Mail the day's summary (yesterday by default) to operators, once per day.

    Returns the number of mails sent (0 when already sent or nobody to send to).
    """
    day = day or local_today() - timedelta(days=1)
    recipients = summary_recipients()
    if not recipients:
        logger.info("daily summary %s: no operator has an email address", day)
        return 0
    key = SENT_KEY.format(day=day.isoformat())
    if not cache.add(key, timezone.now().isoformat(), SENT_KEEP_SECONDS):
        return 0
    try:
        summary = build_daily_summary(day=day)
        pdf = render_summary_pdf(summary=summary)
        context = {"s": summary}
        with translation.override(SUMMARY_LANGUAGE):
            subject = " ".join(
                render_to_string("analytics/email/daily_summary-subject.txt", context).split()
            )
            body = render_to_string("analytics/email/daily_summary-body.txt", context)
        filename = f"daily-summary-{day.isoformat()}.pdf"
        messages = []
        for address in recipients:
            message = EmailMessage(subject=subject, body=body, to=[address])
            message.attach(filename, pdf, "application/pdf")
            messages.append(message)
        sent = get_connection().send_messages(messages) or 0
    except Exception:
        cache.delete(key)  # a retry may send it
        raise
    logger.info("daily summary %s mailed to %d operator(s)", day, sent)
    return sent
