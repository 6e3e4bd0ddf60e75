"""满减 promotions: which run now, and their price rules.

A promotion is read-only for the shop (operators write it in the admin);
this module turns the ones running now into marketing.rules.PromotionRule.
When several promotions reach a tier on the same cart the shopper gets the
one that takes off the most (promotions never stack with each other).
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db.models import Prefetch
from django.utils import timezone

from orders.pricing import OrderPrice

from ..models import CouponScope, Promotion, PromotionTier
from ..rules import PromotionRule, Scope, Tier
from .scopes import CartInfo, scope_for

CACHE_KEY = "marketing:promotions"
CACHE_SECONDS = 60


def running_promotions(*, now: datetime | None = None) -> list[Promotion]:
    """Active promotions running now with their tiers, categories and products.

    Every checkout asks, so the active ones are kept in the cache for a
    minute (no query when warm; 4 when cold) and filtered by time here; a
    change through set_promotion_active or the admin drops the cache at once.
    """
    now = now or timezone.now()
    active = cache.get(CACHE_KEY)
    if active is None:
        active = list(
            Promotion.objects.filter(is_active=True, ends_at__gt=now)
            .prefetch_related(
                Prefetch("tiers", queryset=PromotionTier.objects.order_by("threshold")),
                "categories",
                "products",
            )
            .order_by("pk")
        )
        cache.set(CACHE_KEY, active, CACHE_SECONDS)
    return [p for p in active if p.starts_at <= now < p.ends_at]


def forget_promotions() -> None:
    """A promotion changed: the next checkout reads them again."""
    cache.delete(CACHE_KEY)


def set_promotion_active(*, promotion: Promotion, is_active: bool) -> bool:
    """Switch a promotion on or off (an order already placed keeps its 满减)."""
    moved = bool(
        Promotion.objects.filter(pk=promotion.pk)
        .exclude(is_active=is_active)
        .update(is_active=is_active)
    )
    forget_promotions()
    return moved


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
    "set_promotion_active",
]
