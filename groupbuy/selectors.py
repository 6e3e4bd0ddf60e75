"""Reads for groupbuy pages, the admin and other apps (no N+1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, F, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from catalog.cutoff import delivery_date_for, effective_cutoff
from tuangou.money import ZERO, to_money
from tuangou.timeutils import local_datetime

from .models import (
    LIVE_MEMBER,
    Campaign,
    CampaignKind,
    CampaignScope,
    CommunityDeal,
    Group,
    GroupMember,
    GroupStatus,
    MemberStatus,
)

PUBLIC_STATUSES = [GroupStatus.OPEN, GroupStatus.SUCCEEDED, GroupStatus.FAILED]


def _live_members() -> Prefetch:
    return Prefetch(
        "members",
        queryset=GroupMember.objects.filter(status__in=LIVE_MEMBER)
        .select_related("user")
        .order_by("-is_opener", "joined_at", "pk"),
        to_attr="live_members",
    )


def running_campaign_for_product(*, product, now: datetime | None = None) -> Campaign | None:
    """The campaign running now on one of the product's SKUs (the newest wins)."""
    now = now or timezone.now()
    return (
        Campaign.objects.filter(
            sku__product=product, is_active=True, starts_at__lte=now, ends_at__gt=now
        )
        .select_related("sku__product")
        .order_by("-starts_at", "-pk")
        .first()
    )


def delivery_date_if_decided(
    *, campaign: Campaign, warehouse, now: datetime | None = None
) -> date | None:
    """The day an order placed now in the campaign is delivered (once its group
    fills, or its community deal is reached): the first delivery day whose
    cutoff comes after the moment it is decided. None without a warehouse."""
    if warehouse is None:
        return None
    now = now or timezone.now()
    if campaign.is_threshold:
        return deal_schedule(campaign=campaign, warehouse=warehouse)[0]
    decided = now + timedelta(hours=campaign.time_limit_hours)
    return delivery_date_for(warehouse=warehouse, at=decided, sku=campaign.sku)


def deal_schedule(*, campaign: Campaign, warehouse) -> tuple[date, datetime]:
    """A threshold deal's delivery day and the moment it is decided.

    The day is the one an order placed at the campaign's last moment is for;
    the deal is decided at that day's cutoff (at or after the campaign's end),
    so every order of the community ships together, and only once decided.
    """
    last_moment = campaign.ends_at - timedelta(microseconds=1)
    day = delivery_date_for(warehouse=warehouse, at=last_moment, sku=campaign.sku)
    cutoff = effective_cutoff(warehouse=warehouse, sku=campaign.sku)
    return day, local_datetime(day - timedelta(days=1), cutoff)


# Who a group page shows: everyone who took a seat and did not leave unpaid
# (a failed group still shows the neighbours who paid, now refunded).
SHOWN_MEMBER = [MemberStatus.HOLDING, MemberStatus.PAID, MemberStatus.REFUNDED]


def _shown_members() -> Prefetch:
    return Prefetch(
        "members",
        queryset=GroupMember.objects.filter(status__in=SHOWN_MEMBER)
        .select_related("user", "order")
        .order_by("-is_opener", "joined_at", "pk"),
        to_attr="shown_members",
    )


def campaign_by_code(*, code: str) -> Campaign | None:
    return Campaign.objects.select_related("sku__product").filter(code=code).first()


def open_groups_to_join(
    *, campaign: Campaign, pickup_point=None, user=None, limit: int = 5
) -> list[Group]:
    """附近正在拼的团: open groups with a free seat at the shopper's pickup point or
    in its community (the same point first), the shopper's own groups left out,
    scope rules applied. None without a point: "near" means nothing then.
    Members prefetched."""
    if pickup_point is None:
        return []
    now = timezone.now()
    groups = Group.objects.filter(
        campaign=campaign, status=GroupStatus.OPEN, deadline__gt=now, seats_taken__lt=F("size")
    )
    if user is not None and user.is_authenticated:
        groups = groups.exclude(members__user=user, members__status__in=LIVE_MEMBER)
    if campaign.scope == CampaignScope.PICKUP_POINT:
        groups = groups.filter(pickup_point=pickup_point)
    else:
        # A group across town is no neighbour's group, whatever the campaign allows.
        groups = groups.filter(
            Q(pickup_point=pickup_point) | Q(community_id=pickup_point.community_id)
        )
    groups = groups.annotate(nearness=Count("pk", filter=Q(pickup_point=pickup_point))).order_by(
        "-nearness", "deadline", "pk"
    )
    return list(
        groups.select_related("pickup_point", "opener").prefetch_related(_live_members())[:limit]
    )


