from __future__ import annotations

from .selectors import pickup_point_for_shopper

_CACHE_ATTR = "_leaders_current_pickup_point"


def pickup_point(request):
    """The signed-in shopper's chosen pickup point (with its warehouse) on every page.

    One query at most per request, none for anonymous visitors; None when no
    point is chosen. `current_pickup_point.is_taking_orders` is False when the
    point or its leader stopped; `is_paused_today` when the leader paused today.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"current_pickup_point": None}
    if not hasattr(request, _CACHE_ATTR):
        setattr(request, _CACHE_ATTR, pickup_point_for_shopper(user=user))
    return {"current_pickup_point": getattr(request, _CACHE_ATTR)}
