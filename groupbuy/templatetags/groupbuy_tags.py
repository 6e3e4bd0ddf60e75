"""Template tags that bring 拼团 onto other apps' pages (the product page).

The context comes from groupbuy's selectors here, so the catalog view does not
need to know about campaigns: one `{% include %}` of groupbuy/_product_block.html.
"""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.translation import pgettext

from .. import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def campaign_for_product(context, product):
    """The running campaign of a product with what its block shows, or None.

    3 queries with a campaign (campaign, open groups, their members; a
    threshold deal instead of groups), 1 without.
    """
    if product is None:
        return None
    campaign = selectors.running_campaign_for_product(product=product)
    if campaign is None:
        return None
    request = context.get("request")
    user = getattr(request, "user", None)
    point = context.get("current_pickup_point")
    storefront = context.get("storefront")
    if point is None and storefront is not None:
        point = getattr(storefront, "pickup_point", None)
    block = {
        "campaign": campaign,
        "sku": campaign.sku,
        "saving": campaign.sku.price - campaign.group_price,
        "point": point,
        "groups": [],
        "progress": None,
        "delivery_date": selectors.delivery_date_if_decided(
            campaign=campaign, warehouse=getattr(point, "warehouse", None)
        ),
    }
    if campaign.is_threshold:
        block["progress"] = selectors.deal_progress(
            campaign=campaign, community_id=getattr(point, "community_id", None)
        )
    else:
        block["groups"] = selectors.open_groups_to_join(
            campaign=campaign, pickup_point=point, user=user, limit=3
        )
    return block


@register.filter
def time_left(deadline) -> str:
    """A countdown's text before the script ticks it (static/js/app.js writes
    the same each second): "23:59:09", or "5天23:59:09" beyond a day, never
    "143:59:09"."""
    if not deadline:
        return ""
    left = max(0, int((deadline - timezone.now()).total_seconds()))
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if not days:
        return clock
    return pgettext("countdown", "{days}d {clock}").format(days=days, clock=clock)


@register.inclusion_tag("groupbuy/_avatars.html")
def group_avatars(members, empty_seats=0):
    return {"members": members, "empty_seats": range(empty_seats or 0)}


@register.simple_tag
def group_of_order(order):
    """The group of a 拼团 order (or None), for order pages: one query."""
    if order is None or getattr(order, "kind", None) != "group":
        return None
    return selectors.member_for_order(order)


_UNSET = object()


@register.simple_tag
def group_member_in(order, orders=None):
    """The group membership of `order`, looked up for all of `orders` at once.

    For order lists: the first call fetches every order's group in one query
    (groupbuy.selectors.groups_for_orders) and keeps each on its order object,
    so the other cards of the page cost nothing. None for other orders.
    """
    if order is None or getattr(order, "kind", None) != "group":
        return None
    cached = getattr(order, "_groupbuy_member", _UNSET)
    if cached is not _UNSET:
        return cached
    batch = [o for o in (orders if orders is not None else []) if o is not None]
    if not any(o is order for o in batch):
        batch.append(order)
    found = selectors.groups_for_orders(batch)
    for each in batch:
        each._groupbuy_member = found.get(each.pk)
    return found.get(order.pk)
