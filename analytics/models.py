"""Analytics: read models (daily facts) and report jobs.

The fact tables (added by the facts work) are small summaries filled by a
Celery beat job after each day closes, set-based and rebuildable for any date
range; reports read facts, never raw orders. A heavy report or export runs as
a ReportJob: a Celery task with progress, cancellable, whose file is private
and kept for a set time.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.private_files import PrivateName, private_storage

# The project's one status guard (re-exported: services import it from here).
from tuangou.statemachine import IllegalTransition, guard  # noqa: F401


def new_job_code() -> str:
    return secrets.token_urlsafe(12)


class JobStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("report job status", "Waiting")  # queued
    RUNNING = "running", pgettext_lazy("report job status", "Running")  # a worker has it
    DONE = "done", pgettext_lazy("report job status", "Ready")  # file ready to download
    FAILED = "failed", pgettext_lazy("report job status", "Failed")  # see error
    CANCELLED = "cancelled", pgettext_lazy("report job status", "Cancelled")  # by its owner
    EXPIRED = "expired", pgettext_lazy("report job status", "Expired")  # file deleted


JOB_TRANSITIONS = {
    JobStatus.PENDING: {JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED},
    JobStatus.RUNNING: {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED},
    JobStatus.DONE: {JobStatus.EXPIRED},
}


class ReportJob(models.Model):
    """One requested report or export, made by a worker, downloadable by its owner."""

    code = models.CharField(_("public code"), max_length=24, unique=True, default=new_job_code)
    kind = models.CharField(_("report"), max_length=40)  # a key of analytics' report registry
    file_format = models.CharField(_("format"), max_length=8)  # csv, xlsx, pdf
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.CASCADE,
        related_name="report_jobs",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(
        _("file"), storage=private_storage, upload_to=PrivateName("exports"), blank=True
    )
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True)

    class Meta:
        verbose_name = _("report job")
        verbose_name_plural = _("report jobs")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["requested_by", "-created_at"])]
        # Exports mask shoppers' phones (138****8000) unless the requester has this.
        permissions = [
            ("export_personal_data", _("Can export shoppers' personal data unmasked")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.code})"


# --- daily facts (read models) --------------------------------------------------------
#
# Filled by analytics.facts (set-based SQL, DELETE + INSERT … SELECT per date
# range in one transaction), never edited by hand. Dimension keys are foreign
# keys without database constraints or single-column indexes: a fact table is
# rebuilt wholesale, must not block deleting a test's rows, and is indexed for
# the report filters only (composite indexes below).
#
# Which day an order counts on: the day (Asia/Shanghai) it was PAID. Its later
# refunds count on that same day (net sales of that day's orders); the nightly
# job rebuilds a trailing window (settings.ANALYTICS_REFRESH_DAYS) so that late
# refunds, pickups and claims land.


def _dim(model: str, label, *, null: bool = False):
    return models.ForeignKey(
        model,
        verbose_name=label,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        null=null,
        blank=null,
    )


def _money(label):
    return models.DecimalField(label, max_digits=14, decimal_places=2, default=0)


class Fact(models.Model):
    """A row of a fact table (abstract): named by its table and its day."""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        when = getattr(self, "day", None) or getattr(self, "month", None)
        return (
            f"{self._meta.verbose_name} {when:%Y-%m-%d}" if when else str(self._meta.verbose_name)
        )


class SalesFact(Fact):
    """Sales of one SKU on one day at one pickup point (with its warehouse and community)."""

    day = models.DateField(_("day"))
    sku = _dim("catalog.Sku", _("SKU"))
    product = _dim("catalog.Product", _("product"))
    category = _dim("catalog.Category", _("category"))
    warehouse = _dim("catalog.Warehouse", _("warehouse"))
    community = _dim("leaders.Community", _("community"))
    pickup_point = _dim("leaders.PickupPoint", _("pickup point"))
    leader = _dim("leaders.Leader", _("leader"))
    orders = models.IntegerField(_("orders"), default=0)
    units = models.IntegerField(_("units"), default=0)
    gmv = _money(_("GMV"))  # goods at the group-buy price, before discounts
    discounts = _money(_("discounts"))
    paid = _money(_("paid"))
    refunds = _money(_("refunds"))
    refunded_units = models.IntegerField(_("refunded units"), default=0)
    shoppers = models.IntegerField(_("shoppers"), default=0)

    class Meta:
        verbose_name = _("sales fact")
        verbose_name_plural = _("sales facts")
        permissions = [("view_reports", _("Can view analytics reports"))]
        indexes = [
            models.Index(fields=["day", "warehouse"], name="an_sales_day_wh"),
            models.Index(fields=["day", "community"], name="an_sales_day_comm"),
            models.Index(fields=["product", "day"], name="an_sales_product_day"),
        ]


class OrderDayFact(Fact):
    """Orders of one day at one pickup point: the order-level totals (AOV, order counts)."""

    day = models.DateField(_("day"))
    warehouse = _dim("catalog.Warehouse", _("warehouse"))
    community = _dim("leaders.Community", _("community"))
    pickup_point = _dim("leaders.PickupPoint", _("pickup point"))
    leader = _dim("leaders.Leader", _("leader"))
    orders = models.IntegerField(_("orders"), default=0)
    group_orders = models.IntegerField(_("group-buy orders"), default=0)
    refunded_orders = models.IntegerField(_("refunded orders"), default=0)
    units = models.IntegerField(_("units"), default=0)
    shoppers = models.IntegerField(_("shoppers"), default=0)
    gmv = _money(_("GMV"))
    discounts = _money(_("discounts"))
    paid = _money(_("paid"))
    refunds = _money(_("refunds"))

    class Meta:
        verbose_name = _("order day fact")
        verbose_name_plural = _("order day facts")
        indexes = [
            models.Index(fields=["day", "warehouse"], name="an_orderday_day_wh"),
            models.Index(fields=["day", "community"], name="an_orderday_day_comm"),
        ]


class LeaderDayFact(Fact):
    """One leader's day: sales through their points, shoppers, pickups, commission, claims."""

    day = models.DateField(_("day"))
    leader = _dim("leaders.Leader", _("leader"))
    gmv = _money(_("GMV"))
    paid = _money(_("paid"))
    refunds = _money(_("refunds"))
    orders = models.IntegerField(_("orders"), default=0)
    shoppers = models.IntegerField(_("shoppers"), default=0)
    new_shoppers = models.IntegerField(_("new shoppers"), default=0)  # first order with the leader
    returning_shoppers = models.IntegerField(_("returning shoppers"), default=0)
    pickup_due = models.IntegerField(_("orders to collect"), default=0)  # paid, not refunded
    picked_up = models.IntegerField(_("orders collected"), default=0)  # completed
    commission = _money(_("commission"))  # net ledger entries dated that day
    complaints = models.IntegerField(_("after-sale claims"), default=0)  # submitted that day

    class Meta:
        verbose_name = _("leader day fact")
        verbose_name_plural = _("leader day facts")
        indexes = [
            models.Index(fields=["day", "leader"], name="an_leader_day"),
            models.Index(fields=["leader", "day"], name="an_leader_leader_day"),
        ]