def group_by_code(*, code: str) -> Group | None:
    """A group as its page shows it (never one that did not open), with the
    members it shows (`shown_members`, their users and orders)."""
    return (
        Group.objects.filter(code=code, status__in=PUBLIC_STATUSES)
        .select_related("campaign__sku__product", "pickup_point__leader", "community", "opener")
        .prefetch_related(_shown_members())
        .first()
    )


def group_for_order(order) -> Group | None:
    """The group of a 拼团 order (for 待成团 order pages), or None."""
    return Group.objects.filter(members__order_id=order.pk).select_related("campaign").first()


def groups_for_orders(orders) -> dict[int, GroupMember]:
    """{order id: its group membership (group and campaign joined)} for a page of
    orders, in one query (none when no order is a 拼团 order)."""
    ids = [o.pk for o in orders if getattr(o, "kind", None) == "group"]
    if not ids:
        return {}
    members = GroupMember.objects.filter(order_id__in=ids).select_related("group__campaign")
    return {member.order_id: member for member in members}


def member_for_order(order) -> GroupMember | None:
    return GroupMember.objects.select_related("group__campaign").filter(order_id=order.pk).first()


def membership(*, group: Group, user) -> GroupMember | None:
    if not user.is_authenticated:
        return None
    return (
        GroupMember.objects.filter(group=group, user=user, status__in=LIVE_MEMBER)
        .select_related("order")
        .first()
    )


@dataclass(frozen=True)
class DealProgress:
    deal: CommunityDeal | None
    paid_quantity: int
    target: int

    @property
    def percent(self) -> int:
        if not self.target:
            return 0
        return min(100, self.paid_quantity * 100 // self.target)

    @property
    def remaining(self) -> int:
        return max(0, self.target - self.paid_quantity)


def deal_progress(*, campaign: Campaign, community_id: int | None) -> DealProgress:
    deal = (
        CommunityDeal.objects.filter(campaign=campaign, community_id=community_id).first()
        if community_id
        else None
    )
    return DealProgress(
        deal=deal,
        paid_quantity=deal.paid_quantity if deal else 0,
        target=campaign.threshold_quantity,
    )


@dataclass(frozen=True)
class CampaignStats:
    opened: int
    succeeded: int
    auto_completed: int
    failed: int
    open_now: int
    members: int
    gmv: Decimal
    refunds: Decimal
    average_fill_minutes: int | None

    @property
    def success_rate(self) -> int | None:
        closed = self.succeeded + self.failed
        return None if not closed else round(self.succeeded * 100 / closed)


def campaign_stats(*, campaign: Campaign) -> CampaignStats:
    """Groups opened, succeeded, failed, success rate, average time to fill,
    paid members, GMV (paid, net of refunds) and refunds: 4 queries."""
    groups = Group.objects.filter(campaign=campaign).aggregate(
        opened=Count("pk", filter=Q(status__in=PUBLIC_STATUSES)),
        succeeded=Count("pk", filter=Q(status=GroupStatus.SUCCEEDED)),
        auto=Count("pk", filter=Q(status=GroupStatus.SUCCEEDED, is_auto_completed=True)),
        failed=Count("pk", filter=Q(status=GroupStatus.FAILED)),
        open_now=Count("pk", filter=Q(status=GroupStatus.OPEN)),
        fill=Avg(
            F("closed_at") - F("opened_at"),
            filter=Q(status=GroupStatus.SUCCEEDED, is_auto_completed=False),
        ),
    )
    paid = [MemberStatus.PAID, MemberStatus.REFUNDED]
    money = GroupMember.objects.filter(group__campaign=campaign, status__in=paid).aggregate(
        members=Count("pk"),
        paid=Sum("order__payable"),
        refunded=Sum("order__refunded_amount"),
    )
    from .models import DealOrder

    deal_money = DealOrder.objects.filter(deal__campaign=campaign, status__in=paid).aggregate(
        members=Count("pk"),
        paid=Sum("order__payable"),
        refunded=Sum("order__refunded_amount"),
    )
    paid_total = (money["paid"] or ZERO) + (deal_money["paid"] or ZERO)
    refunded = (money["refunded"] or ZERO) + (deal_money["refunded"] or ZERO)
    fill = groups["fill"]
    return CampaignStats(
        opened=groups["opened"],
        succeeded=groups["succeeded"],
        auto_completed=groups["auto"],
        failed=groups["failed"],
        open_now=groups["open_now"],
        members=money["members"] + deal_money["members"],
        gmv=to_money(paid_total - refunded),
        refunds=to_money(refunded),
        average_fill_minutes=None if fill is None else int(fill.total_seconds() // 60),
    )


def running_campaigns() -> QuerySet[Campaign]:
    now = timezone.now()
    return Campaign.objects.filter(
        is_active=True, starts_at__lte=now, ends_at__gt=now
    ).select_related("sku__product")


def is_threshold(campaign: Campaign) -> bool:
    return campaign.kind == CampaignKind.THRESHOLD
