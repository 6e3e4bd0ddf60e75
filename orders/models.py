"""Orders: carts, orders and their lines, payments, refunds, after-sale claims,
pickup codes and hand-outs.

Every status change goes through orders.services (one guarded transition per
move, an OrderEvent per transition); nothing here changes state by itself.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.audit import audited
from tuangou.money import MoneyField
from tuangou.private_files import PrivateName, private_storage
from tuangou.statemachine import IllegalTransition  # noqa: F401 - part of this module's API


def new_public_code() -> str:
    """Unguessable code for URLs (an order number is readable, not secret)."""
    return secrets.token_urlsafe(12)


# --- cart --------------------------------------------------------------------


class Cart(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="cart",
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self) -> str:
        return f"cart:{self.user_id}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(_("quantity"))
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="orders_one_cart_line_per_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_cart_qty_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} × {self.quantity}"


# --- orders ------------------------------------------------------------------


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = (
        "pending_payment",
        pgettext_lazy("order status", "Awaiting payment"),
    )  # placed, stock held
    PAID = "paid", pgettext_lazy("order status", "Paid")  # money received, not yet confirmed
    AWAITING_GROUP = (
        "awaiting_group",
        pgettext_lazy("order status", "Waiting for the group"),
    )  # 拼团 not yet full
    CONFIRMED = (
        "confirmed",
        pgettext_lazy("order status", "Confirmed"),
    )  # will be delivered on its delivery date
    IN_DELIVERY = "in_delivery", pgettext_lazy("order status", "On the way")  # left the warehouse
    READY_FOR_PICKUP = (
        "ready_for_pickup",
        pgettext_lazy("order status", "Ready for pickup"),
    )  # leader signed for it
    COMPLETED = (
        "completed",
        pgettext_lazy("order status", "Completed"),
    )  # every line handed out (or refunded)
    CANCELLED = (
        "cancelled",
        pgettext_lazy("order status", "Cancelled"),
    )  # never paid: stock, coupon, seat given back
    REFUNDED = (
        "refunded",
        pgettext_lazy("order status", "Refunded"),
    )  # paid, then fully refunded before delivery


S = OrderStatus
ORDER_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING_PAYMENT: {S.PAID, S.CANCELLED},
    S.PAID: {S.AWAITING_GROUP, S.CONFIRMED, S.REFUNDED},
    S.AWAITING_GROUP: {S.CONFIRMED, S.REFUNDED},
    S.CONFIRMED: {S.IN_DELIVERY, S.REFUNDED},
    S.IN_DELIVERY: {S.READY_FOR_PICKUP, S.REFUNDED},
    S.READY_FOR_PICKUP: {S.COMPLETED, S.REFUNDED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.REFUNDED: set(),
}


class OrderKind(models.TextChoices):
    NORMAL = "normal", _("Normal")  # 团购 at the day's price
    GROUP = "group", _("Group buy")  # 拼团: confirmed when the group fills


class Order(models.Model):
    number = models.CharField(_("order number"), max_length=24, unique=True)
    code = models.CharField(_("public code"), max_length=24, unique=True, default=new_public_code)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.PROTECT,
        related_name="orders",
    )
    # Contexts on short msgids: the catalogues of all apps are merged, and
    # leaders' "kind" (a leader's 身份) would win over ours.
    kind = models.CharField(
        pgettext_lazy("order", "kind"),
        max_length=10,
        choices=OrderKind.choices,
        default=OrderKind.NORMAL,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=S.PENDING_PAYMENT
    )
    # Snapshots: where and when, as they were when the order was placed.
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint", verbose_name=_("pickup point"), on_delete=models.PROTECT
    )
    leader = models.ForeignKey(
        "leaders.Leader", verbose_name=_("leader"), on_delete=models.PROTECT, related_name="+"
    )
    warehouse = models.ForeignKey(
        "catalog.Warehouse", verbose_name=_("warehouse"), on_delete=models.PROTECT
    )
    pickup_point_name = models.CharField(_("pickup point name"), max_length=60)
    pickup_address = models.CharField(_("pickup address"), max_length=200)
    delivery_date = models.DateField(_("delivery date"))
    pickup_from = models.DateTimeField(_("pickup from"))
    # Money, frozen when placed.
    goods_total = MoneyField(_("goods total"))
    discount_total = MoneyField(_("discounts"), default=0)
    payable = MoneyField(_("payable"))
    refunded_amount = MoneyField(_("refunded"), default=0)
    note = models.CharField(_("note"), max_length=100, blank=True)
    # Times of the main moves (the full history is in OrderEvent).
    created_at = models.DateTimeField(_("placed at"), auto_now_add=True)
    pay_deadline = models.DateTimeField(_("pay before"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cancelled or refunded at"), null=True, blank=True)
    is_uncollected = models.BooleanField(_("flagged uncollected"), default=False)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="orders_user_recent"),
            models.Index(fields=["pickup_point", "delivery_date"], name="orders_point_day"),
            models.Index(fields=["status", "pay_deadline"], name="orders_status_deadline"),
            models.Index(fields=["delivery_date", "status"], name="orders_day_status"),
            # The analytics fact job reads a day's paid orders by paid_at, and each of
            # their shoppers' first paid order, overall and with a leader (index-only):
            # unpaid orders left out.
            models.Index(
                fields=["paid_at"], name="orders_paid_at", condition=Q(paid_at__isnull=False)
            ),
            models.Index(
                fields=["user", "paid_at"],
                include=["leader"],
                name="orders_user_paid_at",
                condition=Q(paid_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(payable__gte=0), name="orders_payable_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("payable")),
                name="orders_refunded_within_payable",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open_for_payment(self) -> bool:
        return self.status == S.PENDING_PAYMENT


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.PROTECT)
    product_name = models.CharField(_("product"), max_length=60)
    spec = models.CharField(_("spec"), max_length=40)
    quantity = models.PositiveIntegerField(_("quantity"))
    list_price = MoneyField(_("group-buy price"))
    unit_price = MoneyField(_("unit price"))
    goods_total = MoneyField(_("goods total"))
    discount_total = MoneyField(_("discounts"), default=0)
    # Named parts of the discount: [{"kind", "label", "amount"}], amounts as strings.
    discounts = models.JSONField(_("discount parts"), default=list, blank=True)
    payable = MoneyField(_("paid for the line"))
    refunded_quantity = models.PositiveIntegerField(_("refunded quantity"), default=0)
    refunded_amount = MoneyField(_("refunded"), default=0)
    handed_out_quantity = models.PositiveIntegerField(_("handed out"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_line_qty_gte_1"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=F("quantity")),
                name="orders_line_refunded_qty_within",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("payable")),
                name="orders_line_refunded_amount_within",
            ),
            # Not "handed out + refunded <= quantity": an after-sale claim refunds
            # units that were handed out. The hand-out service checks what is
            # outstanding under a row lock.
            models.CheckConstraint(
                condition=Q(handed_out_quantity__lte=F("quantity")),
                name="orders_line_handout_within",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_name} {self.spec} × {self.quantity}"

    @property
    def outstanding_quantity(self) -> int:
        """Still to hand out: neither handed out nor refunded (0 after an after-sale refund)."""
        return max(0, self.quantity - self.refunded_quantity - self.handed_out_quantity)

    @property
    def refundable_amount(self):
        return self.payable - self.refunded_amount


class OrderEvent(models.Model):
    """One row per status change: who, when, from, to. Append-only."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(
        pgettext_lazy("order status", "from"), max_length=20, choices=OrderStatus.choices
    )
    to_status = models.CharField(
        pgettext_lazy("order status", "to"), max_length=20, choices=OrderStatus.choices
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_from_status_display()} → {self.get_to_status_display()}"


