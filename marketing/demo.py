"""Demo coupons, points and a 满减 promotion (called by seed_demo; idempotent).

    seed(*, stdout)       before orders: templates for every channel, the
                          promotion, coupons unused / expired / revoked, a
                          points history; then the 秒杀 and 老带新 demo of M2
                          (marketing/demo_flash.py).
    seed_late(*, stdout)  after orders (seed_demo's second pass): 张阿姨
                          checks out with the best coupon and points (paid:
                          the coupon is used) and leaves one order unpaid
                          (its coupon locked), through the real services.

So 张阿姨 (shopper) has a coupon in every state and a points history, and
the demo orders the orders app completes earn points and 满额返券 through
the same path as real ones.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from catalog.models import Category
from tuangou.accounts.models import User
from tuangou.timeutils import local_datetime, to_local

from .models import (
    Coupon,
    CouponChannel,
    CouponKind,
    CouponScope,
    CouponTemplate,
    PointsEntry,
    PointsKind,
    Promotion,
    PromotionTier,
    ValidityKind,
)
from .services import coupons as coupon_services
from .services import points as points_services
from .services.promotions import forget_promotions

DEMO_SHOPPER = "shopper"  # 张阿姨
LATE_NOTE = "演示订单·优惠"  # the marker of seed_late's orders

K, C = CouponKind, CouponChannel
TEMPLATES = [
    # name, kind, channel, amount, percent, cap, threshold, total, stackable, scope slug
    ("新人无门槛券", K.NO_THRESHOLD, C.NEW_USER, "5.00", None, None, "0", None, True, None),
    ("满39减5", K.FIXED, C.CLAIM_CENTRE, "5.00", None, None, "39", 500, True, None),
    ("水果满30减6", K.FIXED, C.CLAIM_CENTRE, "6.00", None, None, "30", 200, True, "fruit"),
    ("全场9折券", K.PERCENT, C.CLAIM_CENTRE, None, 10, "10.00", "20", 100, False, None),
    ("满额返券·满59减8", K.FIXED, C.SPEND_REWARD, "8.00", None, None, "59", None, True, None),
    ("老客回归满49减10", K.FIXED, C.OPERATOR, "10.00", None, None, "49", 300, True, None),
]  # fmt: skip


def _templates() -> dict[str, CouponTemplate]:
    made = {}
    for name, kind, channel, amount, percent, cap, threshold, total, stackable, slug in TEMPLATES:
        template, _created = CouponTemplate.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "channel": channel,
                "amount": Decimal(amount) if amount else None,
                "percent_off": percent,
                "max_discount": Decimal(cap) if cap else None,
                "threshold": Decimal(threshold),
                "total_quantity": total,
                "is_stackable": stackable,
                "validity": ValidityKind.DAYS_AFTER_ISSUE,
                "valid_days": 14,
                "scope": CouponScope.CATEGORIES if slug else CouponScope.ALL,
            },
        )
        if slug:
            template.categories.set(Category.objects.filter(slug=slug))
        made[name] = template
    return made


def _promotion(now) -> Promotion:
    local = to_local(now)
    starts = local_datetime(
        local.date() - timedelta(days=3), local.time().replace(hour=0, minute=0)
    )
    promotion, created = Promotion.objects.get_or_create(
        name="周末满减",
        defaults={"starts_at": min(starts, now), "ends_at": now + timedelta(days=14)},
    )
    if created:
        for threshold, amount in (("49", "5"), ("99", "12"), ("199", "30")):
            PromotionTier.objects.create(
                promotion=promotion, threshold=Decimal(threshold), amount=Decimal(amount)
            )
    forget_promotions()
    return promotion


def _coupons(templates, shopper, now) -> None:
    """张阿姨's wallet: unused (claimed and a gift), expired and revoked."""
    coupon_services.issue_new_user_coupons(user=shopper, now=now)
    for name in ("满39减5", "水果满30减6", "全场9折券"):
        if not Coupon.objects.filter(user=shopper, template=templates[name]).exists():
            coupon_services.issue_coupon(template=templates[name], user=shopper, now=now)
    old = templates["老客回归满49减10"]
    if not Coupon.objects.filter(user=shopper, template=old).exists():
        # Issued three weeks ago and never used: expired by the beat task.
        expired = coupon_services.issue_coupon(
            template=old, user=shopper, key="demo:expired", now=now - timedelta(days=21)
        )
        Coupon.objects.filter(pk=expired.pk).update(issued_at=now - timedelta(days=21))
        coupon_services.expire_coupons(now=now)
    claim = templates["满39减5"]
    others = User.objects.filter(username__in=["shopper2", "shopper3"]).order_by("pk")
    for other in others:
        if not Coupon.objects.filter(user=other, template=claim).exists():
            coupon = coupon_services.issue_coupon(template=claim, user=other, now=now)
            if other.username == "shopper3":
                coupon_services.revoke_coupon(coupon=coupon, note="demo: duplicate account")


