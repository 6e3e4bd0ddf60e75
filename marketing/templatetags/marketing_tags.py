"""Template helpers for marketing on other apps' pages (the order's discounts)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from tuangou.money import ZERO, to_money

register = template.Library()


@register.filter
def discount_parts(lines) -> list[dict]:
    """Each named discount of an order's lines (OrderLine.discounts), summed by
    (kind, label, ref) in the order they appear: 秒杀价, 满减, 优惠券, 积分."""
    totals: dict[tuple[str, str, str], dict] = {}
    for line in lines:
        for part in getattr(line, "discounts", None) or []:
            key = (part.get("kind", ""), part.get("label", ""), part.get("ref", ""))
            seen = totals.setdefault(
                key, {"kind": key[0], "label": key[1], "ref": key[2], "amount": ZERO}
            )
            seen["amount"] = to_money(seen["amount"] + Decimal(part.get("amount", "0")))
    return list(totals.values())


@register.simple_tag
def me_benefits(user) -> dict:
    """我的: usable coupons and the points balance (1 query)."""
    from ..selectors import me_benefits as read

    if not getattr(user, "is_authenticated", False):
        return {"coupons": 0, "points": 0}
    return read(user=user)
