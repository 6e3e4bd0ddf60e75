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
    category_ids: frozenset  # the product's category and its parent


@dataclass(frozen=True)
class CartInfo:
    skus: tuple[SkuInfo, ...]

    @classmethod
    def from_skus(cls, skus: Iterable) -> CartInfo:
        """From catalog SKUs with their product loaded; reads the categories'
        parents in one query (a scope on 蔬菜 covers 叶菜)."""
        from catalog.models import Category

        skus = list(skus)
        category_ids = {sku.product.category_id for sku in skus}
        parents = dict(Category.objects.filter(pk__in=category_ids).values_list("pk", "parent_id"))
        return cls(
            skus=tuple(
                SkuInfo(
                    sku_id=sku.pk,
                    product_id=sku.product_id,
                    category_ids=frozenset(
                        c
                        for c in (sku.product.category_id, parents.get(sku.product.category_id))
                        if c
                    ),
                )
                for sku in skus
            )
        )


def scope_for(*, scope: str, category_ids: set, product_ids: set, cart: CartInfo) -> Scope:
    if scope == CouponScope.ALL:
        return Scope(None)
    if scope == CouponScope.CATEGORIES:
        return Scope(frozenset(s.sku_id for s in cart.skus if s.category_ids & category_ids))
    return Scope(frozenset(s.sku_id for s in cart.skus if s.product_id in product_ids))
