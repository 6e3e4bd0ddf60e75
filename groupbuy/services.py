"""Every write of groupbuy: opening and joining groups, payments and cancellations
reaching a group (the orders hooks), success, expiry, refunds, manual closes and
community threshold deals.

Locks are always taken in the same order: the shopper's advisory lock on
(campaign, user) (per-shopper limits are re-checked under it), group row,
campaign row, then the stock rows (inside place_order, last). Seats are counted with a conditional
UPDATE on the group row (`seats_taken < size` inside the UPDATE), backed by a
CheckConstraint, so the last seat can never be taken twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.cutoff import effective_cutoff
from catalog.services import OutOfStock
from orders.models import Order, OrderKind, OrderStatus, RefundReason
from orders.notices import notify
from orders.pricing import SpecialUnitPrices
from orders.services.checkout import CheckoutError, Want, place_order
from orders.services.lifecycle import confirm_orders
from orders.services.refunds import refund_order
from tuangou import statemachine
from tuangou.outbox import publish_on_commit
from tuangou.timeutils import local_datetime

from .models import (
    GROUP_TRANSITIONS,
    LIVE_MEMBER,
    Campaign,
    CampaignKind,
    CampaignScope,
    CommunityDeal,
    DealOrder,
    DealStatus,
    Group,
    GroupMember,
    GroupStatus,
    MemberStatus,
)

logger = logging.getLogger("tuangou.groupbuy")


class GroupbuyError(Exception):
    """A refusal with a message for the shopper (or operator).

    `code` says what the page may offer next: "full", "closed" → open a new
    group or join another one; "member" → show the shopper's own group.
    """

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


# --- prices and checks ------------------------------------------------------------


def group_price_rule(campaign: Campaign) -> SpecialUnitPrices:
    """The 拼团 price as an orders price rule (a named discount on the line)."""
    return SpecialUnitPrices(
        prices={campaign.sku_id: campaign.group_price},
        kind="group_price",
        label=gettext_lazy("Group price"),
        ref=campaign.code,
    )


def _check_running(campaign: Campaign, now: datetime) -> None:
    if not campaign.is_active or now < campaign.starts_at:
        raise GroupbuyError(_("This group buy has not started yet."), code="closed")
    if now >= campaign.ends_at:
        raise GroupbuyError(_("This group buy has ended."), code="closed")


def _check_point(pickup_point) -> None:
    if pickup_point is None:
        raise GroupbuyError(_("Please choose a pickup point first."), code="no_point")


def _check_quantity(campaign: Campaign, quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise GroupbuyError(_("The quantity must be at least 1."))
    if quantity > campaign.per_order_limit:
        raise GroupbuyError(
            _("At most %(n)d per order in this group buy.") % {"n": campaign.per_order_limit}
        )


def shopper_quantity(*, campaign: Campaign, user) -> int:
    """What the shopper holds or has paid for in this campaign, across all groups."""
    in_groups = GroupMember.objects.filter(
        group__campaign=campaign, user=user, status__in=LIVE_MEMBER
    ).aggregate(n=Sum("quantity"))["n"]
    in_deals = DealOrder.objects.filter(
        deal__campaign=campaign, user=user, status__in=LIVE_MEMBER
    ).aggregate(n=Sum("quantity"))["n"]
    return (in_groups or 0) + (in_deals or 0)


def _check_shopper_limit(campaign: Campaign, user, quantity: int) -> None:
    already = shopper_quantity(campaign=campaign, user=user)
    if already + quantity > campaign.per_shopper_limit:
        left = max(0, campaign.per_shopper_limit - already)
        if left:
            raise GroupbuyError(
                _("Each shopper may buy %(limit)d in this group buy; you can add %(left)d more.")
                % {"limit": campaign.per_shopper_limit, "left": left}
            )
        raise GroupbuyError(
            _("Each shopper may buy %(limit)d in this group buy, and you already have.")
            % {"limit": campaign.per_shopper_limit},
            code="limit",
        )


def _check_scope(group: Group, pickup_point) -> None:
    scope = group.campaign.scope
    if scope == CampaignScope.PICKUP_POINT and pickup_point.pk != group.pickup_point_id:
        raise GroupbuyError(
            _(
                "This group is only for shoppers who pick up at %(point)s. "
                "Open a group at your own pickup point instead."
            )
            % {"point": group.pickup_point.name},
            code="scope",
        )
    if scope == CampaignScope.COMMUNITY and pickup_point.community_id != group.community_id:
        raise GroupbuyError(
            _(
                "This group is only for shoppers of the %(community)s community. "
                "Open a group in your own community instead."
            )
            % {"community": group.community.name},
            code="scope",
        )


def _lock_shopper(campaign: Campaign, user) -> None:
    """Serialise one shopper's taps in one campaign until COMMIT (an advisory lock
    on (campaign, user), taken first in the transaction), so the per-shopper
    limits re-checked after it cannot be exceeded by two taps at once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [campaign.pk, user.pk])


