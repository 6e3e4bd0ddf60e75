"""What an order consumes from marketing, and what its life gives back.

The checkout view asks `checkout_offer()` for the price rules of a cart (秒杀
prices, the best 满减, the chosen or suggested coupon, points) and hands
`offer.rules` to orders' place_order. Orders' services then call, at each
transition of the order (marketing never imports orders' models or services):

| order moment                         | call                           |
| ------------------------------------ | ------------------------------ |
| written (in place_order's transaction) | consume_for_order            |
| paid                                 | order_paid                     |
| unpaid order cancelled / expired     | order_cancelled_unpaid         |
| refund recorded                      | order_refunded                 |
| completed (all handed out)           | order_completed (task on commit) |

Everything an order consumed is read back from its frozen discount parts
(OrderLine.discounts: kind "coupon" with the code as ref, kind "points" with
the number of points as ref), so the browser never names an amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.pricing import Item, OrderPrice, price_lines
from tuangou.money import ZERO, to_fen, to_money
from tuangou.outbox import publish_on_commit

from ..models import Coupon, CouponScope, CouponStatus
from ..rules import (
    KIND_COUPON,
    KIND_POINTS,
    CouponRule,
    PointsRule,
    PromotionRule,
    max_points_for,
    parts_of,
)
from . import coupons as coupon_services
from . import points as points_services
from . import referrals as referral_services
from .coupons import MarketingError
from .promotions import best_promotion_rule, running_promotions
from .scopes import CartInfo, scope_for

AUTO = "auto"  # suggest the best coupon
NONE = "none"  # the shopper chose no coupon


@dataclass
class CouponOption:
    """A coupon of the shopper's wallet as the checkout shows it."""

    coupon: Coupon
    discount: Decimal = ZERO  # what it takes off this cart
    saving: Decimal = ZERO  # 满减 + coupon, as it would be applied
    reason: str = ""  # why it cannot be used here

    @property
    def is_applicable(self) -> bool:
        return self.discount > 0


@dataclass
class Offer:
    """A cart priced with marketing: the rules to place the order with."""

    price: OrderPrice
    rules: tuple = ()
    promotion: PromotionRule | None = None
    coupon: Coupon | None = None
    coupon_choice: str = AUTO
    options: list[CouponOption] = field(default_factory=list)
    note: str = ""  # e.g. why a coupon and 满减 were not combined
    points_balance: int = 0
    points_usable: int = 0
    points_used: int = 0

    @property
    def applicable_options(self) -> list[CouponOption]:
        return [o for o in self.options if o.is_applicable]

    @property
    def other_options(self) -> list[CouponOption]:
        return [o for o in self.options if not o.is_applicable]

    @property
    def points_value(self) -> Decimal:
        return to_money(Decimal(self.points_usable) / 100)


def usable_coupons(*, user, now: datetime | None = None) -> list[Coupon]:
    """The shopper's unused coupons valid now, soonest to expire first (3 queries)."""
    now = now or timezone.now()
    return list(
        Coupon.objects.filter(
            user=user, status=CouponStatus.UNUSED, valid_from__lte=now, valid_until__gt=now
        )
        .select_related("template")
        .prefetch_related("template__categories", "template__products")
        .order_by("valid_until", "pk")
    )


def coupon_rule(*, coupon: Coupon, cart: CartInfo) -> CouponRule:
    template = coupon.template
    scope = scope_for(
        scope=template.scope,
        category_ids={c.pk for c in template.categories.all()}
        if template.scope == CouponScope.CATEGORIES
        else set(),
        product_ids={p.pk for p in template.products.all()}
        if template.scope == CouponScope.PRODUCTS
        else set(),
        cart=cart,
    )
    return CouponRule(
        code=coupon.code,
        name=template.name,
        kind=template.kind,
        threshold=template.threshold,
        amount=template.amount,
        percent_off=template.percent_off,
        max_discount=template.max_discount,
        scope=scope,
    )


def special_price_rules(*, lines: Sequence[tuple], user, now: datetime, admissions=None) -> list:
    """秒杀 prices (marketing/services/flash.py). With `admissions` (placing the
    order) only the admitted items get the flash price; without (showing the
    page) every item in a running session does."""
    from .flash import flash_rules

    return flash_rules(
        user=user, sku_ids=[sku.pk for sku, _q in lines], at=now, admissions=admissions
    )


def _why_not(rule: CouponRule, price: OrderPrice) -> str:
    from ..rules import eligible_base

    base = eligible_base(price, rule.scope)
    if base <= 0:
        return _("No item in your cart can use this coupon.")
    if base < rule.threshold:
        return _("Spend ¥%(more)s more on eligible items to use it.") % {
            "more": to_money(rule.threshold - base)
        }
    return _("It takes nothing off this order.")


