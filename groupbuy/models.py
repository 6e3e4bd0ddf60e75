"""拼团: campaigns, groups and their members; community threshold deals.

Every state change goes through groupbuy.services; the database holds the
invariants that must survive any race (seats never above the size, one live
seat per shopper per group, the campaign's set-aside never overspent).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.money import MoneyField


def new_code() -> str:
    """Unguessable code for public URLs (share links carry it)."""
    return secrets.token_urlsafe(9)


class CampaignKind(models.TextChoices):
    GROUP = (
        "group",
        pgettext_lazy("campaign kind", "Group buy"),
    )  # 拼团: groups of N shoppers fill within a time limit
    THRESHOLD = (
        "threshold",
        pgettext_lazy("campaign kind", "Community threshold"),
    )  # a community reaches N units by the cutoff


class CampaignScope(models.TextChoices):
    ANYONE = "anyone", _("Any shopper")  # joiners may pick up anywhere
    PICKUP_POINT = "pickup_point", _("Same pickup point")  # a filled group is one delivery
    COMMUNITY = "community", _("Same community")  # joiners from the opener's community


class Campaign(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True, default=new_code)
    kind = models.CharField(
        pgettext_lazy("groupbuy", "kind"),
        max_length=10,
        choices=CampaignKind.choices,
        default=CampaignKind.GROUP,
    )
    title = models.CharField(_("title"), max_length=60)
    sku = models.ForeignKey(
        "catalog.Sku", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="+"
    )
    group_price = MoneyField(pgettext_lazy("groupbuy", "group price"))
    group_size = models.PositiveSmallIntegerField(_("group size"), default=2)
    time_limit_hours = models.PositiveSmallIntegerField(_("time limit (hours)"), default=24)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    # The campaign-wide cap; every group order takes from it and a cancelled
    # or refunded one gives back. The units themselves are held per delivery
    # day in the catalog (hold_per_day, hold_stock) and group orders draw
    # from that hold (place_order(from_hold=True)).
    stock_total = models.PositiveIntegerField(_("units set aside"))
    stock_taken = models.PositiveIntegerField(_("units taken"), default=0)
    # Units held in the catalog (hold_stock) per delivery day and warehouse;
    # empty = stock_total. Group orders draw from the hold.
    hold_per_day = models.PositiveIntegerField(
        _("units held per delivery day"), null=True, blank=True
    )
    per_order_limit = models.PositiveSmallIntegerField(_("limit per order"), default=1)
    per_shopper_limit = models.PositiveSmallIntegerField(_("limit per shopper"), default=2)
    allow_many_open = models.BooleanField(
        _("a shopper may open several groups at once"), default=False
    )
    scope = models.CharField(
        _("who may join"),
        max_length=16,
        choices=CampaignScope.choices,
        default=CampaignScope.ANYONE,
    )
    auto_complete = models.BooleanField(
        _("auto-complete at the time limit (模拟成团)"), default=False
    )
    auto_complete_min_percent = models.PositiveSmallIntegerField(
        _("minimum share of real paid members (%)"), default=60
    )
    # Threshold deals: the community's paid quantity must reach this by the cutoff
    # of its delivery day (CommunityDeal.decide_at, at or after ends_at).
    threshold_quantity = models.PositiveIntegerField(_("community threshold"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(group_size__gte=2) & Q(group_size__lte=50),
                name="groupbuy_size_2_to_50",
            ),
            models.CheckConstraint(
                condition=Q(stock_taken__lte=F("stock_total")), name="groupbuy_stock_within"
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="groupbuy_ends"),
            models.CheckConstraint(condition=Q(group_price__gt=0), name="groupbuy_price_gt_0"),
            models.CheckConstraint(
                condition=Q(auto_complete_min_percent__gte=1)
                & Q(auto_complete_min_percent__lte=100),
                name="groupbuy_auto_share_1_100",
            ),
            models.CheckConstraint(
                condition=Q(per_order_limit__gte=1)
                & Q(per_shopper_limit__gte=F("per_order_limit")),
                name="groupbuy_limits",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_threshold(self) -> bool:
        return self.kind == CampaignKind.THRESHOLD

    @property
    def hold_target(self) -> int:
        return self.stock_total if self.hold_per_day is None else self.hold_per_day

    @property
    def stock_left(self) -> int:
        return self.stock_total - self.stock_taken

    @property
    def auto_complete_min_members(self) -> int:
        """Real paid members a group needs to auto-complete (rounded up)."""
        return -(-self.group_size * self.auto_complete_min_percent // 100)


class GroupStatus(models.TextChoices):
    FORMING = (
        "forming",
        pgettext_lazy("group", "Waiting for the opener to pay"),
    )  # not shown: no group yet
    OPEN = "open", pgettext_lazy("group", "Open")  # the opener paid; the clock runs
    SUCCEEDED = (
        "succeeded",
        pgettext_lazy("group", "Succeeded"),
    )  # full (or auto-completed): orders confirmed
    FAILED = (
        "failed",
        pgettext_lazy("group", "Failed"),
    )  # time limit or closed: paid orders refunded
    ABANDONED = "abandoned", pgettext_lazy("group", "Never opened")  # the opener did not pay


GROUP_TRANSITIONS: dict[str, set[str]] = {
    GroupStatus.FORMING: {GroupStatus.OPEN, GroupStatus.ABANDONED},
    GroupStatus.OPEN: {GroupStatus.SUCCEEDED, GroupStatus.FAILED},
    GroupStatus.SUCCEEDED: set(),
    GroupStatus.FAILED: set(),
    GroupStatus.ABANDONED: set(),
}


class Group(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True, default=new_code)
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="groups"
    )
    opener = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opener"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint",
        verbose_name=_("opener's pickup point"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    community = models.ForeignKey(
        "leaders.Community", verbose_name=_("community"), on_delete=models.PROTECT, related_name="+"
    )
    size = models.PositiveSmallIntegerField(_("size"))
    # Seats held or paid (a joiner holds one while paying); paid members.
    seats_taken = models.PositiveSmallIntegerField(_("seats taken"), default=0)
    paid_count = models.PositiveSmallIntegerField(_("paid members"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=GroupStatus.choices, default=GroupStatus.FORMING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    # The opener's delivery day: the first whose cutoff comes after the
    # deadline, so the group is decided before its goods are picked.
    delivery_date = models.DateField(_("delivery date"), null=True, blank=True)
    closed_at = models.DateTimeField(pgettext_lazy("groupbuy", "closed at"), null=True, blank=True)
    is_auto_completed = models.BooleanField(_("auto-completed (模拟成团)"), default=False)
    close_reason = models.CharField(_("reason"), max_length=200, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        # With a context: Django's own "group"/"groups" (permission groups, 组)
        # would otherwise win the shared msgid.
        verbose_name = pgettext_lazy("groupbuy", "group")
        verbose_name_plural = pgettext_lazy("groupbuy", "groups")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "deadline"], name="groupbuy_status_deadline"),
            models.Index(fields=["campaign", "status"], name="groupbuy_campaign_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(seats_taken__lte=F("size")), name="groupbuy_seats_within_size"
            ),
            models.CheckConstraint(
                condition=Q(paid_count__lte=F("seats_taken")), name="groupbuy_paid_within_seats"
            ),
            models.CheckConstraint(
                condition=Q(paid_count__lte=F("size")), name="groupbuy_paid_within_size"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def seats_left(self) -> int:
        return max(0, self.size - self.seats_taken)

    @property
    def is_open(self) -> bool:
        return self.status == GroupStatus.OPEN


class MemberStatus(models.TextChoices):
    HOLDING = (
        "holding",
        pgettext_lazy("group member", "Paying"),
    )  # holds a seat while the order awaits payment
    PAID = "paid", pgettext_lazy("group member", "Paid")  # counted towards the size
    RELEASED = (
        "released",
        pgettext_lazy("group member", "Left (not paid)"),
    )  # the unpaid order was cancelled
    REFUNDED = (
        "refunded",
        pgettext_lazy("group member", "Refunded"),
    )  # the group failed, or an operator refunded the order (groupbuy/README.md)


LIVE_MEMBER = [MemberStatus.HOLDING, MemberStatus.PAID]


class GroupMember(models.Model):
    group = models.ForeignKey(
        Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.PROTECT,
        related_name="group_memberships",
    )
    order = models.OneToOneField(
        "orders.Order",
        verbose_name=_("order"),
        on_delete=models.PROTECT,
        related_name="group_member",
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    is_opener = models.BooleanField(_("opener"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=MemberStatus.choices, default=MemberStatus.HOLDING
    )
    joined_at = models.DateTimeField(pgettext_lazy("groupbuy", "joined at"), auto_now_add=True)
    paid_at = models.DateTimeField(pgettext_lazy("groupbuy", "paid at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["joined_at", "pk"]
        constraints = [
            # No joining the same group twice (a released seat may be taken again).
            models.UniqueConstraint(
                fields=["group", "user"],
                condition=Q(status__in=["holding", "paid"]),
                name="groupbuy_one_live_seat_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}:{self.user_id}"


class DealStatus(models.TextChoices):
    OPEN = (
        "open",
        pgettext_lazy("community deal", "Collecting"),
    )  # counting the community's paid quantity
    SUCCEEDED = (
        "succeeded",
        pgettext_lazy("community deal", "Reached"),
    )  # threshold reached by the cutoff: confirmed
    FAILED = (
        "failed",
        pgettext_lazy("community deal", "Not reached"),
    )  # everything in the community refunded


class CommunityDeal(models.Model):
    """One community's progress in a threshold campaign."""

    code = models.CharField(_("code"), max_length=16, unique=True, default=new_code)
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="deals"
    )
    community = models.ForeignKey(
        "leaders.Community", verbose_name=_("community"), on_delete=models.PROTECT, related_name="+"
    )
    paid_quantity = models.PositiveIntegerField(_("paid quantity"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN
    )
    # Every order of the deal is for this day; the deal is decided at its cutoff
    # (the first cutoff at or after the campaign's end), before goods are picked.
    delivery_date = models.DateField(_("delivery date"), null=True, blank=True)
    decide_at = models.DateTimeField(pgettext_lazy("groupbuy", "decided at"), null=True, blank=True)
    closed_at = models.DateTimeField(pgettext_lazy("groupbuy", "closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("community deal")
        verbose_name_plural = _("community deals")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "community"], name="groupbuy_one_deal_per_community"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.community}"

    @property
    def due_at(self):
        """When the deal is decided (deals made before decide_at existed: the campaign's end)."""
        return self.decide_at or self.campaign.ends_at


class DealOrder(models.Model):
    deal = models.ForeignKey(CommunityDeal, on_delete=models.CASCADE, related_name="orders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(
        "orders.Order", on_delete=models.PROTECT, related_name="community_deal_order"
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    status = models.CharField(
        _("status"), max_length=10, choices=MemberStatus.choices, default=MemberStatus.HOLDING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("deal order")
        verbose_name_plural = _("deal orders")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.deal_id}:{self.order_id}"
