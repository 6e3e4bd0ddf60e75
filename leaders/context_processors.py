from __future__ import annotations

from .selectors import cached_pickup_point_for_shopper

_CACHE_ATTR = "_leaders_current_pickup_point"


def pickup_point(request):
    """The signed-in shopper's chosen pickup point (with its warehouse) on every page.

    Read once per request (the storefront view and the template share it)
    from Redis (leaders.point_cache; one query when the entry is stale),
    nothing for anonymous visitors. None when no point is chosen, and also
    when the chosen point stopped taking orders (its leader was suspended or
    it closed): the storefront then asks the shopper to choose, exactly as
    for a new shopper, and `pickup_point_needs_change` says why.
    `current_pickup_point.is_paused_today` is True on a day the leader paused.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"current_pickup_point": None, "pickup_point_needs_change": False}
    if not hasattr(request, _CACHE_ATTR):
        setattr(request, _CACHE_ATTR, cached_pickup_point_for_shopper(user=user))
    point = getattr(request, _CACHE_ATTR)
    if point is not None and not point.is_taking_orders:
        return {"current_pickup_point": None, "pickup_point_needs_change": True}
    return {"current_pickup_point": point, "pickup_point_needs_change": False}