# --- payments ----------------------------------------------------------------


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")  # prepay requested, waiting for the shopper
    PAID = "paid", _("Paid")  # the provider confirmed the money
    CLOSED = "closed", _("Closed")  # closed unpaid (order cancelled)
    FAILED = "failed", _("Failed")  # the provider refused the prepay


class Payment(models.Model):
    """One payment attempt (a prepay) of an order; at most one open per order."""

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="payments"
    )
    provider = models.CharField(_("provider"), max_length=20)
    channel = models.CharField(_("channel"), max_length=10)
    out_trade_no = models.CharField(_("merchant trade number"), max_length=32, unique=True)
    amount = MoneyField(_("amount"))
    status = models.CharField(
        _("status"), max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    prepay_id = models.CharField(_("prepay id"), max_length=64, blank=True)
    pay_params = models.JSONField(_("pay parameters"), default=dict, blank=True)
    transaction_id = models.CharField(_("transaction id"), max_length=64, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Double-tapping 支付 must not create two prepays for one order.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["created", "paid"]),
                name="orders_one_live_payment_per_order",
            ),
        ]

    def __str__(self) -> str:
        return self.out_trade_no


class NotificationOutcome(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")  # moved an order or a refund
    DUPLICATE = "duplicate", _("Duplicate")  # already applied; answered success
    BAD_SIGNATURE = "bad_signature", _("Bad signature")
    REPLAYED = "replayed", _("Replayed or stale")
    MALFORMED = "malformed", _("Malformed")
    UNKNOWN_ORDER = "unknown_order", _("Unknown order")
    AMOUNT_MISMATCH = "amount_mismatch", _("Amount mismatch")
    LATE_PAYMENT = "late_payment", _("Paid after cancellation")  # refunded automatically


class NotificationKind(models.TextChoices):
    PAYMENT = "payment", pgettext_lazy("payment notification", "Payment")  # money came in
    REFUND = "refund", pgettext_lazy("payment notification", "Refund")  # a refund's result


class PaymentNotificationLog(models.Model):
    """Every notification received, with what was done about it (reconciliation)."""

    kind = models.CharField(
        pgettext_lazy("payment notification", "kind"),
        max_length=10,
        choices=NotificationKind.choices,
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=NotificationOutcome.choices)
    out_trade_no = models.CharField(_("merchant trade number"), max_length=64, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    headers = models.JSONField(_("headers"), default=dict)
    body = models.TextField(_("raw body"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment notification")
        verbose_name_plural = _("payment notifications")
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_outcome_display()} · {self.out_trade_no}"


# --- refunds -----------------------------------------------------------------


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # recorded, the task will send it
    PROCESSING = "processing", _("Processing")  # the provider accepted it
    SUCCEEDED = "succeeded", _("Refunded")  # the money is back
    FAILED = "failed", _("Failed")  # the provider refused: an operator must act


class RefundReason(models.TextChoices):
    OPERATOR = "operator", _("Operator refund")
    AFTER_SALE = "after_sale", _("After-sale claim")
    SHORTAGE = "shortage", _("Short delivery")
    GROUP_FAILED = "group_failed", _("Group did not fill")
    LATE_PAYMENT = "late_payment", _("Paid after cancellation")
    CANCELLED = "cancelled", _("Cancelled before delivery")


@audited(model_name="RefundEvent", verbose_name=_("refund history"))
class Refund(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="refunds"
    )
    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds"
    )
    out_refund_no = models.CharField(_("refund number"), max_length=64, unique=True)
    amount = MoneyField(_("amount"))
    reason = models.CharField(_("reason"), max_length=20, choices=RefundReason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    provider_refund_id = models.CharField(_("provider refund id"), max_length=64, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.CharField(_("last error"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    succeeded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_refund_amount_gt_0"),
            # A late payment is refunded exactly once, whatever retries happen.
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(reason="late_payment"),
                name="orders_one_late_payment_refund",
            ),
        ]

    def __str__(self) -> str:
        return self.out_refund_no


class RefundLine(models.Model):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, verbose_name=_("order line"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = MoneyField(_("amount"))

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class ClaimStatus(models.TextChoices):
    OPEN = "open", _("Under review")
    APPROVED = "approved", _("Approved")  # a refund was made
    REJECTED = "rejected", _("Rejected")


class AfterSaleClaim(models.Model):
    """A shopper's claim on fresh goods: refund only, no return."""

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="claims"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.PROTECT,
        related_name="after_sale_claims",
    )
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.OPEN
    )
    reject_reason = models.CharField(_("reason for rejection"), max_length=200, blank=True)
    refund = models.OneToOneField(
        Refund,
        verbose_name=_("refund"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claim",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("after-sale claim")
        verbose_name_plural = _("after-sale claims")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        # The admin's page title: the order's number, never its database id.
        return str(
            _("Claim %(pk)s on order %(number)s") % {"pk": self.pk, "number": self.order.number}
        )


class ClaimLine(models.Model):
    claim = models.ForeignKey(AfterSaleClaim, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, verbose_name=_("order line"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("claim line")
        verbose_name_plural = _("claim lines")

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class ClaimPhoto(models.Model):
    claim = models.ForeignKey(AfterSaleClaim, on_delete=models.CASCADE, related_name="photos")
    # Private (tuangou/private_files.py): only the shopper, the pickup point's
    # leader and staff who review claims see it, through orders:claim_photo.
    image = models.ImageField(
        _("photo"), storage=private_storage, upload_to=PrivateName("orders/claims")
    )

    class Meta:
        verbose_name = _("claim photo")
        verbose_name_plural = _("claim photos")

    def __str__(self) -> str:
        # Never the file's path: that is private.
        return str(_("Claim photo %(n)s") % {"n": self.pk})


# --- delivery and pickup -----------------------------------------------------


class PickupCode(models.Model):
    """One code per shopper per pickup point per delivery date, for all that day's orders."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="pickup_codes",
    )
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint", verbose_name=_("pickup point"), on_delete=models.CASCADE
    )
    delivery_date = models.DateField(_("delivery date"))
    code = models.CharField(_("pickup code"), max_length=8)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pickup code")
        verbose_name_plural = _("pickup codes")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "pickup_point", "delivery_date"], name="orders_one_code_per_day"
            ),
            models.UniqueConstraint(
                fields=["pickup_point", "delivery_date", "code"], name="orders_code_unique_at_point"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class DeliverySignoff(models.Model):
    """The leader signed (签收) for a day's delivery at their point."""

    pickup_point = models.ForeignKey(
        "leaders.PickupPoint", verbose_name=_("pickup point"), on_delete=models.PROTECT
    )
    delivery_date = models.DateField(_("delivery date"))
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_at = models.DateTimeField(_("signed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery sign-off")
        verbose_name_plural = _("delivery sign-offs")
        constraints = [
            models.UniqueConstraint(
                fields=["pickup_point", "delivery_date"], name="orders_one_signoff_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pickup_point} {self.delivery_date:%Y-%m-%d}"


class ShortageLine(models.Model):
    signoff = models.ForeignKey(DeliverySignoff, on_delete=models.CASCADE, related_name="shortages")
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(_("missing quantity"))

    class Meta:
        verbose_name = _("shortage")
        verbose_name_plural = _("shortages")

    def __str__(self) -> str:
        return f"{self.sku_id} −{self.quantity}"


class Handout(models.Model):
    """A leader handed out (or, negative, took back by undo) some of a line. Audit trail."""

    order_line = models.ForeignKey(
        OrderLine, verbose_name=_("order line"), on_delete=models.PROTECT, related_name="handouts"
    )
    quantity = models.IntegerField(_("quantity"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handed out by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("hand-out")
        verbose_name_plural = _("hand-outs")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_line} · {self.quantity:+d}"


# --- in-app messages ---------------------------------------------------------


class Notice(models.Model):
    """我的消息: an in-app message about an order (SMS/WeChat templates go beside it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="notices",
    )
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notices",
    )
    # Text is rendered when shown (orders/notices.py), in the reader's language.
    kind = models.CharField(pgettext_lazy("message", "kind"), max_length=30)
    params = models.JSONField(_("parameters"), default=dict)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"], name="orders_notice_recent")]

    def __str__(self) -> str:
        from .notices import render  # notices imports this module

        return f"{render(self)[0]} → {self.user}"
