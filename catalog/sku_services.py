"""Writes to SKUs as operators edit them (the product admin's SKU rows).

Kept beside catalog.services (which holds stock, shelf and picture writes) so
that the SKU rules live in one function every caller uses.
"""

from __future__ import annotations

import logging

from django.db import transaction

from . import services, storefront_cache
from .models import Sku

log = logging.getLogger(__name__)


@transaction.atomic
def save_sku(*, sku: Sku, actor=None) -> Sku:
    """Create or update an SKU; a newly sellable one gets its coming days' stock.

    "Newly sellable" is a new active SKU, or one switched back to active, on a
    product that is on shelf: without this it would show as sold out until the
    nightly roll-forward. Days already opened are never touched (the
    roll-forward only creates missing rows), so saving twice changes nothing.
    """
    was_active = (
        Sku.objects.filter(pk=sku.pk).values_list("is_active", flat=True).first()
        if sku.pk
        else None
    )
    sku.full_clean()
    sku.save()
    storefront_cache.bump()  # after commit: price, spec or active changed on the cards
    opened = 0
    if sku.is_active and not was_active and sku.product.is_on_shelf:
        opened = services.roll_stock_forward(skus=[sku])
    log.info("catalog: SKU %s saved by %s, %d stock rows opened", sku.code, actor, opened)
    return sku