class ShopperMonthFact(Fact):
    """One shopper's month: orders, spend, categories; first_month for cohorts."""

    month = models.DateField(_("month"))  # the 1st of the month
    user = _dim(settings.AUTH_USER_MODEL, _("shopper"))
    first_month = models.DateField(_("first order month"))
    orders = models.IntegerField(_("orders"), default=0)
    spend = _money(_("spend"))  # paid minus refunds
    last_day = models.DateField(_("last order day"))
    category_ids = models.JSONField(_("top categories"), default=list)  # top-level category ids

    class Meta:
        verbose_name = _("shopper month fact")
        verbose_name_plural = _("shopper month facts")
        indexes = [
            models.Index(fields=["month", "user"], name="an_shopper_month_user"),
            models.Index(fields=["first_month", "month"], name="an_shopper_cohort"),
            # A short rebuild reads the months of the shoppers who ordered (spans).
            models.Index(fields=["user", "month"], name="an_shopper_user_month"),
        ]


class BasketPairFact(Fact):
    """Two products bought in one order, counted per day (product_a < product_b)."""

    day = models.DateField(_("day"))
    product_a = _dim("catalog.Product", _("product A"))
    product_b = _dim("catalog.Product", _("product B"))
    orders = models.IntegerField(_("orders"), default=0)

    class Meta:
        verbose_name = _("basket pair fact")
        verbose_name_plural = _("basket pair facts")
        indexes = [models.Index(fields=["day"], name="an_pair_day")]