def checkout_offer(
    *,
    user,
    lines: Sequence[tuple],
    coupon: str = AUTO,
    use_points: bool = False,
    points: int | None = None,
    now: datetime | None = None,
    extra_rules: Iterable = (),
    admissions=None,
    placing: bool = False,
) -> Offer:
    """Price a cart with marketing: `lines` are (sku with product, quantity).

    `coupon` is AUTO (the best applicable coupon is suggested), NONE, or the
    code of one of the shopper's coupons. With `use_points` the most points
    allowed are used, or `points` of them. `extra_rules` (拼团 prices) are
    applied with the special prices. `admissions` are the 秒杀 admissions of
    the order being placed (marketing.services.flash.admit_lines). With
    `placing` (the order is being placed, not shown) the wallet is not read
    when no coupon is named and the balance not when no points are asked for:
    an order without them costs no query for them. Raises MarketingError with the
    shopper's reason when the chosen coupon or points cannot be used.
    """
    now = now or timezone.now()
    lines = [(sku, qty) for sku, qty in lines]
    items = [Item(sku_id=sku.pk, quantity=qty, unit_price=sku.price) for sku, qty in lines]
    specials = [
        *special_price_rules(lines=lines, user=user, now=now, admissions=admissions),
        *extra_rules,
    ]
    base = price_lines(items, rules=specials)
    if not items or not getattr(user, "is_authenticated", False):
        return Offer(price=base, rules=tuple(specials), coupon_choice=NONE)
    cart = CartInfo.from_skus(sku for sku, _q in lines)
    promo = best_promotion_rule(promotions=running_promotions(now=now), cart=cart, price=base)
    promo_price = promo.apply(base) if promo else base
    promo_amount = base.payable - promo_price.payable

    wallet = [] if placing and coupon == NONE else usable_coupons(user=user, now=now)
    options: list[CouponOption] = []
    plans: dict[str, tuple[list, str]] = {}
    for item in wallet:
        rule = coupon_rule(coupon=item, cart=cart)
        if item.template.is_stackable or promo is None:
            amount = rule.discount_for(promo_price)
            option = CouponOption(coupon=item, discount=amount, saving=promo_amount + amount)
            option.reason = "" if amount > 0 else _why_not(rule, promo_price)
            plans[item.code] = ([promo, rule] if promo else [rule], "")
        else:
            # Not stackable with 满减: the shopper gets the better of the two.
            amount = rule.discount_for(base)
            option = CouponOption(coupon=item, discount=amount, saving=amount)
            if amount <= 0:
                option.reason = _why_not(rule, base)
            elif amount <= promo_amount:
                option.discount = ZERO
                option.reason = _(
                    "Cannot be combined with the spend-and-save offer, which saves you more."
                )
            plans[item.code] = (
                [rule],
                _("This coupon cannot be combined with the spend-and-save offer."),
            )
        options.append(option)
    options.sort(key=lambda o: (-o.saving if o.is_applicable else 1, o.coupon.valid_until))

    chosen: CouponOption | None = None
    if coupon == AUTO:
        chosen = next((o for o in options if o.is_applicable), None)
    elif coupon and coupon != NONE:
        chosen = next((o for o in options if o.coupon.code == coupon), None)
        if chosen is None:
            raise MarketingError(_coupon_refusal(user=user, code=coupon, now=now), code="coupon")
        if not chosen.is_applicable:
            raise MarketingError(chosen.reason, code="coupon")
    rules: list = list(specials)
    note = ""
    if chosen is not None:
        plan, note = plans[chosen.coupon.code]
        rules += plan
    elif promo is not None:
        rules.append(promo)
    before_points = price_lines(items, rules=rules)

    wants_points = use_points or points is not None
    balance = points_services.balance_of(user=user) if wants_points or not placing else 0
    usable = max_points_for(
        before_points, balance=balance, max_share=Decimal(settings.MARKETING_POINTS_MAX_SHARE)
    )
    used = 0
    if points is not None:
        if points < 0:
            raise MarketingError(_("Enter a number of points."), code="points")
        if points > balance:
            raise MarketingError(
                _("You do not have enough points (%(n)d available).") % {"n": balance},
                code="points",
            )
        if points > usable:
            raise MarketingError(
                _("At most %(n)d points can be used on this order.") % {"n": usable},
                code="points",
            )
        used = points
    elif use_points:
        used = usable
    if used:
        rules.append(PointsRule(used))
    price = price_lines(items, rules=rules) if used else before_points
    return Offer(
        price=price,
        rules=tuple(rules),
        promotion=next((r for r in rules if isinstance(r, PromotionRule)), None),
        coupon=chosen.coupon if chosen else None,
        coupon_choice=chosen.coupon.code if chosen else NONE,
        options=options,
        note=note,
        points_balance=balance,
        points_usable=usable,
        points_used=used,
    )


def _coupon_refusal(*, user, code: str, now: datetime) -> str:
    """Why a code the form named is not in the shopper's usable wallet."""
    found = Coupon.objects.filter(code=code, user=user).first()
    if found is None:
        return _("This coupon does not exist or is not yours.")
    if found.status == CouponStatus.USED or found.status == CouponStatus.LOCKED:
        return _("This coupon has already been used.")
    if found.status == CouponStatus.EXPIRED or found.valid_until <= now:
        return _("This coupon has expired.")
    if found.valid_from > now:
        return _("This coupon cannot be used yet.")
    return _("This coupon cannot be used.")


