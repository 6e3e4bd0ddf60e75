"""Helpers of the coupon, points and 满减 tests (M1): templates, promotions,
points, and orders placed through the real checkout services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from marketing.models import (
    CouponChannel,
    CouponKind,
    CouponScope,
    CouponTemplate,
    Promotion,
    PromotionTier,
    ValidityKind,
)
from marketing.services import points as points_services
from marketing.services.checkout import checkout_offer
from marketing.services.promotions import forget_promotions
from orders.payments import sandbox
from orders.services.checkout import Want, place_order
from orders.services.payments import handle_payment_notification, start_payment
from tuangou.money import to_fen


def template(
    *,
    name="满30减5",
    kind=CouponKind.FIXED,
    channel=CouponChannel.CLAIM_CENTRE,
    amount="5.00",
    threshold="30.00",
    total=None,
    per_user=1,
    stackable=True,
    days=7,
    percent=None,
    cap=None,
    scope=CouponScope.ALL,
    categories=(),
    products=(),
    **extra,
) -> CouponTemplate:
    tmpl = CouponTemplate.objects.create(
        name=name,
        kind=kind,
        channel=channel,
        amount=Decimal(amount) if amount is not None else None,
        threshold=Decimal(threshold),
        total_quantity=total,
        per_user_limit=per_user,
        is_stackable=stackable,
        validity=ValidityKind.DAYS_AFTER_ISSUE,
        valid_days=days,
        percent_off=percent,
        max_discount=Decimal(cap) if cap is not None else None,
        scope=scope,
        **extra,
    )
    if categories:
        tmpl.categories.set(categories)
    if products:
        tmpl.products.set(products)
    return tmpl


def promotion(*tiers, name="满减", scope=CouponScope.ALL, categories=(), products=()) -> Promotion:
    now = timezone.now()
    promo = Promotion.objects.create(
        name=name, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1), scope=scope
    )
    for threshold, amount in tiers:
        PromotionTier.objects.create(
            promotion=promo, threshold=Decimal(threshold), amount=Decimal(amount)
        )
    if categories:
        promo.categories.set(categories)
    if products:
        promo.products.set(products)
    forget_promotions()
    return promo


def give_points(user, n: int, key: str = "gift") -> None:
    points_services.adjust_points(user=user, delta=n, note="test", key=key)


def order_with(user, point, lines, **choice):
    """Price (lines: (sku, quantity)) with the marketing choice and place the order."""
    offer = checkout_offer(user=user, lines=lines, **choice)
    order = place_order(
        user=user,
        wants=[Want(sku.pk, q) for sku, q in lines],
        pickup_point=point,
        rules=list(offer.rules),
    )
    return order, offer


def pay(order):
    payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    reply = handle_payment_notification(headers=headers, body=body)
    assert reply.ok, reply
    order.refresh_from_db()
    return order
