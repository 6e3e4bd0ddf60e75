"""Leaders: communities, applications, leaders, pickup points and shopper binding.

State changes live in leaders/services.py; the transition tables of every
status are here, next to the field they guard, and checked by `guard()`.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tuangou import timeutils
from tuangou.private_files import PrivateName, private_storage

# The project's one status guard (re-exported: services import it from here).
from tuangou.statemachine import IllegalTransition, guard  # noqa: F401

# Pauses the storefront selector reads with the shopper's point: from today,
# this many days (the delivery day is at most two days ahead).
UPCOMING_PAUSE_DAYS = 7

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class Community(models.Model):
    """A 小区: shoppers belong to one through the pickup point they choose."""

    name = models.CharField(_("name"), max_length=60)
    city = models.CharField(_("city"), max_length=30)
    district = models.CharField(_("district"), max_length=30)
    warehouse = models.ForeignKey(
        "catalog.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="communities",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["city", "district", "name"]
        constraints = [
            models.UniqueConstraint(fields=["city", "name"], name="leaders_community_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.district} · {self.name}"


class LeaderKind(models.TextChoices):
    CONVENIENCE_STORE = "store", _("Convenience store")  # 便利店 owner
    STAY_AT_HOME_PARENT = "parent", _("Stay-at-home parent")  # 宝妈
    PROPERTY_STAFF = "property", _("Property management")  # 物业
    OTHER = "other", _("Other")  # anyone else the operators trust


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")  # waiting for an operator
    APPROVED = "approved", _("Approved")  # a Leader and first PickupPoint exist
    REJECTED = "rejected", _("Rejected")  # with a reason; the applicant may edit and resubmit


APPLICATION_TRANSITIONS: dict[str, set[str]] = {
    ApplicationStatus.PENDING: {ApplicationStatus.APPROVED, ApplicationStatus.REJECTED},
    ApplicationStatus.REJECTED: {ApplicationStatus.PENDING},
    ApplicationStatus.APPROVED: set(),
}


class LeaderApplication(models.Model):
    """A user asking to become a 团长, reviewed by an operator."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="leader_applications",
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.PENDING,
    )
    real_name = models.CharField(_("real name"), max_length=30)
    phone = models.CharField(_("phone"), max_length=20)
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LeaderKind.choices)
    point_name = models.CharField(_("pickup point name"), max_length=60)
    address = models.CharField(_("pickup address"), max_length=200)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    opening_hours = models.JSONField(_("opening hours"), default=dict)
    # Private: an applicant's shop front (often their home), seen only by them
    # and by reviewers, through leaders:application_photo.
    storefront_photo = models.ImageField(
        _("storefront photo"),
        storage=private_storage,
        upload_to=PrivateName("leaders/applications"),
    )
    reject_reason = models.CharField(_("reason for rejection"), max_length=200, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    # Set when the review result was sent by SMS; a resubmission clears it.
    result_sent_at = models.DateTimeField(_("result sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("leader application")
        verbose_name_plural = _("leader applications")
        ordering = ["-created_at"]
        constraints = [
            # One open application per user: a double submit cannot queue two.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="pending"),
                name="leaders_one_open_application_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.real_name} · {self.point_name}"


class LeaderStatus(models.TextChoices):
    ACTIVE = "active", _("Active")  # reaches the leader pages, points take orders
    SUSPENDED = "suspended", _("Suspended")  # points take no new orders, shoppers choose another


LEADER_TRANSITIONS: dict[str, set[str]] = {
    LeaderStatus.ACTIVE: {LeaderStatus.SUSPENDED},
    LeaderStatus.SUSPENDED: {LeaderStatus.ACTIVE},
}


class Leader(models.Model):
    """A 团长: the neighbour who runs one or more pickup points."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="leader",
    )
    application = models.OneToOneField(
        LeaderApplication,
        verbose_name=_("application"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leader",
    )
    real_name = models.CharField(_("real name"), max_length=30)
    phone = models.CharField(_("phone"), max_length=20)
    kind = models.CharField(_("kind"), max_length=16, choices=LeaderKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=LeaderStatus.choices, default=LeaderStatus.ACTIVE
    )
    # Filled in by the commission issue (#7); a fraction of the line total.
    commission_rate = models.DecimalField(
        _("commission rate"), max_digits=5, decimal_places=4, default="0.1000"
    )
    share_code = models.CharField(_("share code"), max_length=32, unique=True)
    joined_at = models.DateTimeField(_("joined at"))
    suspended_reason = models.CharField(_("reason for suspension"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("leader")
        verbose_name_plural = _("leaders")
        ordering = ["-joined_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(commission_rate__gte=0, commission_rate__lte=1),
                name="leaders_commission_rate_between_0_and_1",
            )
        ]

    def __str__(self) -> str:
        return self.real_name

    @property
    def is_active(self) -> bool:
        return self.status == LeaderStatus.ACTIVE


class PointStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")  # a new point; shoppers do not see it yet
    ACTIVE = "active", _("Open")  # shoppers can choose it
    REJECTED = "rejected", _("Rejected")  # operators turned the new point down
    CLOSED = "closed", _("Closed")  # no longer a pickup point


POINT_TRANSITIONS: dict[str, set[str]] = {
    PointStatus.PENDING: {PointStatus.ACTIVE, PointStatus.REJECTED},
    PointStatus.ACTIVE: {PointStatus.CLOSED},
    PointStatus.CLOSED: {PointStatus.ACTIVE},
    PointStatus.REJECTED: set(),
}


class PickupPointQuerySet(models.QuerySet):
    def visible_to_shoppers(self):
        """Open points of active leaders: the ones a shopper may choose."""
        return self.filter(status=PointStatus.ACTIVE, leader__status=LeaderStatus.ACTIVE)


class PickupPoint(models.Model):
    """A 自提点: where a community's orders are delivered and collected."""

    leader = models.ForeignKey(
        Leader, verbose_name=_("leader"), on_delete=models.PROTECT, related_name="points"
    )
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="points"
    )
    warehouse = models.ForeignKey(
        "catalog.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="pickup_points",
    )
    name = models.CharField(_("name"), max_length=60)
    address = models.CharField(_("address"), max_length=200)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    # {"0": ["08:00", "21:00"], ...}: weekday (Monday = 0) → open, close; a
    # missing weekday is closed. At least one day is open (services check it).
    opening_hours = models.JSONField(_("opening hours"), default=dict)
    daily_capacity = models.PositiveIntegerField(_("orders per day"), default=100)
    status = models.CharField(
        _("status"), max_length=16, choices=PointStatus.choices, default=PointStatus.PENDING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PickupPointQuerySet.as_manager()

    class Meta:
        verbose_name = _("pickup point")
        verbose_name_plural = _("pickup points")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(daily_capacity__gte=1), name="leaders_point_capacity_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_taking_orders(self) -> bool:
        return self.status == PointStatus.ACTIVE and self.leader.status == LeaderStatus.ACTIVE

    def hours_on(self, weekday: int) -> tuple[time, time] | None:
        value = self.opening_hours.get(str(weekday))
        if not value:
            return None
        return time.fromisoformat(value[0]), time.fromisoformat(value[1])

    def pickup_problem_on(self, day: date) -> str | None:
        """Why parcels cannot be collected here on `day`: "paused", "closed" or None.

        "paused": the leader paused that day (PickupPointPause); "closed": the
        point does not open on that weekday. Reads `upcoming_paused_days` when
        the selector annotated it (leaders.selectors.pickup_point_for_shopper,
        no query), else asks the database once.
        """
        paused_days = getattr(self, "upcoming_paused_days", None)
        today = timeutils.local_today()
        if paused_days is None or not today <= day < today + timedelta(days=UPCOMING_PAUSE_DAYS):
            is_paused = PickupPointPause.objects.filter(point=self, day=day).exists()
        else:
            is_paused = day in paused_days
        if is_paused:
            return "paused"
        if self.hours_on(day.weekday()) is None:
            return "closed"
        return None

    def opening_hours_rows(self) -> list[tuple[str, str]]:
        """(weekday label, "08:00–21:00" or "closed") for templates."""
        rows = []
        for number, label in WEEKDAYS:
            value = self.opening_hours.get(str(number))
            rows.append((label, f"{value[0]}–{value[1]}" if value else ""))
        return rows


class PickupPointPhoto(models.Model):
    point = models.ForeignKey(
        PickupPoint, verbose_name=_("pickup point"), on_delete=models.CASCADE, related_name="photos"
    )
    image = models.ImageField(_("photo"), upload_to="leaders/points/%Y/%m/")
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pickup point photo")
        verbose_name_plural = _("pickup point photos")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.point} #{self.pk}"


class PickupPointPause(models.Model):
    """A day the point does not hand out parcels: no deliveries for that day."""

    point = models.ForeignKey(
        PickupPoint, verbose_name=_("pickup point"), on_delete=models.CASCADE, related_name="pauses"
    )
    day = models.DateField(_("day"))
    reason = models.CharField(_("reason"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Set once the bound shoppers were told by SMS: the task may run twice.
    shoppers_told_at = models.DateTimeField(_("shoppers told at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pickup point pause")
        verbose_name_plural = _("pickup point pauses")
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["point", "day"], name="leaders_one_pause_per_point_day")
        ]

    def __str__(self) -> str:
        return f"{self.point} {self.day}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")  # shoppers still see the old address
    APPROVED = "approved", _("Approved")  # the point now has the new address
    REJECTED = "rejected", _("Rejected")  # the old address stays


ADDRESS_CHANGE_TRANSITIONS: dict[str, set[str]] = {
    ReviewStatus.PENDING: {ReviewStatus.APPROVED, ReviewStatus.REJECTED},
    ReviewStatus.APPROVED: set(),
    ReviewStatus.REJECTED: set(),
}


class AddressChange(models.Model):
    """A leader moving a point: operators check the new address before shoppers see it."""

    point = models.ForeignKey(
        PickupPoint,
        verbose_name=_("pickup point"),
        on_delete=models.CASCADE,
        related_name="address_changes",
    )
    address = models.CharField(_("new address"), max_length=200)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    reject_reason = models.CharField(_("reason for rejection"), max_length=200, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)

    class Meta:
        verbose_name = _("address change")
        verbose_name_plural = _("address changes")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["point"],
                condition=models.Q(status="pending"),
                name="leaders_one_pending_address_change_per_point",
            )
        ]

    def __str__(self) -> str:
        return f"{self.point}: {self.address}"


class BindingSource(models.TextChoices):
    SHARE_LINK = "share", _("Leader's share link")  # arrived through a leader's link or QR
    CHOSEN = "chosen", _("Chosen by the shopper")  # picked on the choose page
    SEED = "seed", _("Demo data")  # made by seed_demo


class ShopperBinding(models.Model):
    """The shopper's current pickup point (and so leader and community)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="pickup_binding",
    )
    pickup_point = models.ForeignKey(
        PickupPoint,
        verbose_name=_("pickup point"),
        on_delete=models.PROTECT,
        related_name="bindings",
    )
    leader = models.ForeignKey(
        Leader, verbose_name=_("leader"), on_delete=models.PROTECT, related_name="bindings"
    )
    source = models.CharField(_("source"), max_length=16, choices=BindingSource.choices)
    bound_at = models.DateTimeField(_("first bound at"))
    changed_at = models.DateTimeField(_("last changed at"))

    class Meta:
        verbose_name = _("shopper binding")
        verbose_name_plural = _("shopper bindings")
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.user} → {self.pickup_point}"


class BindingEvent(models.Model):
    """Every bind and switch, for the leader's customer history and analytics."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    from_point = models.ForeignKey(
        PickupPoint,
        verbose_name=_("from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    to_point = models.ForeignKey(
        PickupPoint, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("source"), max_length=16, choices=BindingSource.choices)
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("binding event")
        verbose_name_plural = _("binding events")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user}: {self.from_point or '—'} → {self.to_point or '—'}"


# Commission (issue #7): rules, ledger, settlements, withdrawals. Declared in
# their own module, registered here so they belong to the leaders app.
from .commission.models import (  # noqa: E402, F401
    CommissionAccount,
    CommissionEntry,
    CommissionRule,
    EntryKind,
    PayoutBatch,
    PayoutMethod,
    PeriodKind,
    RuleKind,
    RuleScope,
    Settlement,
    SettlementStatus,
    Withdrawal,
    WithdrawalStatus,
)