# --- the order's life ----------------------------------------------------------------


def consume_for_order(*, order, price: OrderPrice, admissions=(), now=None) -> None:
    """Inside place_order's transaction, before the stock UPDATE: lock the
    coupon (compare-and-set), spend the points (guarded balance) the price
    used, and record the 秒杀 purchases (guarded counter, the hot row last).
    Raises MarketingError or FlashSaleRefused: the whole order rolls back."""
    user = order.user
    for part in parts_of(price, KIND_COUPON):
        coupon_services.lock_coupon(
            code=part.ref, user=user, order_id=order.pk, discount=part.amount, now=now
        )
    points = sum(int(part.ref) for part in parts_of(price, KIND_POINTS))
    if points:
        points_services.spend_points(user=user, points=points, order_id=order.pk)
    if admissions:
        from .flash import record_purchases

        record_purchases(order=order, admissions=admissions)


def uses_marketing(price: OrderPrice) -> bool:
    return bool(parts_of(price, KIND_COUPON) or parts_of(price, KIND_POINTS))


def order_paid(*, order_id: int, now=None) -> int:
    """The order was paid: its coupon is used (one UPDATE)."""
    return coupon_services.use_coupons_for_order(order_id=order_id, now=now)


def order_cancelled_unpaid(*, user_id: int, order_id: int, now=None) -> None:
    """An unpaid order was cancelled or expired: its coupon, points and 秒杀
    units come back."""
    from types import SimpleNamespace

    from django.contrib.auth import get_user_model

    from .flash import on_order_cancelled

    coupon_services.release_coupons_for_order(order_id=order_id, now=now)
    points_services.return_spent_points(user=get_user_model()(pk=user_id), order_id=order_id)
    on_order_cancelled(order=SimpleNamespace(pk=order_id))


@dataclass(frozen=True)
class RefundedLine:
    """A line of a refund, as orders hands it over."""

    discounts: list  # the line's frozen discount parts (OrderLine.discounts)
    quantity: int  # the line's units
    refunded_before: int  # units refunded before this refund
    refunded_now: int  # units this refund gives back


def spent_points_back(lines: Iterable[RefundedLine]) -> int:
    """The spent points of the refunded units, per line, exactly: after all
    units are refunded a line has given back all its points, never more."""
    total = 0
    for line in lines:
        spent = sum(
            to_fen(Decimal(p["amount"])) for p in line.discounts if p.get("kind") == KIND_POINTS
        )
        if not spent or not line.quantity:
            continue
        after = spent * (line.refunded_before + line.refunded_now) // line.quantity
        before = spent * line.refunded_before // line.quantity
        total += after - before
    return total


def order_refunded(
    *,
    user,
    order_id: int,
    refund_id: int,
    lines: Iterable[RefundedLine],
    order_payable,
    refunded_total,
    closed_before_handout: bool,
    now=None,
) -> None:
    """A refund was recorded (in its transaction).

    Points: the refunded units' spent points come back; earned points are
    taken back in proportion. Coupon: an order refunded whole before anything
    was handed out gets its coupon back while still valid; any other refund
    keeps it used (marketing/README.md). An order that keeps less than
    MARKETING_SPEND_REWARD_MIN loses its 满额返券 if still unused.
    """
    points_services.points_after_refund(
        user=user,
        order_id=order_id,
        refund_id=refund_id,
        spent_back=spent_points_back(lines),
        order_payable=order_payable,
        refunded_total=refunded_total,
    )
    if closed_before_handout:
        coupon_services.return_coupons_after_refund(order_id=order_id, now=now)
    kept = to_money(order_payable) - to_money(refunded_total)
    if kept < to_money(settings.MARKETING_SPEND_REWARD_MIN):
        # The order no longer earns its 满额返券: taken back while unused.
        coupon_services.revoke_spend_rewards(order_id=order_id)
    # 老带新: an invitee's first order refunded in full cancels the inviter's reward
    # (the lines' refunded amounts are already updated by the caller).
    referral_services.referral_order_refunded(user_id=user.pk, order_id=order_id, now=now)


def order_completed(*, user_id: int, order_id: int, kept_amount) -> None:
    """An order completed: points and 满额返券 after commit, by a task."""
    from ..tasks import reward_completed_order_task

    amount = str(to_money(kept_amount))
    publish_on_commit(
        reward_completed_order_task, user_id=user_id, order_id=order_id, kept_amount=amount
    )


def reward_completed_order(*, user_id: int, order_id: int, kept_amount) -> None:
    """Points for the order and its spend-reward coupons, each exactly once."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    with transaction.atomic():
        points_services.earn_for_order(user=user, order_id=order_id, kept_amount=kept_amount)
    coupon_services.issue_spend_rewards(order_id=order_id, user=user, paid_amount=kept_amount)
    # 老带新: the invitee's first order was picked up, the inviter gets a coupon.
    referral_services.referral_order_completed(user_id=user_id, order_id=order_id)
