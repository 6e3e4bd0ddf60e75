"""Template tags for the shopper's frame (templates/base.html): the cart count
on the tab bar.

Read from Redis for a signed-in shopper (orders.cart_count_cache; one query
when the cart changed since), nothing for visitors, kept on the request so a
page that asks twice pays once; pinned by tests/orders/test_cart_tab.py on
the home page.
"""

from __future__ import annotations

from django import template

from .. import cart_count_cache, selectors

register = template.Library()

_CACHE_ATTR = "_orders_cart_count"


@register.simple_tag(takes_context=True)
def cart_count(context) -> int:
    """How many items are in the signed-in shopper's cart (0 for visitors)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    count = getattr(request, _CACHE_ATTR, None)
    if count is None:
        # From Redis while the cart is unchanged (orders.cart_count_cache).
        count = cart_count_cache.count_for(user=user, load=selectors.cart_count)
        setattr(request, _CACHE_ATTR, count)
    return count
