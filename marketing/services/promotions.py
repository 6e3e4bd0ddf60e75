"""满减 promotions: which run now, and their price rules.

A promotion is read-only for the shop (operators write it in the admin);
this module turns the ones running now into marketing.rules.PromotionRule.
When several promotions reach a tier on the same cart the shopper gets the
one that takes off the most (promotions never stack with each other).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from orders.pricing import OrderPrice

from ..models import CouponScope, Promotion, PromotionTier
from ..rules import PromotionRule, Scope, Tier
from .scopes import CartInfo, scope_for


def running_promotions(*, now: datetime | None = None) -> list[Promotion]:
    """Active promotions running now with their tiers, categories and products (4 queries)."""
    now = now or timezone.now()
    return list(
        Promotion.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
        .prefetch_related(
            Prefetch("tiers", queryset=PromotionTier.objects.order_by("threshold")),
            "categories",
            "products",
        )
        .order_by("pk")
    )


def promotion_rule(*, promotion: Promotion, cart: CartInfo) -> PromotionRule:
    return PromotionRule(
        promotion_id=promotion.pk,
        name=promotion.name,
        tiers=tuple(Tier(t.threshold, t.amount) for t in promotion.tiers.all()),
        scope=scope_for(
            scope=promotion.scope,
            category_ids={c.pk for c in promotion.categories.all()},
            product_ids={p.pk for p in promotion.products.all()},
            cart=cart,
        ),
    )


def best_promotion_rule(
    *, promotions: list[Promotion], cart: CartInfo, price: OrderPrice
) -> PromotionRule | None:
    """The promotion that takes the most off `price` (special prices applied)."""
    best, best_amount = None, None
    for promotion in promotions:
        rule = promotion_rule(promotion=promotion, cart=cart)
        amount = rule.discount_for(price)
        if amount > 0 and (best_amount is None or amount > best_amount):
            best, best_amount = rule, amount
    return best


__all__ = [
    "CouponScope",
    "Scope",
    "best_promotion_rule",
    "promotion_rule",
    "running_promotions",
]