class ProductDayFact(Fact):
    """One product's day over all points: orders containing it (the base of a pair's lift),
    units, GMV, refunds. The sales report's products and categories read it when no
    warehouse or community is chosen (a few hundred rows a day, not SalesFact's many)."""

    day = models.DateField(_("day"))
    product = _dim("catalog.Product", _("product"))
    category = _dim("catalog.Category", _("category"), null=True)
    orders = models.IntegerField(_("orders"), default=0)
    units = models.IntegerField(_("units"), default=0)
    gmv = _money(_("GMV"))
    refunds = _money(_("refunds"))

    class Meta:
        verbose_name = _("product day fact")
        verbose_name_plural = _("product day facts")
        indexes = [models.Index(fields=["day", "product"], name="an_productday_day")]


class CategoryDayFact(Fact):
    """GMV of one top-level category in one community on one day (category preference)."""

    day = models.DateField(_("day"))
    community = _dim("leaders.Community", _("community"))
    category = _dim("catalog.Category", _("category"))  # the top-level category
    units = models.IntegerField(_("units"), default=0)
    gmv = _money(_("GMV"))

    class Meta:
        verbose_name = _("category day fact")
        verbose_name_plural = _("category day facts")
        indexes = [models.Index(fields=["day", "community"], name="an_categoryday_day")]


class GroupBuyDayFact(Fact):
    """One 拼团 campaign's day: groups opened, filled, failed; members; GMV; time to fill."""

    day = models.DateField(_("day"))
    campaign = _dim("groupbuy.Campaign", _("campaign"))
    started = models.IntegerField(_("groups started"), default=0)  # opened that day
    filled = models.IntegerField(_("groups filled"), default=0)  # succeeded that day
    auto_completed = models.IntegerField(_("auto-completed"), default=0)
    failed = models.IntegerField(_("groups failed"), default=0)  # failed that day
    members = models.IntegerField(_("paid members"), default=0)  # paid that day
    gmv = _money(_("GMV"))  # the members' orders paid that day
    fill_seconds = models.BigIntegerField(_("seconds to fill (sum)"), default=0)

    class Meta:
        verbose_name = _("group-buy day fact")
        verbose_name_plural = _("group-buy day facts")
        indexes = [models.Index(fields=["day", "campaign"], name="an_groupbuy_day")]


class DeliveryRunFact(Fact):
    """One delivery run's punctuality (from logistics' runs and stops)."""

    day = models.DateField(_("delivery date"))
    run = _dim("logistics.DeliveryRun", _("delivery run"))
    route = _dim("logistics.Route", _("route"))
    driver = _dim("logistics.Driver", _("driver"), null=True)
    warehouse = _dim("catalog.Warehouse", _("warehouse"))
    stops = models.IntegerField(_("stops"), default=0)
    measured = models.IntegerField(_("arrivals with a pickup time"), default=0)
    on_time = models.IntegerField(_("on time"), default=0)
    late = models.IntegerField(_("late"), default=0)
    late_minutes = models.IntegerField(_("minutes late (sum)"), default=0)
    max_late_minutes = models.IntegerField(_("most minutes late"), default=0)
    handed_over = models.IntegerField(_("handed over"), default=0)

    class Meta:
        verbose_name = _("delivery run fact")
        verbose_name_plural = _("delivery run facts")
        indexes = [models.Index(fields=["day", "route"], name="an_run_day_route")]


# --- roll-ups of the facts (what the long-range reports read) ---------------------------
#
# Filled from the day facts above (and ShopperMonthFact) by analytics.facts, set-based,
# for the months a rebuild touches. A report over start..end reads the month rows of
# the whole months inside the range and the day facts of the days at its edges, so its
# cost follows the number of months, leaders, communities, never orders or shoppers.


class CommunityDayFact(Fact):
    """One community's day (all its pickup points) in one warehouse: OrderDayFact rolled up
    (销售报表's days, warehouses and communities)."""

    day = models.DateField(_("day"))
    warehouse = _dim("catalog.Warehouse", _("warehouse"))
    community = _dim("leaders.Community", _("community"))
    orders = models.IntegerField(_("orders"), default=0)
    units = models.IntegerField(_("units"), default=0)
    shoppers = models.IntegerField(_("shoppers"), default=0)  # sum over the points' days
    gmv = _money(_("GMV"))
    discounts = _money(_("discounts"))
    paid = _money(_("paid"))
    refunds = _money(_("refunds"))

    class Meta:
        verbose_name = _("community day fact")
        verbose_name_plural = _("community day facts")
        indexes = [models.Index(fields=["day", "warehouse", "community"], name="an_commday_day")]