def _check_one_open_group(campaign: Campaign, user) -> None:
    if campaign.allow_many_open:
        return
    mine = Group.objects.filter(
        campaign=campaign,
        opener=user,
        status__in=[GroupStatus.FORMING, GroupStatus.OPEN],
        members__user=user,
        members__status__in=LIVE_MEMBER,
    ).exists()
    if mine:
        raise GroupbuyError(
            _("You already have a group running. Share it, or wait until it closes."),
            code="member",
        )


def _take_campaign_stock(campaign: Campaign, quantity: int) -> None:
    taken = Campaign.objects.filter(
        pk=campaign.pk, stock_taken__lte=F("stock_total") - quantity
    ).update(stock_taken=F("stock_taken") + quantity)
    if not taken:
        raise GroupbuyError(_("This group buy is sold out."), code="sold_out")


def _give_back_campaign_stock(campaign_id: int, quantity: int) -> None:
    Campaign.objects.filter(pk=campaign_id, stock_taken__gte=quantity).update(
        stock_taken=F("stock_taken") - quantity
    )


def _place(
    campaign: Campaign, user, pickup_point, quantity: int, *, deliver_after: datetime
) -> Order:
    """The group (or deal) order, for the first delivery day whose cutoff comes
    after `deliver_after` (when the group or deal is decided)."""

    def place(from_hold: bool) -> Order:
        return place_order(
            user=user,
            wants=[Want(campaign.sku_id, quantity)],
            pickup_point=pickup_point,
            rules=[group_price_rule(campaign)],
            kind=OrderKind.GROUP,
            note=campaign.title,
            deliver_after=deliver_after,
            from_hold=from_hold,
        )

    try:
        try:
            # The day's hold first (units set aside for group buys) ...
            return place(True)
        except OutOfStock:
            # ... and when it is used up, the day's general stock.
            return place(False)
    except (CheckoutError, OutOfStock) as exc:
        raise GroupbuyError(exc.message, code="checkout") from exc


def _set_status(group: Group, new: str, **fields) -> bool:
    """Compare-and-set a group's status along GROUP_TRANSITIONS."""
    statemachine.guard(
        GROUP_TRANSITIONS, group.status, new, _("Group %(code)s") % {"code": group.code}
    )
    moved = Group.objects.filter(pk=group.pk, status=group.status).update(status=new, **fields)
    if moved:
        group.status = new
        for name, value in fields.items():
            setattr(group, name, value)
    return bool(moved)


# --- opening and joining -------------------------------------------------------------


def open_group(*, campaign: Campaign, user, pickup_point, quantity: int = 1) -> GroupMember:
    """Start a group: the opener's order awaits payment; the group opens when it is paid.

    Raises GroupbuyError with the shopper's message; then nothing is written.
    """
    now = timezone.now()
    if campaign.kind != CampaignKind.GROUP:
        raise GroupbuyError(_("This offer is not a group buy."))
    _check_running(campaign, now)
    _check_point(pickup_point)
    _check_quantity(campaign, quantity)
    with transaction.atomic():
        # The shopper's limits, checked under the shopper's lock.
        _lock_shopper(campaign, user)
        _check_shopper_limit(campaign, user, quantity)
        _check_one_open_group(campaign, user)
        group = Group.objects.create(
            campaign=campaign,
            opener=user,
            pickup_point=pickup_point,
            community_id=pickup_point.community_id,
            size=campaign.group_size,
            seats_taken=1,
        )
        _take_campaign_stock(campaign, quantity)
        # The group's deadline is (at the latest) now + the time limit.
        order = _place(
            campaign,
            user,
            pickup_point,
            quantity,
            deliver_after=now + timedelta(hours=campaign.time_limit_hours),
        )
        member = GroupMember.objects.create(
            group=group, user=user, order=order, quantity=quantity, is_opener=True
        )
    return member