def _points(shopper, now) -> None:
    """A history: points from earlier orders, an operator's gift, last year's expiry."""
    if PointsEntry.objects.filter(user=shopper, key__startswith="demo:").exists():
        return
    year_ago = now - timedelta(days=400)
    old = points_services.record(
        user=shopper,
        kind=PointsKind.EARNED,
        delta=260,
        key="demo:earned-last-year",
        note="历史订单",
        expires_at=now - timedelta(days=2),
    )
    points_services.adjust_points(user=shopper, delta=500, note="新店开业赠送", key="demo:gift")
    points_services.expire_points(now=now)
    PointsEntry.objects.filter(pk=old.pk).update(created_at=year_ago)


def seed(*, stdout) -> None:
    now = timezone.now()
    templates = _templates()
    _promotion(now)
    shopper = User.objects.filter(username=DEMO_SHOPPER).first()
    if shopper is not None:
        _coupons(templates, shopper, now)
        _points(shopper, now)
    stdout.write(
        f"    marketing: {len(templates)} coupon templates, 1 promotion, "
        f"{Coupon.objects.count()} coupons"
    )
    from . import demo_flash

    demo_flash.seed(stdout=stdout)


def seed_late(*, stdout) -> None:
    """After the orders demo: a paid order with a coupon and points, an unpaid one
    holding a coupon (seed_demo's second pass; demo code may use any app)."""
    from leaders.models import ShopperBinding
    from orders.models import Order
    from orders.services.checkout import CheckoutError, Want, place_order

    from .services.checkout import checkout_offer

    if Order.objects.filter(note=LATE_NOTE).exists():
        stdout.write("    marketing: demo discount orders exist, nothing to do")
        return
    binding = (
        ShopperBinding.objects.select_related("user", "pickup_point__warehouse")
        .filter(user__username=DEMO_SHOPPER)
        .first()
    )
    if binding is None or not binding.pickup_point.is_taking_orders:
        stdout.write("    marketing: no demo shopper at an open point, skipped")
        return
    from catalog.models import Sku
    from catalog.services import OutOfStock

    skus = list(
        Sku.objects.filter(is_active=True, product__is_on_shelf=True, daily_quota__gt=0)
        .select_related("product")
        .order_by("-price", "pk")[:12]
    )
    placed = []
    # A paid order (coupon used, points spent) and an unpaid one (coupon
    # locked): the dearest SKUs in stock, two at a time.
    pairs = [skus[i : i + 2] for i in range(0, len(skus) - 1, 2)]
    for paid in (True, False):
        for pair in pairs:
            lines = [(sku, 2) for sku in pair]
            offer = checkout_offer(user=binding.user, lines=lines, use_points=paid)
            try:
                order = place_order(
                    user=binding.user,
                    wants=[Want(sku.pk, q) for sku, q in lines],
                    pickup_point=binding.pickup_point,
                    rules=list(offer.rules),
                    note=LATE_NOTE,
                )
            except (CheckoutError, OutOfStock):
                continue  # sold out or a limit: the next pair
            if paid:
                _pay(order)
            placed.append(order)
            pairs.remove(pair)
            break
    stdout.write(f"    marketing: {len(placed)} demo orders with coupons and points")


def _pay(order) -> None:
    """Paid in the sandbox through the real notification path."""
    from orders.payments import sandbox
    from orders.services.payments import handle_payment_notification, start_payment
    from tuangou.money import to_fen

    payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    handle_payment_notification(headers=headers, body=body)
