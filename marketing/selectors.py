"""The reads of the coupon and points pages (领券中心, 我的优惠券, 我的积分, the
operators' issue jobs). Each states its query count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from .models import (
    Coupon,
    CouponChannel,
    CouponIssueJob,
    CouponStatus,
    CouponTemplate,
    PointsEntry,
    ValidityKind,
)
from .services.points import balance_of

S = CouponStatus


@dataclass(frozen=True)
class ClaimCard:
    """A template in the 领券中心 with what is left and what this shopper has."""

    template: CouponTemplate
    left: int | None  # None: unlimited
    held: int  # coupons of it this shopper holds (any status but revoked)

    @property
    def is_sold_out(self) -> bool:
        return self.left is not None and self.left <= 0

    @property
    def can_claim(self) -> bool:
        return not self.is_sold_out and self.held < self.template.per_user_limit

    @property
    def left_percent(self) -> int:
        total = self.template.total_quantity
        if not total or self.left is None:
            return 100
        return max(0, min(100, round(100 * self.left / total)))


def claim_centre(*, user=None, now: datetime | None = None) -> list[ClaimCard]:
    """Active claim-centre templates still in their dates (2 queries, 1 signed out)."""
    now = now or timezone.now()
    templates = list(
        CouponTemplate.objects.filter(channel=CouponChannel.CLAIM_CENTRE, is_active=True)
        .exclude(validity=ValidityKind.FIXED_DATES, valid_until__lte=now)
        .order_by("-created_at", "pk")
    )
    held: dict[int, int] = {}
    if user is not None and user.is_authenticated and templates:
        held = dict(
            Coupon.objects.filter(user=user, template__in=templates)
            .exclude(status=S.REVOKED)
            .values("template")
            .annotate(n=Count("pk"))
            .values_list("template", "n")
        )
    return [
        ClaimCard(
            template=t,
            left=None if t.total_quantity is None else t.total_quantity - t.issued,
            held=held.get(t.pk, 0),
        )
        for t in templates
    ]


WALLET_TABS = ("unused", "used", "expired")


def wallet(*, user, tab: str, now: datetime | None = None) -> list[Coupon]:
    """我的优惠券, one tab (1 query): 未使用 (unused and still valid, and those
    an unpaid order holds), 已使用, 已过期 (expired, or past their end and not
    yet swept)."""
    now = now or timezone.now()
    coupons = Coupon.objects.filter(user=user).select_related("template")
    if tab == "used":
        coupons = coupons.filter(status=S.USED).order_by("-used_at", "-pk")
    elif tab == "expired":
        coupons = coupons.filter(
            Q(status=S.EXPIRED) | Q(status=S.UNUSED, valid_until__lte=now)
        ).order_by("-valid_until", "-pk")
    else:
        coupons = coupons.filter(
            Q(status=S.UNUSED, valid_until__gt=now) | Q(status=S.LOCKED)
        ).order_by("valid_until", "pk")
    return list(coupons[:200])


def wallet_counts(*, user, now: datetime | None = None) -> dict[str, int]:
    """How many coupons in each tab (1 query)."""
    now = now or timezone.now()
    return Coupon.objects.filter(user=user).aggregate(
        unused=Count("pk", filter=Q(status=S.UNUSED, valid_until__gt=now) | Q(status=S.LOCKED)),
        used=Count("pk", filter=Q(status=S.USED)),
        expired=Count("pk", filter=Q(status=S.EXPIRED) | Q(status=S.UNUSED, valid_until__lte=now)),
    )


def usable_coupon_count(*, user, now: datetime | None = None) -> int:
    """For the 我的 page (1 query)."""
    now = now or timezone.now()
    return Coupon.objects.filter(
        user=user, status=S.UNUSED, valid_from__lte=now, valid_until__gt=now
    ).count()


def me_benefits(*, user, now: datetime | None = None) -> dict[str, int]:
    """我的: usable coupons and the points balance, in one query."""
    from django.contrib.auth import get_user_model
    from django.db.models import IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from .models import PointsAccount

    now = now or timezone.now()
    usable = (
        Coupon.objects.filter(
            user=OuterRef("pk"), status=S.UNUSED, valid_from__lte=now, valid_until__gt=now
        )
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    balance = PointsAccount.objects.filter(user=OuterRef("pk")).values("balance")[:1]
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            usable_coupons=Coalesce(Subquery(usable, output_field=IntegerField()), Value(0)),
            points_balance=Coalesce(Subquery(balance, output_field=IntegerField()), Value(0)),
        )
        .values_list("usable_coupons", "points_balance")
        .first()
    ) or (0, 0)
    return {"coupons": row[0], "points": row[1]}


@dataclass(frozen=True)
class PointsPage:
    balance: int
    entries: list[PointsEntry]
    expiring_soon: int  # earned points that expire at the next deadline


POINTS_PER_PAGE = 50


def points_page(*, user, now: datetime | None = None) -> PointsPage:
    """我的积分: balance and the latest entries (3 queries)."""
    from .services.points import expiring_points

    now = now or timezone.now()
    nearest = (
        PointsEntry.objects.filter(user=user, delta__gt=0, expires_at__gt=now)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    return PointsPage(
        balance=balance_of(user=user),
        entries=list(
            PointsEntry.objects.filter(user=user).order_by("-created_at", "-pk")[:POINTS_PER_PAGE]
        ),
        expiring_soon=expiring_points(user_id=user.pk, at=nearest) if nearest else 0,
    )


def issue_jobs(*, limit: int = 20) -> list[CouponIssueJob]:
    return list(
        CouponIssueJob.objects.select_related("template", "community", "pickup_point").order_by(
            "-created_at"
        )[:limit]
    )
