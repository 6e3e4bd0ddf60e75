"""Demo 秒杀 sessions and 老带新 invitations (called by seed_demo; idempotent).

    seed(*, stdout, now=None)

- 午间秒杀: running now (Redis gate), three SKUs at flash prices;
- 晚8点秒杀: later today (database mode), two SKUs;
- the demo shopper 张阿姨's invitations, one in each status: waiting for the
  first pickup, rewarded (with her coupon), rejected (a fraud rule) and
  cancelled (the first order refunded). The demo's own orders belong to the
  orders app, which seeds after marketing: these referrals carry no first
  order, their reasons say what happened.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Sku
from tuangou.accounts.models import User
from tuangou.timeutils import local_datetime, to_local

from .models import (
    CouponChannel,
    CouponKind,
    CouponTemplate,
    FlashSale,
    FlashSaleItem,
    GateMode,
    Referral,
    ReferralStatus,
    ValidityKind,
)
from .services import flash, referrals

RUNNING = ("午间秒杀", GateMode.REDIS, [("fuji-apple-1", "9.90", 50), ("tomato-1", "0.99", 100),
                                         ("broccoli-1", "1.99", 60)])  # fmt: skip
LATER = ("晚8点秒杀", GateMode.DATABASE, [("potato-1", "0.99", 80), ("cabbage-1", "1.99", 40)])

INVITEES = [
    # username, phone, nickname, status
    ("invitee1", "+8613511110001", "新邻居小周", ReferralStatus.PENDING),
    ("invitee2", "+8615922220002", "新邻居小吴", ReferralStatus.REWARDED),
    ("invitee3", "+8613800139999", "新邻居小郑", ReferralStatus.REJECTED),
    ("invitee4", "+8618633330004", "新邻居小冯", ReferralStatus.CANCELLED),
]


def _session(name, mode, rows, *, starts_at, ends_at) -> FlashSale | None:
    skus = {s.code: s for s in Sku.objects.filter(code__in=[code for code, _p, _q in rows])}
    if not skus:
        return None
    day = to_local(starts_at).date()
    day_start = local_datetime(day, to_local(starts_at).time().replace(hour=0, minute=0))
    sale = FlashSale.objects.filter(
        name=name, starts_at__gte=day_start, starts_at__lt=day_start + timedelta(days=1)
    ).first() or FlashSale(name=name)
    sale.starts_at, sale.ends_at, sale.gate_mode, sale.is_active = starts_at, ends_at, mode, True
    sale.save()
    for position, (code, price, quota) in enumerate(rows):
        sku = skus.get(code)
        if sku is None or Decimal(price) >= sku.price:
            continue
        FlashSaleItem.objects.update_or_create(
            sale=sale,
            sku=sku,
            defaults={"price": Decimal(price), "quota": quota, "position": position},
        )
    flash.save_flash_sale(sale=sale)
    return sale


def _referral_templates() -> tuple[CouponTemplate, CouponTemplate]:
    gift, _made = CouponTemplate.objects.get_or_create(
        name="好友首单立减5元",
        channel=CouponChannel.REFERRAL,
        defaults={
            "kind": CouponKind.NO_THRESHOLD,
            "amount": Decimal("5.00"),
            "threshold": Decimal("0.00"),
            "validity": ValidityKind.DAYS_AFTER_ISSUE,
            "valid_days": 14,
        },
    )
    reward, _made = CouponTemplate.objects.get_or_create(
        name="邀请奖励满30减10",
        channel=CouponChannel.REFERRAL,
        defaults={
            "kind": CouponKind.FIXED,
            "amount": Decimal("10.00"),
            "threshold": Decimal("30.00"),
            "validity": ValidityKind.DAYS_AFTER_ISSUE,
            "valid_days": 30,
            "per_user_limit": 50,
        },
    )
    return gift, reward


def _invitations(now) -> int:
    inviter = User.objects.filter(username="shopper").first()
    if inviter is None:
        return 0
    _gift, reward = _referral_templates()
    code = referrals.invite_code_for(user=inviter).code
    made = 0
    for username, phone, nickname, status in INVITEES:
        invitee, _created = User.objects.get_or_create(
            username=username,
            defaults={"phone": phone, "phone_verified": True, "nickname": nickname},
        )
        referral = Referral.objects.filter(invitee=invitee).first()
        if referral is None:
            referral = referrals.record_referral(invitee=invitee, code=code, now=now)
            made += 1
        if referral is None or referral.status != ReferralStatus.PENDING:
            continue
        if status == ReferralStatus.REWARDED:
            from .services.coupons import issue_coupon

            referral.inviter_coupon = issue_coupon(
                template=reward, user=inviter, key=f"referral:{referral.pk}", now=now
            )
            referral.status, referral.rewarded_at = status, now
        elif status == ReferralStatus.REJECTED:
            referral.status = status
            referral.reject_reason = _(
                "The invited shopper collects at the inviter's pickup point with a phone "
                "number of the same block: taken for the inviter's own second account."
            )
        elif status == ReferralStatus.CANCELLED:
            referral.status = status
            referral.reject_reason = _("The first order was refunded.")
        referral.save()
    return made


def seed(*, stdout, now=None) -> None:
    now = now or timezone.now()
    local = to_local(now)
    running = _session(
        *RUNNING[:2],
        RUNNING[2],
        starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(hours=2),
    )
    # Later today: 20:00, or two hours from now when it is already late (never past midnight).
    evening = local_datetime(local.date(), local.time().replace(hour=20, minute=0, second=0,
                                                                  microsecond=0))  # fmt: skip
    starts = max(evening, now + timedelta(hours=2, minutes=30))
    midnight = local_datetime(local.date() + timedelta(days=1), local.time().replace(
        hour=0, minute=0, second=0, microsecond=0))  # fmt: skip
    if starts + timedelta(minutes=30) > midnight:
        starts = midnight - timedelta(minutes=45)
    later = _session(*LATER[:2], LATER[2], starts_at=starts, ends_at=starts + timedelta(minutes=40))
    made = _invitations(now)
    stdout.write(
        f"  flash sales: {running.name if running else '-'} (running), "
        f"{later.name if later else '-'} (from {to_local(starts):%H:%M}); "
        f"{made} invitations"
    )
