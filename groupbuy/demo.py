"""Demo 拼团: two running group campaigns with open, succeeded and failed groups,
and a community threshold deal part of the way there. Idempotent.

Runs after catalog, leaders and orders demos (settings.LOCAL_APPS order).
Everything goes through the services and the sandbox payment provider's signed
notification, like real shoppers; a failed group is expired at its deadline
by the same service the expiry task calls.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from catalog.cutoff import delivery_date_for
from catalog.models import Sku
from catalog.services import roll_stock_forward
from leaders.selectors import pickup_point_for_shopper
from tuangou.accounts.models import User
from tuangou.money import to_fen, to_money

from . import services
from .models import Campaign, CampaignKind, CampaignScope, Group
from .selectors import deal_schedule

CAMPAIGNS = [
    # code, title, product code, group price, size, hours, auto-complete %, kind, threshold
    ("demo-apple-3", "红富士苹果 3人团", "fuji-apple", "15.90", 3, 24, None, "group", 0),
    ("demo-tomato-3", "西红柿 3人团", "tomato", "2.99", 3, 12, 60, "group", 0),
    ("demo-melon-20", "麒麟西瓜 小区满20个成团", "watermelon", None, 2, 24, None, "threshold", 20),
]


def _pay(order) -> None:
    """Pay like WeChat would: prepay, then the sandbox's signed notification."""
    from orders.payments import sandbox
    from orders.services.payments import handle_payment_notification, start_payment

    payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    handle_payment_notification(headers=headers, body=body)


def _campaign(row, now) -> Campaign | None:
    code, title, product_code, price, size, hours, auto, kind, threshold = row
    sku = Sku.objects.filter(product__code=product_code).order_by("position", "pk").first()
    if sku is None:
        return None
    existing = Campaign.objects.filter(code=code).first()
    if existing is not None:
        return existing
    group_price = Decimal(price) if price else to_money(sku.price * Decimal("0.8"))
    campaign = Campaign(
        code=code,
        title=title,
        kind=kind,
        sku=sku,
        group_price=group_price,
        group_size=size,
        time_limit_hours=hours,
        starts_at=now - timedelta(days=1),
        # A threshold deal is decided at the cutoff after its end, and its
        # orders delivered the next day: within the two days of stock open.
        ends_at=now + (timedelta(hours=12) if kind == "threshold" else timedelta(days=6)),
        stock_total=60,
        per_order_limit=2,
        per_shopper_limit=4,
        allow_many_open=True,
        scope=CampaignScope.ANYONE if kind == "group" else CampaignScope.COMMUNITY,
        auto_complete=auto is not None,
        auto_complete_min_percent=auto or 60,
        threshold_quantity=threshold,
    )
    return services.save_campaign(campaign=campaign)


def _shoppers() -> list[tuple[User, object]]:
    users = User.objects.filter(username__startswith="shopper").order_by("username")
    found = []
    for user in users:
        point = pickup_point_for_shopper(user=user)
        if point is not None:
            found.append((user, point))
    return found


def _delivery_days(campaigns, warehouses, now) -> set:
    """The days the demo's orders are delivered on, seeded at `now`.

    A group order is for the first delivery day after the group is decided
    (now + its time limit), a deal order for the deal's day: seeded in the
    evening after the cutoff that is three days ahead, past the two days the
    catalog opens. The same rules the services apply (catalog.cutoff,
    groupbuy.selectors.deal_schedule).
    """
    days = set()
    for campaign in campaigns:
        for warehouse in warehouses:
            if campaign.kind == CampaignKind.THRESHOLD:
                days.add(deal_schedule(campaign=campaign, warehouse=warehouse)[0])
            else:
                decided = now + timedelta(hours=campaign.time_limit_hours)
                days.add(delivery_date_for(warehouse=warehouse, at=decided, sku=campaign.sku))
    return days


def _group(campaign, opener, joiners, *, pay_joiners=True) -> Group | None:
    user, point = opener
    try:
        member = services.open_group(campaign=campaign, user=user, pickup_point=point)
        _pay(member.order)
        group = Group.objects.get(pk=member.group_id)
        for joiner, joiner_point in joiners:
            seat = services.join_group(group=group, user=joiner, pickup_point=joiner_point)
            if pay_joiners:
                _pay(seat.order)
            group.refresh_from_db()
    except services.GroupbuyError:
        return None
    return group


def seed(*, stdout) -> None:
    if settings.PAYMENT_PROVIDER != "sandbox":
        stdout.write("  groupbuy: skipped (demo payments need the sandbox provider)")
        return
    now = timezone.now()
    campaigns = [c for c in (_campaign(row, now) for row in CAMPAIGNS) if c is not None]
    shoppers = _shoppers()
    days = _delivery_days(campaigns, {point.warehouse for _user, point in shoppers}, now)
    # Whenever the demo is seeded (23:30, a Saturday): the campaigns' goods are
    # on sale for the days their orders are for, and the neighbours who take
    # part collect at points open on those days (some close on Sundays).
    roll_stock_forward(days=days, skus=[c.sku for c in campaigns])
    shoppers = [
        (user, point)
        for user, point in shoppers
        if all(point.pickup_problem_on(day) is None for day in days)
    ]
    if len(campaigns) < 3 or len(shoppers) < 4:
        stdout.write("  groupbuy: skipped (needs the catalog and leaders demo data)")
        return
    apple, tomato, melon = campaigns
    s = shoppers
    if not apple.groups.exists():
        # Succeeded: three neighbours filled it.
        _group(apple, s[0], [s[1], s[2]])
        # Open: two of three, the last seat is free.
        _group(apple, s[3], [s[0]])
    if not tomato.groups.exists():
        # Failed: nobody joined in time (auto-complete needs 2 of 3 paid); refunded.
        failed = _group(tomato, s[1], [])
        if failed is not None:
            services.expire_group(group_id=failed.pk, now=failed.deadline)
            for member in failed.members.filter(status="paid"):
                services.refund_group_member(member_id=member.pk)
        # Open, with a joiner still paying (the seat is held).
        _group(tomato, s[2], [s[3]], pay_joiners=False)
    if melon.kind == CampaignKind.THRESHOLD and not melon.deals.exists():
        for user, point in s[:3]:
            try:
                _pay(
                    services.join_deal(
                        campaign=melon, user=user, pickup_point=point, quantity=2
                    ).order
                )
            except services.GroupbuyError:
                continue
    stdout.write(
        f"  groupbuy: {Campaign.objects.count()} campaigns, "
        f"{Group.objects.filter(status='open').count()} open groups, "
        f"{Group.objects.filter(status='succeeded').count()} succeeded, "
        f"{Group.objects.filter(status='failed').count()} failed"
    )
