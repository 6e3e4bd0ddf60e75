"""What a cart's SKUs are (product, category and its parent), for the scopes of
coupons and 满减 (all / some categories / some products)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..models import CouponScope
from ..rules import Scope


@dataclass(frozen=True)
class SkuInfo:
    sku_id: int
    product_id: int
    category_id: int


class CartInfo:
    """The cart's SKUs; the categories' parents are read once, and only when a
    category scope asks (a scope on 蔬菜 covers 叶菜): carts priced without
    category-scoped offers cost no query here."""

    def __init__(self, skus: Iterable[SkuInfo]):
        self.skus = tuple(skus)
        self._parents: dict | None = None

    @classmethod
    def from_skus(cls, skus: Iterable) -> CartInfo:
        """From catalog SKUs with their product loaded."""
        return cls(
            SkuInfo(sku_id=sku.pk, product_id=sku.product_id, category_id=sku.product.category_id)
            for sku in skus
        )

    def category_ids(self, info: SkuInfo) -> set:
        if self._parents is None:
            from catalog.models import Category

            self._parents = dict(
                Category.objects.filter(pk__in={s.category_id for s in self.skus}).values_list(
                    "pk", "parent_id"
                )
            )
        return {c for c in (info.category_id, self._parents.get(info.category_id)) if c}


def scope_for(*, scope: str, category_ids: set, product_ids: set, cart: CartInfo) -> Scope:
    if scope == CouponScope.ALL:
        return Scope(None)
    if scope == CouponScope.CATEGORIES:
        return Scope(frozenset(s.sku_id for s in cart.skus if cart.category_ids(s) & category_ids))
    return Scope(frozenset(s.sku_id for s in cart.skus if s.product_id in product_ids))
