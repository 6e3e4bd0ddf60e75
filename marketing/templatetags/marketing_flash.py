"""The 秒杀 countdowns on the home and product pages, from the cached board
(no query while the cache is warm; see marketing.flash_selectors.board_summary)."""

from __future__ import annotations

from django import template

from .. import flash_selectors

register = template.Library()


@register.simple_tag
def flash_headline():
    """The running session, else the next one today (None: nothing to show)."""
    return flash_selectors.headline_session()


@register.simple_tag
def flash_for_product(product):
    """(session, item) when a SKU of this product is in a session running or
    still to come today; None otherwise."""
    if product is None:
        return None
    return flash_selectors.flash_for_product(product_id=product.pk)