def join_group(*, group: Group, user, pickup_point, quantity: int = 1) -> GroupMember:
    """Take a seat in an open group; the seat is held while the joiner pays.

    Exactly `size` seats exist: the seat is taken by a conditional UPDATE on
    the group row (PostgreSQL re-checks `seats_taken < size` after waiting for
    the row lock), so when more shoppers than seats join at once the rest get
    "full" and are offered a new group.
    """
    now = timezone.now()
    campaign = group.campaign
    _check_point(pickup_point)
    # Full, unless an operator refunded a member: then the seat is free again.
    full = group.status == GroupStatus.OPEN and group.seats_taken >= group.size
    if full and settle_refunded_members(group_id=group.pk):
        group.refresh_from_db()
    if group.status == GroupStatus.SUCCEEDED or (
        group.status == GroupStatus.OPEN and group.seats_taken >= group.size
    ):
        raise _full_error()
    if group.status != GroupStatus.OPEN or (group.deadline and group.deadline <= now):
        raise GroupbuyError(
            _("This group has closed. Open a new group, or join another open one."),
            code="closed",
        )
    if GroupMember.objects.filter(group=group, user=user, status__in=LIVE_MEMBER).exists():
        raise GroupbuyError(_("You are already in this group."), code="member")
    _check_running(campaign, now)
    _check_scope(group, pickup_point)
    _check_quantity(campaign, quantity)
    try:
        with transaction.atomic():
            _lock_shopper(campaign, user)
            if GroupMember.objects.filter(group=group, user=user, status__in=LIVE_MEMBER).exists():
                raise GroupbuyError(_("You are already in this group."), code="member")
            _check_shopper_limit(campaign, user, quantity)
            seat = Group.objects.filter(
                pk=group.pk, status=GroupStatus.OPEN, deadline__gt=now, seats_taken__lt=F("size")
            )
            took = seat.update(seats_taken=F("seats_taken") + 1)
            if not took and _settle_refunded(Group.objects.select_for_update().get(pk=group.pk)):
                # A member refunded while we waited for the row: their seat is ours.
                took = seat.update(seats_taken=F("seats_taken") + 1)
            if not took:
                raise _full_error()
            _take_campaign_stock(campaign, quantity)
            order = _place(campaign, user, pickup_point, quantity, deliver_after=group.deadline)
            member = GroupMember.objects.create(
                group=group, user=user, order=order, quantity=quantity
            )
    except IntegrityError as exc:
        if _constraint_of(exc) != "groupbuy_one_live_seat_per_user":
            raise
        # The same shopper tapped 参团 twice at once: one seat, one order.
        raise GroupbuyError(_("You are already in this group."), code="member") from exc
    return member


