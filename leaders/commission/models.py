"""Commission models (app label `leaders`): rules, ledger entries, settlements,
withdrawals and payout batches.

The ledger (CommissionEntry) is append-only: an entry's amount, base, rate
and leader never change once written; a correction is a new entry. The only
fields written later are the settlement pointer (a compare-and-set from NULL,
exactly once). The status of an unsettled entry (pending / frozen / eligible)
is derived from its order line when asked, never stored.

Rounding rule (one, everywhere): commission = base × rate, or a fixed
amount, rounded to the fen with ROUND_HALF_UP (tuangou.money.to_money).
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


def new_statement_code() -> str:
    """Unguessable code in statement URLs (a settlement id is readable)."""
    return secrets.token_urlsafe(12)


# --- rules ----------------------------------------------------------------------------


class RuleScope(models.TextChoices):
    PRODUCT = "product", _("Product")  # one product (all its SKUs)
    CATEGORY = "category", _("Category")  # a category (and its child categories)
    LEADER = "leader", _("Leader")  # everything one leader sells
    DEFAULT = "default", _("Platform default")  # everyone, when nothing more specific applies


class RuleKind(models.TextChoices):
    RATE = "rate", _("Rate of the amount paid")  # base × rate
    PER_ITEM = "per_item", _("Fixed amount per item")  # amount × quantity
    PER_ORDER = "per_order", _("Fixed amount per order")  # amount, apportioned over the lines


@audited(model_name="CommissionRuleEvent", verbose_name=_("commission rule history"))
class CommissionRule(models.Model):
    """How commission is computed, from a moment on. Most specific scope wins:
    product, then category (its own, then its parent), then leader, then the
    platform default, then the leader's own `commission_rate` (10% unless set).

    A rule is never edited once in force: operators end it (effective_until)
    and add a new one. Entries snapshot rate and amount, so earned commission
    never changes when rules do.
    """

    scope = models.CharField(_("applies to"), max_length=10, choices=RuleScope.choices)
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    category = models.ForeignKey(
        "catalog.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    leader = models.ForeignKey(
        "leaders.Leader",
        verbose_name=_("leader"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commission_rules",
    )
    kind = models.CharField(_("rule kind"), max_length=10, choices=RuleKind.choices)
    rate = models.DecimalField(
        _("rate"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("A fraction of the amount paid: 0.1000 is 10%."),
    )
    amount = MoneyField(_("fixed amount"), null=True, blank=True)
    effective_from = models.DateTimeField(_("effective from"))
    effective_until = models.DateTimeField(_("effective until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("commission rule")
        verbose_name_plural = _("commission rules")
        ordering = ["scope", "-effective_from", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        scope="product",
                        product__isnull=False,
                        category__isnull=True,
                        leader__isnull=True,
                    )
                    | Q(
                        scope="category",
                        product__isnull=True,
                        category__isnull=False,
                        leader__isnull=True,
                    )
                    | Q(
                        scope="leader",
                        product__isnull=True,
                        category__isnull=True,
                        leader__isnull=False,
                    )
                    | Q(
                        scope="default",
                        product__isnull=True,
                        category__isnull=True,
                        leader__isnull=True,
                    )
                ),
                name="leaders_rule_target_matches_scope",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        kind="rate",
                        rate__isnull=False,
                        rate__gte=0,
                        rate__lte=1,
                        amount__isnull=True,
                    )
                    | (~Q(kind="rate") & Q(rate__isnull=True, amount__isnull=False, amount__gte=0))
                ),
                name="leaders_rule_rate_or_amount",
            ),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True)
                | Q(effective_until__gt=F("effective_from")),
                name="leaders_rule_until_after_from",
            ),
        ]

    def __str__(self) -> str:
        target = self.product or self.category or self.leader or _("everyone")
        if self.kind == RuleKind.RATE:
            value = f"{self.rate * 100:.2f}%" if self.rate is not None else "?"
        else:
            value = f"¥{self.amount}"
        return f"{self.get_scope_display()} {target}: {value}"


# --- the ledger -------------------------------------------------------------------------


class EntryKind(models.TextChoices):
    EARNED = "earned", _("Earned")  # an order line was confirmed
    REVERSAL = "reversal", _("Reversal")  # refund before settlement: cancels (part of) an entry
    CLAWBACK = "clawback", _("Refund after settlement")  # negative, deducted by the next settlement
    ADJUSTMENT = "adjustment", _("Manual adjustment")  # an operator's correction, with a reason


# Audit trail of manual adjustments (and of any change to the append-only ledger).
@audited(
    model_name="CommissionEntryEvent",
    verbose_name=_("adjustment history"),
    insert_condition="NEW.kind = 'adjustment'",
)
class CommissionEntry(models.Model):
    """One line of a leader's commission ledger. Append-only."""

    leader = models.ForeignKey(
        "leaders.Leader",
        verbose_name=_("leader"),
        on_delete=models.PROTECT,
        related_name="commission_entries",
    )
    kind = models.CharField(_("entry kind"), max_length=12, choices=EntryKind.choices)
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    order_line = models.ForeignKey(
        "orders.OrderLine",
        verbose_name=_("order line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    refund_line = models.ForeignKey(
        "orders.RefundLine",
        verbose_name=_("refund line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversals",
    )
    # Snapshots, so that no later change of a rule or a product changes them.
    product_name = models.CharField(_("product"), max_length=80, blank=True)
    quantity = models.IntegerField(_("quantity"), default=0)
    base = MoneyField(_("amount paid"), default=0)
    rule_kind = models.CharField(_("rule"), max_length=10, choices=RuleKind.choices, blank=True)
    rate = models.DecimalField(_("rate"), max_digits=5, decimal_places=4, null=True, blank=True)
    rule = models.ForeignKey(
        CommissionRule,
        verbose_name=_("rule"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    amount = MoneyField(_("commission"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("date"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    # Set once, by settlement, with a compare-and-set from NULL.
    settlement = models.ForeignKey(
        "leaders.Settlement",
        verbose_name=_("settlement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
    )
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("commission entry")
        verbose_name_plural = _("commission entries")
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["leader", "-occurred_at"], name="leaders_entry_recent"),
            models.Index(
                fields=["leader", "id"],
                condition=Q(settlement__isnull=True),
                name="leaders_entry_unsettled",
            ),
        ]
        constraints = [
            # A confirmation delivered twice earns once.
            models.UniqueConstraint(
                fields=["order_line"],
                condition=Q(kind="earned"),
                name="leaders_one_earned_entry_per_line",
            ),
            # A refund line reverses commission exactly once.
            models.UniqueConstraint(
                fields=["refund_line"],
                condition=Q(refund_line__isnull=False),
                name="leaders_one_entry_per_refund_line",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["reversal", "clawback"], amount__lte=0)
                | Q(kind="earned", amount__gte=0)
                | Q(kind="adjustment", approved_by__isnull=False),
                name="leaders_entry_sign_by_kind",
            ),
            models.CheckConstraint(
                condition=Q(settlement__isnull=True, settled_at__isnull=True)
                | Q(settlement__isnull=False, settled_at__isnull=False),
                name="leaders_entry_settled_together",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    @property
    def rate_percent(self) -> str:
        """0.1250 → "12.5%" (empty for fixed amounts)."""
        if self.rate is None:
            return ""
        return f"{(self.rate * 100).normalize():f}%"


# --- settlements ------------------------------------------------------------------------


class PeriodKind(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")  # Monday to Sunday
    MONTHLY = "monthly", _("Monthly")  # a calendar month


class SettlementStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("settlement status", "Open")  # running: the daily job adds entries
    CLOSED = "closed", _("Closed")  # the period ended: totals final, statement made


SETTLEMENT_TRANSITIONS: dict[str, set[str]] = {
    SettlementStatus.OPEN: {SettlementStatus.CLOSED},
    SettlementStatus.CLOSED: set(),
}


class Settlement(models.Model):
    """A leader's settled commission for one period (周结 or 月结)."""

    leader = models.ForeignKey(
        "leaders.Leader",
        verbose_name=_("leader"),
        on_delete=models.PROTECT,
        related_name="settlements",
    )
    period_kind = models.CharField(_("period"), max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=SettlementStatus.choices,
        default=SettlementStatus.OPEN,
    )
    # Running totals of the entries settled into it, updated in the same
    # transaction as the entries (checked against the ledger by tests).
    entry_count = models.PositiveIntegerField(_("entries"), default=0)
    earned_total = MoneyField(_("earned"), default=0)
    deducted_total = MoneyField(_("reversed and deducted"), default=0)
    adjustment_total = MoneyField(_("adjustments"), default=0)
    net_total = MoneyField(_("net commission"), default=0)
    closed_at = models.DateTimeField(_("period closed at"), null=True, blank=True)
    # The statement (PDF), made by a Celery task after the close.
    code = models.CharField(
        _("statement code"), max_length=24, unique=True, default=new_statement_code
    )
    # Private (tuangou/private_files.py): a random name, served only to the
    # leader and to staff who may view settlements.
    statement = models.FileField(
        _("statement"),
        storage=private_storage,
        upload_to=PrivateName("statements"),
        blank=True,
    )
    statement_generated_at = models.DateTimeField(_("statement made at"), null=True, blank=True)
    verification_code = models.CharField(_("verification code"), max_length=24, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-period_start", "leader_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["leader", "period_start"], name="leaders_one_settlement_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="leaders_settlement_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.leader} {self.period_start}–{self.period_end}"


# --- balance and withdrawals -------------------------------------------------------------


class CommissionAccount(models.Model):
    """A leader's running money totals, written in the same transactions as
    the ledger and the withdrawals (and checked against them): the row that
    withdrawals reserve from with a conditional UPDATE.

    available = settled − reserved − withdrawn. `settled` may drop below what
    was paid out when a refund arrives after settlement (the leader then owes
    it back from the next commission); a withdrawal can never make available
    negative.
    """

    leader = models.OneToOneField(
        "leaders.Leader",
        verbose_name=_("leader"),
        on_delete=models.PROTECT,
        related_name="commission_account",
    )
    settled = MoneyField(_("settled"), default=0)
    reserved = MoneyField(_("being withdrawn"), default=0)
    withdrawn = MoneyField(_("withdrawn"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("commission account")
        verbose_name_plural = _("commission accounts")
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0), name="leaders_reserved_gte_0"),
            models.CheckConstraint(condition=Q(withdrawn__gte=0), name="leaders_withdrawn_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.leader}: {self.available}"

    @property
    def available(self):
        return self.settled - self.reserved - self.withdrawn


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # money reserved, waiting for finance
    APPROVED = "approved", _("Approved")  # finance agreed; waiting for the transfer
    PAID = "paid", _("Paid out")  # transferred, with a reference
    REJECTED = "rejected", _("Rejected")  # the reserved money went back to the balance


WITHDRAWAL_TRANSITIONS: dict[str, set[str]] = {
    WithdrawalStatus.REQUESTED: {WithdrawalStatus.APPROVED, WithdrawalStatus.REJECTED},
    WithdrawalStatus.APPROVED: {WithdrawalStatus.PAID, WithdrawalStatus.REJECTED},
    WithdrawalStatus.PAID: set(),
    WithdrawalStatus.REJECTED: set(),
}


class PayoutMethod(models.TextChoices):
    WECHAT = "wechat", _("WeChat Pay (to your WeChat balance)")
    BANK = "bank", _("Bank transfer")


class PayoutBatchStatus(models.TextChoices):
    CREATED = "created", _("Waiting to be sent")  # recorded; the task sends it (and retries)
    SUBMITTED = "submitted", _("Accepted, paying")  # the provider took it; money on its way
    SUCCEEDED = "succeeded", _("All paid")  # every transfer of the batch arrived
    PARTIAL = "partial", _("Partly paid")  # finished, some transfers failed (see the error)
    FAILED = "failed", _("Refused")  # refused or closed by the provider: nothing paid by it


PAYOUT_BATCH_TRANSITIONS: dict[str, set[str]] = {
    PayoutBatchStatus.CREATED: {PayoutBatchStatus.SUBMITTED, PayoutBatchStatus.FAILED},
    PayoutBatchStatus.SUBMITTED: {
        PayoutBatchStatus.SUCCEEDED,
        PayoutBatchStatus.PARTIAL,
        PayoutBatchStatus.FAILED,
    },
    PayoutBatchStatus.SUCCEEDED: set(),
    PayoutBatchStatus.PARTIAL: set(),
    PayoutBatchStatus.FAILED: set(),
}


class PayoutBatch(models.Model):
    """One payout run: a bank file or one WeChat transfer batch.

    `status` follows PAYOUT_BATCH_TRANSITIONS, moved only by
    services.send_payout_batch (the provider's answer to the batch) and
    services.check_payout_batch (the provider's answer when asked by batch
    number); `error` keeps the provider's last refusal or failure in words.
    """

    number = models.CharField(_("batch number"), max_length=32, unique=True)
    provider = models.CharField(_("payout channel"), max_length=20)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    total = MoneyField(_("total"), default=0)
    # "withdrawals" alone is the model's plural (提现); the count has its own words.
    count = models.PositiveIntegerField(pgettext_lazy("payout batch", "withdrawals"), default=0)
    provider_reference = models.CharField(_("provider reference"), max_length=64, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PayoutBatchStatus.choices,
        default=PayoutBatchStatus.CREATED,
    )
    error = models.TextField(pgettext_lazy("payout batch", "error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    finished_at = models.DateTimeField(
        pgettext_lazy("payout batch", "finished at"), null=True, blank=True
    )
    checked_at = models.DateTimeField(_("last checked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payout batch")
        verbose_name_plural = _("payout batches")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number


@audited(model_name="WithdrawalEvent", verbose_name=_("withdrawal history"))
class Withdrawal(models.Model):
    """A leader asking for their available commission."""

    number = models.CharField(_("withdrawal number"), max_length=32, unique=True)
    leader = models.ForeignKey(
        "leaders.Leader",
        verbose_name=_("leader"),
        on_delete=models.PROTECT,
        related_name="withdrawals",
    )
    amount = MoneyField(_("amount"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=WithdrawalStatus.choices,
        default=WithdrawalStatus.REQUESTED,
    )
    method = models.CharField(_("paid to"), max_length=10, choices=PayoutMethod.choices)
    # Snapshots of where the money goes (bank details typed by the leader).
    account_name = models.CharField(_("account holder"), max_length=40)
    bank_name = models.CharField(_("bank"), max_length=60, blank=True)
    account_number = models.CharField(_("account number"), max_length=40, blank=True)
    openid = models.CharField(_("WeChat openid"), max_length=64, blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reject_reason = models.CharField(_("reason for rejection"), max_length=200, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("paid by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    paid_at = models.DateTimeField(_("paid out at"), null=True, blank=True)
    transfer_reference = models.CharField(_("transfer reference"), max_length=64, blank=True)
    batch = models.ForeignKey(
        PayoutBatch,
        verbose_name=_("payout batch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawals",
    )

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        ordering = ["-requested_at", "-pk"]
        permissions = [
            ("approve_withdrawal", _("Can approve or reject withdrawals")),
            ("pay_withdrawal", _("Can mark withdrawals paid and export payouts")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="leaders_withdrawal_gt_0"),
            models.CheckConstraint(
                condition=~Q(status="paid") | ~Q(transfer_reference=""),
                name="leaders_paid_withdrawal_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return self.number


# The worker autodiscovers leaders.tasks only; importing the commission tasks
# here (they import nothing at module level but Celery) registers them too.
from . import tasks as _tasks  # noqa: E402, F401
