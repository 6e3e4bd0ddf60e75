"""Marketing: coupon templates and coupons, points, 限时秒杀 flash sales, 满减
promotions and 老带新 referrals.

Marketing sits below orders in the import DAG (DESIGN.md): orders' checkout
asks marketing for price rules (orders.pricing.PriceRule) and calls marketing's
services to lock, use and release what an order consumed; marketing never
imports orders. Foreign keys to orders are string references.

State changes live in marketing/services/; the transition tables of every
status are here, next to the field they guard, and checked by
`tuangou.statemachine.guard`. Counters (issued, sold, balance) are guarded by
CheckConstraints and changed with conditional F() updates.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.money import MoneyField

# The project's one status guard (re-exported: services import it from here).
from tuangou.statemachine import IllegalTransition, guard  # noqa: F401

# --- coupons --------------------------------------------------------------------------


class CouponKind(models.TextChoices):
    FIXED = "fixed", _("Amount off above a threshold")  # 满¥30减¥5
    PERCENT = "percent", _("Percent off with a cap")  # 9折, at most ¥10 off
    NO_THRESHOLD = "no_threshold", _("No-threshold coupon")  # 新人无门槛券


class CouponScope(models.TextChoices):
    ALL = "all", _("Everything")
    CATEGORIES = "categories", _("Some categories")
    PRODUCTS = "products", _("Some products")


class CouponChannel(models.TextChoices):
    NEW_USER = "new_user", _("New shopper gift")  # 新人券 on first sign-in
    SPEND_REWARD = "spend_reward", _("Spend reward")  # 满额返券 after a completed order
    CLAIM_CENTRE = "claim_centre", _("Claim centre")  # 领券中心
    OPERATOR = "operator", _("Issued by operators")  # to a segment
    REFERRAL = "referral", _("Invitation reward")  # 老带新


class ValidityKind(models.TextChoices):
    FIXED_DATES = "fixed_dates", _("Fixed dates")
    DAYS_AFTER_ISSUE = "days_after_issue", _("Days after issue")


class CouponTemplate(models.Model):
    """What a coupon is worth, where it applies, how long, and how many there are."""

    name = models.CharField(_("name"), max_length=40)
    kind = models.CharField(_("kind"), max_length=16, choices=CouponKind.choices)
    channel = models.CharField(_("issued through"), max_length=16, choices=CouponChannel.choices)
    amount = MoneyField(_("amount off"), null=True, blank=True)  # FIXED / NO_THRESHOLD
    percent_off = models.PositiveSmallIntegerField(
        _("percent off"), null=True, blank=True, help_text=_("10 means ten percent off (9折).")
    )
    max_discount = MoneyField(_("discount cap"), null=True, blank=True)  # PERCENT
    threshold = MoneyField(_("minimum spend"), default=0)
    scope = models.CharField(
        _("applies to"), max_length=12, choices=CouponScope.choices, default=CouponScope.ALL
    )
    categories = models.ManyToManyField(
        "catalog.Category", verbose_name=_("categories"), blank=True, related_name="+"
    )
    products = models.ManyToManyField(
        "catalog.Product", verbose_name=_("products"), blank=True, related_name="+"
    )
    validity = models.CharField(
        _("validity"),
        max_length=20,
        choices=ValidityKind.choices,
        default=ValidityKind.DAYS_AFTER_ISSUE,
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(_("valid for (days)"), null=True, blank=True)
    per_user_limit = models.PositiveSmallIntegerField(_("limit per shopper"), default=1)
    # None: unlimited. issued never passes it (constraint + conditional UPDATE).
    total_quantity = models.PositiveIntegerField(_("total quantity"), null=True, blank=True)
    issued = models.PositiveIntegerField(_("issued"), default=0)
    is_stackable = models.BooleanField(
        _("stacks with spend-and-save"),
        default=True,
        help_text=_(
            "Whether it can be used on an order that also gets a spend-and-save (满减) promotion."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_quantity__isnull=True) | Q(issued__lte=F("total_quantity")),
                name="marketing_template_issued_within_total",
            ),
            models.CheckConstraint(
                condition=Q(percent_off__isnull=True)
                | (Q(percent_off__gte=1) & Q(percent_off__lte=99)),
                name="marketing_template_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=0), name="marketing_template_threshold_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CouponStatus(models.TextChoices):
    UNUSED = "unused", pgettext_lazy("coupon status", "Unused")  # in the shopper's wallet
    LOCKED = "locked", pgettext_lazy("coupon status", "Locked")  # held by an unpaid order
    USED = "used", pgettext_lazy("coupon status", "Used")  # the order was paid
    EXPIRED = "expired", pgettext_lazy("coupon status", "Expired")  # past valid_until unused
    REVOKED = "revoked", pgettext_lazy("coupon status", "Revoked")  # taken back (fraud, refund)


COUPON_TRANSITIONS = {
    CouponStatus.UNUSED: {CouponStatus.LOCKED, CouponStatus.EXPIRED, CouponStatus.REVOKED},
    # An unpaid order cancelled or expired gives it back; paid uses it.
    CouponStatus.LOCKED: {CouponStatus.UNUSED, CouponStatus.USED, CouponStatus.EXPIRED},
    # A refunded order: see marketing/README.md for the rule (returned while valid).
    CouponStatus.USED: {CouponStatus.UNUSED, CouponStatus.EXPIRED},
}


class Coupon(models.Model):
    """One coupon in one shopper's wallet, with its own code and life."""

    template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("template"),
        on_delete=models.PROTECT,
        related_name="coupons",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="coupons",
    )
    code = models.CharField(_("coupon code"), max_length=16, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=CouponStatus.choices, default=CouponStatus.UNUSED
    )
    channel = models.CharField(_("issued through"), max_length=16, choices=CouponChannel.choices)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coupons",
    )
    discount = MoneyField(_("discount given"), null=True, blank=True)
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["valid_until", "pk"]
        indexes = [models.Index(fields=["user", "status", "valid_until"])]

    def __str__(self) -> str:
        return self.code


class JobStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("job status", "Waiting")
    RUNNING = "running", pgettext_lazy("job status", "Running")
    DONE = "done", pgettext_lazy("job status", "Done")
    FAILED = "failed", pgettext_lazy("job status", "Failed")
    CANCELLED = "cancelled", pgettext_lazy("job status", "Cancelled")


class SegmentKind(models.TextChoices):
    COMMUNITY = "community", _("Shoppers of a community")
    PICKUP_POINT = "pickup_point", _("Shoppers of a pickup point")
    INACTIVE = "inactive", _("Shoppers inactive for N days")


class CouponIssueJob(models.Model):
    """An operator issuing a template to a segment, as a Celery job with progress."""

    template = models.ForeignKey(
        CouponTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="jobs"
    )
    segment = models.CharField(_("segment"), max_length=16, choices=SegmentKind.choices)
    community = models.ForeignKey(
        "leaders.Community",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint",
        verbose_name=_("pickup point"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    inactive_days = models.PositiveSmallIntegerField(
        _("inactive for (days)"), null=True, blank=True
    )
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING
    )
    total = models.PositiveIntegerField(_("shoppers"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    issued = models.PositiveIntegerField(_("coupons issued"), default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon issue job")
        verbose_name_plural = _("coupon issue jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.template} → {self.get_segment_display()}"


# --- points ---------------------------------------------------------------------------


class PointsAccount(models.Model):
    """A shopper's 积分 balance: a guarded counter, the ledger is the truth."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="points_account",
    )
    balance = models.IntegerField(_("balance"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="marketing_points_balance_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.balance}"


class PointsKind(models.TextChoices):
    EARNED = "earned", _("Earned")  # an order completed
    SPENT = "spent", _("Spent")  # used at checkout
    RETURNED = "returned", _("Returned")  # an unpaid order cancelled, or a refund gave them back
    REVERSED = "reversed", _("Reversed")  # earned points taken back after a refund
    EXPIRED = "expired", _("Expired")
    ADJUSTED = "adjusted", _("Adjusted")  # by an operator


class PointsEntry(models.Model):
    """One append-only change of a shopper's points."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="points_entries",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=PointsKind.choices)
    delta = models.IntegerField(_("change"))
    balance_after = models.IntegerField(_("balance after"))
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Idempotency: one entry per (kind, key), e.g. ("earned", "order:123").
    key = models.CharField(_("key"), max_length=64)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="marketing_points_entry_once"),
            models.CheckConstraint(condition=~Q(delta=0), name="marketing_points_delta_not_zero"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.delta:+d}"


# --- 限时秒杀 flash sales -------------------------------------------------------------


class GateMode(models.TextChoices):
    DATABASE = "database", _("Database counter")  # quota updated in the checkout transaction
    REDIS = "redis", _("Redis gate")  # Lua script admits buyers before any database work


class FlashSale(models.Model):
    """A 秒杀 session: a time slot with SKUs at a special price and a quota each."""

    name = models.CharField(_("name"), max_length=40)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    gate_mode = models.CharField(
        _("admission"), max_length=10, choices=GateMode.choices, default=GateMode.DATABASE
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("flash sale")
        verbose_name_plural = _("flash sales")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="marketing_flash_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.name


class FlashSaleItem(models.Model):
    """A SKU in a flash sale: its price, quota and per-shopper limit."""

    sale = models.ForeignKey(
        FlashSale, verbose_name=_("flash sale"), on_delete=models.CASCADE, related_name="items"
    )
    sku = models.ForeignKey(
        "catalog.Sku", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="+"
    )
    price = MoneyField(_("flash price"))
    quota = models.PositiveIntegerField(_("quota"))
    sold = models.PositiveIntegerField(_("sold"), default=0)
    per_user_limit = models.PositiveSmallIntegerField(_("limit per shopper"), default=1)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("flash sale item")
        verbose_name_plural = _("flash sale items")
        ordering = ["sale", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["sale", "sku"], name="marketing_flash_item_once"),
            models.CheckConstraint(
                condition=Q(sold__lte=F("quota")), name="marketing_flash_sold_within_quota"
            ),
            models.CheckConstraint(condition=Q(price__gt=0), name="marketing_flash_price_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sale} · {self.sku_id}"


class FlashPurchase(models.Model):
    """A shopper's units bought in a flash sale item (one row per shopper and item)."""

    item = models.ForeignKey(
        FlashSaleItem,
        verbose_name=_("flash sale item"),
        on_delete=models.PROTECT,
        related_name="purchases",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("flash purchase")
        verbose_name_plural = _("flash purchases")
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="marketing_flash_one_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.user_id} × {self.quantity}"


# --- 满减 promotions ------------------------------------------------------------------


class Promotion(models.Model):
    """满减: spend ¥X get ¥Y off, in tiers (the highest reached tier applies)."""

    name = models.CharField(_("name"), max_length=40)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    scope = models.CharField(
        _("applies to"), max_length=12, choices=CouponScope.choices, default=CouponScope.ALL
    )
    categories = models.ManyToManyField(
        "catalog.Category", verbose_name=_("categories"), blank=True, related_name="+"
    )
    products = models.ManyToManyField(
        "catalog.Product", verbose_name=_("products"), blank=True, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("spend-and-save promotion")
        verbose_name_plural = _("spend-and-save promotions")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="marketing_promo_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.name


class PromotionTier(models.Model):
    promotion = models.ForeignKey(
        Promotion, verbose_name=_("promotion"), on_delete=models.CASCADE, related_name="tiers"
    )
    threshold = MoneyField(_("spend at least"))
    amount = MoneyField(_("amount off"))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["promotion", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "threshold"], name="marketing_tier_threshold_once"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(amount__lt=F("threshold")),
                name="marketing_tier_amount_below_threshold",
            ),
        ]

    def __str__(self) -> str:
        return f"满{self.threshold}减{self.amount}"


# --- 老带新 referrals -----------------------------------------------------------------


class InviteCode(models.Model):
    """A shopper's own invitation code (link and QR)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="invite_code",
    )
    code = models.CharField(_("invitation code"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invitation code")
        verbose_name_plural = _("invitation codes")

    def __str__(self) -> str:
        return self.code


class ReferralStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("referral status", "Waiting for first pickup")
    REWARDED = "rewarded", pgettext_lazy("referral status", "Rewarded")  # inviter got a coupon
    REJECTED = "rejected", pgettext_lazy("referral status", "Rejected")  # a fraud rule matched
    CANCELLED = "cancelled", pgettext_lazy("referral status", "Cancelled")  # first order refunded


REFERRAL_TRANSITIONS = {
    ReferralStatus.PENDING: {
        ReferralStatus.REWARDED,
        ReferralStatus.REJECTED,
        ReferralStatus.CANCELLED,
    },
    ReferralStatus.REWARDED: {ReferralStatus.CANCELLED},
}


class Referral(models.Model):
    """A new shopper who came through an inviter's code: one per invitee, ever."""

    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("inviter"),
        on_delete=models.CASCADE,
        related_name="referrals_made",
    )
    invitee = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invitee"),
        on_delete=models.CASCADE,
        related_name="referral",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    # Fraud keys, copied at sign-up: one reward per phone, unionid and address.
    invitee_phone = models.CharField(_("invitee phone"), max_length=20, blank=True)
    invitee_unionid = models.CharField(_("invitee WeChat unionid"), max_length=64, blank=True)
    reject_reason = models.CharField(_("reason"), max_length=200, blank=True)
    first_order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("first order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    inviter_coupon = models.OneToOneField(
        Coupon,
        verbose_name=_("inviter's coupon"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    rewarded_at = models.DateTimeField(_("rewarded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(inviter=F("invitee")), name="marketing_referral_not_self"
            )
        ]

    def __str__(self) -> str:
        return f"{self.inviter_id} → {self.invitee_id}"