def _constraint_of(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def _full_error() -> GroupbuyError:
    return GroupbuyError(
        _("This group is full. Open a new group, or join another open one."), code="full"
    )


# --- hooks called by orders inside its transactions ------------------------------------


def on_order_paid(*, order: Order) -> None:
    """settings.ORDER_PAID_HOOKS: a 拼团 or threshold order was paid (now awaiting_group)."""
    member = GroupMember.objects.filter(order_id=order.pk).first()
    if member is not None:
        _member_paid(member, order)
        return
    deal_order = DealOrder.objects.filter(order_id=order.pk).first()
    if deal_order is not None:
        _deal_order_paid(deal_order, order)


def on_order_cancelled(*, order: Order) -> None:
    """settings.ORDER_CANCELLED_HOOKS: an unpaid order was cancelled: its seat goes back."""
    if order.kind != OrderKind.GROUP:
        return
    member = GroupMember.objects.filter(order_id=order.pk).first()
    if member is not None:
        group = Group.objects.select_for_update().get(pk=member.group_id)
        released = GroupMember.objects.filter(pk=member.pk, status=MemberStatus.HOLDING).update(
            status=MemberStatus.RELEASED
        )
        if not released:
            return
        Group.objects.filter(pk=group.pk, seats_taken__gt=0).update(
            seats_taken=F("seats_taken") - 1
        )
        _give_back_campaign_stock(group.campaign_id, member.quantity)
        if member.is_opener and group.status == GroupStatus.FORMING:
            _set_status(
                group,
                GroupStatus.ABANDONED,
                closed_at=timezone.now(),
                close_reason="opener did not pay",
            )
        return
    deal_order = DealOrder.objects.filter(order_id=order.pk).first()
    if deal_order is not None:
        released = DealOrder.objects.filter(pk=deal_order.pk, status=MemberStatus.HOLDING).update(
            status=MemberStatus.RELEASED
        )
        if released:
            campaign_id = CommunityDeal.objects.values_list("campaign_id", flat=True).get(
                pk=deal_order.deal_id
            )
            _give_back_campaign_stock(campaign_id, deal_order.quantity)


def _member_paid(member: GroupMember, order: Order) -> None:
    now = timezone.now()
    group = Group.objects.select_for_update().select_related("campaign").get(pk=member.group_id)
    moved = GroupMember.objects.filter(pk=member.pk, status=MemberStatus.HOLDING).update(
        status=MemberStatus.PAID, paid_at=now
    )
    if not moved:
        return
    Group.objects.filter(pk=group.pk).update(paid_count=F("paid_count") + 1)
    group.paid_count += 1
    if group.status == GroupStatus.FORMING:
        # The clock starts now; the group must still be decided before the
        # cutoff of the opener's delivery day (the opener may have paid late).
        deadline = min(
            now + timedelta(hours=group.campaign.time_limit_hours),
            _decided_by(order, group.campaign),
        )
        _set_status(
            group,
            GroupStatus.OPEN,
            opened_at=now,
            deadline=deadline,
            delivery_date=order.delivery_date,
        )
        schedule_group_expiry(group)
        return
    if group.status == GroupStatus.OPEN:
        # Full only with members who still paid: not one an operator refunded.
        if group.paid_count >= group.size and not _settle_refunded(group):
            _succeed(group, auto=False)
        return
    if group.status == GroupStatus.SUCCEEDED:
        # Auto-completed while this joiner was paying: the seat was theirs.
        confirm_orders(orders=[order], note=f"group {group.code} succeeded")
        notify(order=order, kind="group_succeeded", product=group.campaign.title)
        return
    # The group failed (time limit or closed), or was closed before its opener
    # paid, while this member was paying: the money goes straight back, in this
    # one order's own refund.
    _refund_member_now(member_id=member.pk)


def _decided_by(order: Order, campaign: Campaign) -> datetime:
    """A minute before the cutoff of the order's delivery day: a group deciding by
    then is decided before its goods are picked, and joiners placing their
    orders for this deadline get the same delivery day."""
    cutoff = effective_cutoff(warehouse=order.warehouse, sku=campaign.sku)
    return local_datetime(order.delivery_date - timedelta(days=1), cutoff) - timedelta(minutes=1)


def _succeed(group: Group, *, auto: bool, actor=None) -> None:
    now = timezone.now()
    _set_status(group, GroupStatus.SUCCEEDED, closed_at=now, is_auto_completed=auto)
    orders = list(
        Order.objects.filter(
            group_member__group=group, group_member__status=MemberStatus.PAID
        ).order_by("pk")
    )
    note = f"group {group.code} auto-completed" if auto else f"group {group.code} filled"
    confirm_orders(orders=orders, actor=actor, note=note)
    for order in orders:
        notify(order=order, kind="group_succeeded", product=group.campaign.title)


def schedule_group_expiry(group: Group) -> None:
    """Expire the group exactly at its deadline (the sweeper is the safety net)."""
    from .tasks import expire_group_task

    group_id, deadline = group.pk, group.deadline
    publish_on_commit(expire_group_task, group_id, eta=deadline)


# --- the end of a group ---------------------------------------------------------------


def expire_group(*, group_id: int, now: datetime | None = None) -> str:
    """At the deadline an open group fails (or auto-completes when the campaign
    allows and enough real members paid). Idempotent: a group already closed,
    or not yet due, is left alone. Returns what happened.
    """
    now = now or timezone.now()
    with transaction.atomic():
        group = (
            Group.objects.select_for_update().select_related("campaign").filter(pk=group_id).first()
        )
        if group is None or group.status != GroupStatus.OPEN:
            return "noop"
        if group.deadline > now:
            return "not_due"
        campaign = group.campaign
        _settle_refunded(group)  # count only members who still paid
        if campaign.auto_complete and group.paid_count >= campaign.auto_complete_min_members:
            _succeed(group, auto=True)
            return "auto_completed"
        _fail(group, reason="time limit reached")
    return "failed"


def close_group(*, group: Group, reason: str, actor) -> Group:
    """An operator closes an open group by hand (with a reason): it fails and
    every paid member is refunded, one order at a time."""
    reason = (reason or "").strip()
    if not reason:
        raise GroupbuyError(_("Please give a reason for closing the group."))
    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        if group.status not in (GroupStatus.OPEN, GroupStatus.FORMING):
            raise GroupbuyError(_("Only an open group can be closed."))
        if group.status == GroupStatus.FORMING:
            _set_status(
                group, GroupStatus.ABANDONED, closed_at=timezone.now(), close_reason=reason[:200]
            )
        else:
            _fail(group, reason=reason, actor=actor)
    return group


def _fail(group: Group, *, reason: str, actor=None) -> None:
    _set_status(
        group,
        GroupStatus.FAILED,
        closed_at=timezone.now(),
        close_reason=reason[:200],
        closed_by=actor,
    )
    schedule_group_refunds(group_id=group.pk)


def schedule_group_refunds(*, group_id: int) -> None:
    """One task per paid member, after commit: each refund is its own transaction."""
    from .tasks import refund_group_member_task

    member_ids = list(
        GroupMember.objects.filter(group_id=group_id, status=MemberStatus.PAID)
        .order_by("pk")
        .values_list("pk", flat=True)
    )

    for member_id in member_ids:
        publish_on_commit(refund_group_member_task, member_id)


def refund_group_member(*, member_id: int) -> bool:
    """Refund one paid member of a failed group. Exactly once: the member row is
    locked and moved paid → refunded with the refund in the same transaction."""
    with transaction.atomic():
        return _refund_member_now(member_id=member_id)


def _refund_member_now(*, member_id: int) -> bool:
    member = (
        GroupMember.objects.select_for_update()
        .select_related("group__campaign", "order")
        .filter(pk=member_id)
        .first()
    )
    if member is None or member.status != MemberStatus.PAID:
        return False
    if member.group.status not in (GroupStatus.FAILED, GroupStatus.ABANDONED):
        return False
    order = member.order
    amount = order.payable - order.refunded_amount
    refunded = _refund_order_once(order, note=f"group {member.group.code} failed")
    GroupMember.objects.filter(pk=member.pk).update(status=MemberStatus.REFUNDED)
    _give_back_campaign_stock(member.group.campaign_id, member.quantity)
    if refunded:
        notify(
            order=order,
            kind="group_failed",
            product=member.group.campaign.title,
            amount=amount,
        )
    return refunded


def _refund_order_once(order: Order, *, note: str) -> bool:
    order = Order.objects.get(pk=order.pk)
    if order.status not in (OrderStatus.PAID, OrderStatus.AWAITING_GROUP):
        # Refunded already (an operator, a retry): nothing more to give back.
        return False
    try:
        refund_order(order=order, reason=RefundReason.GROUP_FAILED, note=note)
    except CheckoutError:
        return False
    return True


# --- an operator refunded a member's order -------------------------------------------
#
# orders (layer 3) refunds an order without knowing groupbuy (layer 4): the
# operator's refund in the orders admin, an after-sale refund. groupbuy reads
# the order's state instead (groupbuy/README.md "Refunds from orders"): every
# decision on a group (a join finding it full, the payment that would fill it,
# its expiry) first settles the members whose order was refunded, under the
# group row lock, and the minute sweeper settles the rest.


def _refunded_members(group_id: int):
    return GroupMember.objects.filter(
        group_id=group_id, status=MemberStatus.PAID, order__status=OrderStatus.REFUNDED
    )


def _settle_refunded(group: Group) -> int:
    """Under the caller's lock on `group`'s row: each paid member whose order was
    refunded becomes refunded, exactly once (compare-and-set paid → refunded);
    while the group is open its seat is free again and it no longer counts as
    paid; the campaign gets its units back. Returns how many."""
    if group.status not in (GroupStatus.OPEN, GroupStatus.SUCCEEDED):
        return 0  # a failed group refunds its members itself (refund_group_member)
    members = list(_refunded_members(group.pk).order_by("pk").values_list("pk", "quantity"))
    settled = units = 0
    for member_id, quantity in members:
        if GroupMember.objects.filter(pk=member_id, status=MemberStatus.PAID).update(
            status=MemberStatus.REFUNDED
        ):
            settled += 1
            units += quantity
    if not settled:
        return 0
    if group.status == GroupStatus.OPEN:
        Group.objects.filter(pk=group.pk).update(
            seats_taken=F("seats_taken") - settled, paid_count=F("paid_count") - settled
        )
        group.seats_taken -= settled
        group.paid_count -= settled
    _give_back_campaign_stock(group.campaign_id, units)
    logger.info("group %s: %d refunded member(s) settled", group.code, settled)
    return settled


def settle_refunded_members(*, group_id: int) -> int:
    """Settle the members of one group whose order was refunded (see above).
    Idempotent; safe beside joins, payments and another run (group row lock)."""
    if not _refunded_members(group_id).exists():
        return 0
    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group_id)
        return _settle_refunded(group)