class ProductMonthFact(Fact):
    """ProductDayFact rolled up to whole months (products and categories over long ranges)."""

    month = models.DateField(_("month"))
    product = _dim("catalog.Product", _("product"))
    category = _dim("catalog.Category", _("category"), null=True)
    orders = models.IntegerField(_("orders"), default=0)
    units = models.IntegerField(_("units"), default=0)
    gmv = _money(_("GMV"))
    refunds = _money(_("refunds"))

    class Meta:
        verbose_name = _("product month fact")
        verbose_name_plural = _("product month facts")
        indexes = [models.Index(fields=["month", "product"], name="an_productmonth_month")]


class LeaderMonthFact(Fact):
    """LeaderDayFact rolled up to whole months (团长业绩 over long ranges)."""

    month = models.DateField(_("month"))
    leader = _dim("leaders.Leader", _("leader"))
    gmv = _money(_("GMV"))
    paid = _money(_("paid"))
    refunds = _money(_("refunds"))
    orders = models.IntegerField(_("orders"), default=0)
    shoppers = models.IntegerField(_("shoppers"), default=0)
    new_shoppers = models.IntegerField(_("new shoppers"), default=0)
    returning_shoppers = models.IntegerField(_("returning shoppers"), default=0)
    pickup_due = models.IntegerField(_("orders to collect"), default=0)
    picked_up = models.IntegerField(_("orders collected"), default=0)
    commission = _money(_("commission"))
    complaints = models.IntegerField(_("after-sale claims"), default=0)

    class Meta:
        verbose_name = _("leader month fact")
        verbose_name_plural = _("leader month facts")
        indexes = [models.Index(fields=["month", "leader"], name="an_leadermonth_month")]


class CategoryMonthFact(Fact):
    """CategoryDayFact rolled up to whole months (category preference per community)."""

    month = models.DateField(_("month"))
    community = _dim("leaders.Community", _("community"))
    category = _dim("catalog.Category", _("category"))
    units = models.IntegerField(_("units"), default=0)
    gmv = _money(_("GMV"))

    class Meta:
        verbose_name = _("category month fact")
        verbose_name_plural = _("category month facts")
        indexes = [models.Index(fields=["month", "community"], name="an_categorymonth_month")]


class BasketPairMonthFact(Fact):
    """BasketPairFact rolled up to whole months (products bought together over long ranges)."""

    month = models.DateField(_("month"))
    product_a = _dim("catalog.Product", _("product A"))
    product_b = _dim("catalog.Product", _("product B"))
    orders = models.IntegerField(_("orders"), default=0)

    class Meta:
        verbose_name = _("basket pair month fact")
        verbose_name_plural = _("basket pair month facts")
        indexes = [models.Index(fields=["month"], name="an_pairmonth_month")]


class CohortMonthFact(Fact):
    """Shoppers of one cohort (first order month) who ordered in one month."""

    first_month = models.DateField(_("first order month"))
    month = models.DateField(_("month"))
    shoppers = models.IntegerField(_("shoppers"), default=0)

    class Meta:
        verbose_name = _("cohort month fact")
        verbose_name_plural = _("cohort month facts")
        constraints = [
            models.UniqueConstraint(fields=["first_month", "month"], name="an_cohort_key"),
        ]


class ShopperSpanFact(Fact):
    """Shoppers of a span of whole months (first_month..last_month) by how often they ordered
    in it (a frequency bucket) and their last order day in it, with their orders and spend.

    Frequency, repeat rate and RFM of any month range are sums over one span's rows (a few
    thousand at most), never a row per shopper. Rows exist for the spans that have shoppers;
    a span reaching past the months with facts equals the span clipped to them.
    """

    first_month = models.DateField(_("first month"))
    last_month = models.DateField(_("last month"))
    bucket = models.PositiveSmallIntegerField(_("frequency bucket"))  # selectors.FREQUENCY_BUCKETS
    last_day = models.DateField(_("last order day"))
    shoppers = models.IntegerField(_("shoppers"), default=0)
    orders = models.IntegerField(_("orders"), default=0)
    spend = _money(_("spend"))

    class Meta:
        verbose_name = _("shopper span fact")
        verbose_name_plural = _("shopper span facts")
        constraints = [
            models.UniqueConstraint(
                fields=["first_month", "last_month", "bucket", "last_day"], name="an_span_key"
            ),
        ]
