"""我的 and the help page.

A page may read from any app's selectors (views are the top layer): 我的 shows
the shopper's orders waiting on them, unread messages, pickup point and
whether they lead a point, each from the app that owns it.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.shortcuts import render


def _service_phone() -> dict[str, str]:
    """The customer-service number as shown and as a tel: link ("" when unset)."""
    shown = (settings.SERVICE_PHONE or "").strip()
    return {"service_phone": shown, "service_phone_tel": re.sub(r"[^\d+]", "", shown)}


def me(request):
    """我的: the shopper's own corner; signed-out visitors are invited to sign in.

    Signed in: 4-5 queries besides the frame's (order counts, unread messages,
    leader, and the application of someone who is not a leader).
    """
    context = _service_phone()
    user = request.user
    if user.is_authenticated:
        from leaders import selectors as leader_selectors
        from orders import selectors as order_selectors

        leader = leader_selectors.leader_for_user(user=user)
        context.update(
            order_counts=order_selectors.order_counts(user=user),
            unread_count=order_selectors.unread_notice_count(user=user),
            leader=leader,
            application=None
            if leader is not None
            else leader_selectors.latest_application_for_user(user=user),
        )
    return render(request, "accounts/me.html", context)


def help_page(request):
    """帮助中心: how ordering, pickup, cancelling, after-sale and 拼团 work here,
    with this shopper's cutoff and pickup times, and how to reach us."""
    from catalog.selectors import default_warehouse
    from leaders.context_processors import pickup_point

    point = pickup_point(request)["current_pickup_point"]
    warehouse = getattr(point, "warehouse", None) or default_warehouse()
    context = {
        **_service_phone(),
        "cutoff": warehouse.cutoff_time if warehouse else None,
        "pickup": warehouse.pickup_time if warehouse else None,
        "after_sale_days": settings.AFTER_SALE_WINDOW_DAYS,
        "payment_minutes": settings.ORDER_PAYMENT_TIMEOUT_MINUTES,
    }
    return render(request, "accounts/help.html", context)