def sweep_groups(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """The periodic safety net: expire due groups whose ETA task was lost, refund
    paid members of failed groups whose refund task was lost, settle due deals,
    settle members whose order an operator refunded ("released")."""
    now = now or timezone.now()
    refunded_groups = list(
        GroupMember.objects.filter(
            status=MemberStatus.PAID,
            order__status=OrderStatus.REFUNDED,
            group__status__in=[GroupStatus.OPEN, GroupStatus.SUCCEEDED],
        )
        .order_by("group_id")
        .values_list("group_id", flat=True)
        .distinct()[:limit]
    )
    released = sum(settle_refunded_members(group_id=pk) for pk in refunded_groups)
    due = list(
        Group.objects.filter(status=GroupStatus.OPEN, deadline__lte=now)
        .order_by("deadline")
        .values_list("pk", flat=True)[:limit]
    )
    expired = sum(1 for pk in due if expire_group(group_id=pk, now=now) != "noop")
    stuck = list(
        GroupMember.objects.filter(group__status=GroupStatus.FAILED, status=MemberStatus.PAID)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    refunded = sum(1 for pk in stuck if refund_group_member(member_id=pk))
    deals = list(
        CommunityDeal.objects.filter(status=DealStatus.OPEN)
        .filter(Q(decide_at__lte=now) | Q(decide_at__isnull=True, campaign__ends_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    settled = sum(1 for pk in deals if settle_deal(deal_id=pk, now=now) != "noop")
    stuck_deal_orders = list(
        DealOrder.objects.filter(deal__status=DealStatus.FAILED, status=MemberStatus.PAID)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    refunded += sum(1 for pk in stuck_deal_orders if refund_deal_order(deal_order_id=pk))
    return {"expired": expired, "refunded": refunded, "settled": settled, "released": released}


# --- operators ---------------------------------------------------------------------------


def check_campaign(*, campaign: Campaign) -> None:
    """The operator's rules for a campaign; raises ValidationError by field.

    The group price must be below the SKU's 团购价, the set-aside cannot drop
    below what orders already took, a threshold deal needs its threshold.
    """
    from django.core.exceptions import ValidationError

    from catalog.models import Sku

    errors: dict[str, str] = {}
    if campaign.group_price is not None and campaign.sku_id:
        sku_price = Sku.objects.values_list("price", flat=True).get(pk=campaign.sku_id)
        if campaign.group_price >= sku_price:
            errors["group_price"] = _(
                "The group price must be lower than the everyday price (¥%(price)s)."
            ) % {"price": sku_price}
    if campaign.pk and campaign.stock_total is not None:
        taken = Campaign.objects.values_list("stock_taken", flat=True).get(pk=campaign.pk)
        if campaign.stock_total < taken:
            errors["stock_total"] = _("%(n)d units are already taken by orders.") % {"n": taken}
    if (
        campaign.hold_per_day is not None
        and campaign.stock_total is not None
        and campaign.hold_per_day > campaign.stock_total
    ):
        errors["hold_per_day"] = _("Cannot hold more per day than the units set aside.")
    if campaign.kind == CampaignKind.THRESHOLD and not campaign.threshold_quantity:
        errors["threshold_quantity"] = _("A community threshold deal needs a threshold.")
    if errors:
        raise ValidationError(errors)


def save_campaign(*, campaign: Campaign, actor=None) -> Campaign:
    """Create or change a campaign (admin), after check_campaign."""
    check_campaign(campaign=campaign)
    campaign.full_clean(exclude=["code"])
    with transaction.atomic():
        if campaign.pk:
            # The counter moves under concurrent orders: never write it back.
            fields = [
                f.name
                for f in Campaign._meta.concrete_fields
                if f.name not in {"id", "stock_taken", "code", "created_at"}
            ]
            campaign.save(update_fields=fields)
        else:
            campaign.save()
    logger.info("campaign %s saved by %s", campaign.code, actor)
    hold_campaign_stock(campaign=campaign, actor=actor)
    release_campaign_holds(campaign=campaign, actor=actor)
    return campaign


# --- the campaign's per-day hold in the catalog ----------------------------------------------


def hold_reference(campaign: Campaign) -> str:
    """The stock ledger reference of a campaign's holds."""
    return f"campaign:{campaign.code}"


def _hold_days(campaign: Campaign, warehouse, now: datetime) -> list:
    """Delivery days a group (or deal) order of the campaign placed from now on can be for."""
    from catalog.cutoff import delivery_date_for

    first = delivery_date_for(warehouse=warehouse, at=max(now, campaign.starts_at))
    last_decided = campaign.ends_at
    if campaign.kind == CampaignKind.GROUP:
        last_decided += timedelta(hours=campaign.time_limit_hours)
    last = delivery_date_for(warehouse=warehouse, at=last_decided)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def hold_campaign_stock(*, campaign: Campaign, actor=None, now: datetime | None = None) -> int:
    """Set the campaign's units aside (hold_per_day) for each active warehouse and each
    delivery day its orders can be for, on days whose stock is open. Each (warehouse,
    day) is held once: a second run (save again, the nightly task) changes nothing, and
    holds only what general sale still has. Returns the number of holds made."""
    from catalog.models import StockLedger, StockReason, StockRecord, Warehouse
    from catalog.services import hold_stock

    now = now or timezone.now()
    if not campaign.is_active or campaign.ends_at <= now or campaign.hold_target <= 0:
        return 0
    reference = hold_reference(campaign)
    made = 0
    for warehouse in Warehouse.objects.filter(is_active=True).order_by("pk"):
        days = _hold_days(campaign, warehouse, now)
        done = set(
            StockLedger.objects.filter(
                reference=reference,
                reason=StockReason.HOLD,
                sku_id=campaign.sku_id,
                warehouse=warehouse,
                delivery_date__in=days,
            ).values_list("delivery_date", flat=True)
        )
        rows = StockRecord.objects.filter(
            sku_id=campaign.sku_id, warehouse=warehouse, delivery_date__in=days
        ).order_by("delivery_date")
        for row in rows:
            amount = min(campaign.hold_target, row.quantity - row.held)
            if row.delivery_date in done or amount <= 0:
                continue
            try:
                hold_stock(
                    sku=campaign.sku,
                    warehouse=warehouse,
                    delivery_date=row.delivery_date,
                    quantity=amount,
                    reference=reference,
                    actor=actor,
                )
            except OutOfStock:
                continue  # shoppers bought them meanwhile: the next run tries again
            made += 1
    return made


def release_campaign_holds(
    *, campaign: Campaign | None = None, actor=None, now: datetime | None = None
) -> int:
    """Give what is left of campaigns' holds back to general sale: for days whose
    cutoff has passed, and for every day of a campaign that is switched off.
    Idempotent. Returns the number of unholds made."""
    from catalog.cutoff import delivery_date_for
    from catalog.models import StockLedger, StockReason, StockRecord, Warehouse
    from catalog.services import InvalidStockChange, unhold_stock

    now = now or timezone.now()
    campaigns = [campaign] if campaign else Campaign.objects.select_related("sku")
    warehouses = {w.pk: w for w in Warehouse.objects.all()}
    made = 0
    for c in campaigns:
        reference = hold_reference(c)
        nets = (
            StockLedger.objects.filter(
                reference=reference, reason__in=[StockReason.HOLD, StockReason.UNHOLD]
            )
            .values("warehouse_id", "delivery_date")
            .annotate(net=Sum("held_delta"))
            .filter(net__gt=0)
            .order_by("warehouse_id", "delivery_date")
        )
        for net in nets:
            warehouse = warehouses[net["warehouse_id"]]
            day = net["delivery_date"]
            if c.is_active and delivery_date_for(warehouse=warehouse, at=now, sku=c.sku) <= day:
                continue  # orders can still be placed for that day
            held = (
                StockRecord.objects.filter(sku_id=c.sku_id, warehouse=warehouse, delivery_date=day)
                .values_list("held", flat=True)
                .first()
            ) or 0
            amount = min(net["net"], held)
            if amount <= 0:
                continue
            try:
                unhold_stock(
                    sku=c.sku,
                    warehouse=warehouse,
                    delivery_date=day,
                    quantity=amount,
                    reference=reference,
                    actor=actor,
                )
            except InvalidStockChange:
                continue  # a group order drew from it meanwhile: the next run
            made += 1
    return made


# --- community threshold deals ------------------------------------------------------------


def join_deal(*, campaign: Campaign, user, pickup_point, quantity: int = 1) -> DealOrder:
    """Order in a threshold deal: counted for the shopper's community once paid."""
    now = timezone.now()
    if campaign.kind != CampaignKind.THRESHOLD:
        raise GroupbuyError(_("This offer is not a community deal."))
    _check_running(campaign, now)
    _check_point(pickup_point)
    _check_quantity(campaign, quantity)
    deal = _deal_for(campaign, pickup_point)
    if deal.status != DealStatus.OPEN or deal.due_at <= now:
        raise GroupbuyError(_("This community deal has closed."), code="closed")
    with transaction.atomic():
        _lock_shopper(campaign, user)
        _check_shopper_limit(campaign, user, quantity)
        _take_campaign_stock(campaign, quantity)
        # Decided at the cutoff of the deal's delivery day: the order is for that day.
        order = _place(
            campaign,
            user,
            pickup_point,
            quantity,
            deliver_after=deal.due_at - timedelta(microseconds=1),
        )
        return DealOrder.objects.create(deal=deal, user=user, order=order, quantity=quantity)


def _deal_for(campaign: Campaign, pickup_point) -> CommunityDeal:
    """The community's deal, made by its first order with its delivery day and
    decision time (the cutoff of that day), and its decision scheduled."""
    from .selectors import deal_schedule

    community_id = pickup_point.community_id
    day, decide_at = deal_schedule(campaign=campaign, warehouse=pickup_point.warehouse)
    try:
        with transaction.atomic():
            deal, created = CommunityDeal.objects.get_or_create(
                campaign=campaign,
                community_id=community_id,
                defaults={"delivery_date": day, "decide_at": decide_at},
            )
            if created:
                schedule_deal_decision(deal)
    except IntegrityError:
        deal = CommunityDeal.objects.get(campaign=campaign, community_id=community_id)
    deal.campaign = campaign
    return deal


def schedule_deal_decision(deal: CommunityDeal) -> None:
    """Decide the deal exactly at its cutoff (the sweeper is the safety net)."""
    from .tasks import settle_deal_task

    deal_id, eta = deal.pk, deal.decide_at
    publish_on_commit(settle_deal_task, deal_id, eta=eta)


def _deal_order_paid(deal_order: DealOrder, order: Order) -> None:
    deal = (
        CommunityDeal.objects.select_for_update()
        .select_related("campaign")
        .get(pk=deal_order.deal_id)
    )
    moved = DealOrder.objects.filter(pk=deal_order.pk, status=MemberStatus.HOLDING).update(
        status=MemberStatus.PAID
    )
    if not moved:
        return
    CommunityDeal.objects.filter(pk=deal.pk).update(
        paid_quantity=F("paid_quantity") + deal_order.quantity
    )
    if deal.status == DealStatus.SUCCEEDED:
        confirm_orders(orders=[order], note="community deal reached")
        notify(order=order, kind="group_succeeded", product=deal.campaign.title)
    elif deal.status == DealStatus.FAILED:
        _refund_deal_order_now(deal_order_id=deal_order.pk)


def settle_deal(*, deal_id: int, now: datetime | None = None) -> str:
    """At the cutoff of the deal's delivery day (`decide_at`, before its goods are
    picked): reached → every paid order confirmed; not reached → every paid
    order in the community refunded, one task each. Idempotent."""
    from .tasks import refund_deal_order_task

    now = now or timezone.now()
    with transaction.atomic():
        deal = (
            CommunityDeal.objects.select_for_update()
            .select_related("campaign")
            .filter(pk=deal_id)
            .first()
        )
        if deal is None or deal.status != DealStatus.OPEN:
            return "noop"
        if deal.due_at > now:
            return "not_due"
        paid = DealOrder.objects.filter(deal=deal, status=MemberStatus.PAID).order_by("pk")
        if deal.paid_quantity >= deal.campaign.threshold_quantity:
            CommunityDeal.objects.filter(pk=deal.pk).update(
                status=DealStatus.SUCCEEDED, closed_at=now
            )
            orders = list(Order.objects.filter(community_deal_order__in=paid).order_by("pk"))
            confirm_orders(orders=orders, note="community deal reached")
            for order in orders:
                notify(order=order, kind="group_succeeded", product=deal.campaign.title)
            return "succeeded"
        CommunityDeal.objects.filter(pk=deal.pk).update(status=DealStatus.FAILED, closed_at=now)
        ids = list(paid.values_list("pk", flat=True))
        for pk in ids:
            publish_on_commit(refund_deal_order_task, pk)
    return "failed"


def refund_deal_order(*, deal_order_id: int) -> bool:
    with transaction.atomic():
        return _refund_deal_order_now(deal_order_id=deal_order_id)


def _refund_deal_order_now(*, deal_order_id: int) -> bool:
    deal_order = (
        DealOrder.objects.select_for_update()
        .select_related("deal__campaign", "order")
        .filter(pk=deal_order_id)
        .first()
    )
    if deal_order is None or deal_order.status != MemberStatus.PAID:
        return False
    if deal_order.deal.status != DealStatus.FAILED:
        return False
    order = deal_order.order
    amount = order.payable - order.refunded_amount
    refunded = _refund_order_once(order, note="community threshold not reached")
    DealOrder.objects.filter(pk=deal_order.pk).update(status=MemberStatus.REFUNDED)
    _give_back_campaign_stock(deal_order.deal.campaign_id, deal_order.quantity)
    if refunded:
        notify(
            order=order, kind="group_failed", product=deal_order.deal.campaign.title, amount=amount
        )
    return refunded


__all__ = [
    "GroupbuyError",
    "check_campaign",
    "close_group",
    "expire_group",
    "group_price_rule",
    "join_deal",
    "join_group",
    "on_order_cancelled",
    "on_order_paid",
    "open_group",
    "refund_deal_order",
    "refund_group_member",
    "save_campaign",
    "settle_deal",
    "shopper_quantity",
    "sweep_groups",
]
