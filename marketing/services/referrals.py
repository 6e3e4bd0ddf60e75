"""老带新 referrals: invite codes, the invitee's first-order gift, the inviter's
reward after the invitee's first pickup, and the fraud rules.

For other code:

    invite_code_for(*, user) -> InviteCode
        The shopper's own code (made on first use), for the link and the QR.
    record_referral(*, invitee, code, now=None) -> Referral | None
        Called on a shopper's FIRST sign-in, whatever the channel (SMS or
        WeChat: tuangou/accounts/sign_in.after_sign_in), when the session
        carries an invite code (marketing.views.referrals.INVITE_SESSION_KEY):
        records who invited them (fraud keys copied: phone, WeChat unionid) and
        issues the invitee's gift: the REFERRAL-channel template of kind
        no-threshold (e.g. ¥5 无门槛, used on the first order). None when the
        code is unknown, is the shopper's own, or the shopper is not new.
    reward_referral_for_order(*, order, now=None) -> Referral | None
        For orders' completion (an order picked up): the invitee's first
        completed order rewards the inviter with the REFERRAL-channel template
        of another kind (e.g. 满30减10), unless a fraud rule matches, which
        rejects the referral with its reason. Idempotent.
    cancel_referral_for_refund(*, order) -> Referral | None
        For orders' refunds: the first order refunded in full (every line)
        cancels the referral and takes the inviter's coupon back if unused.
        A partial after-sale refund keeps the reward.
    referral_order_completed(*, user_id, order_id) / referral_order_refunded(*, user_id, order_id)
        The same two by ids, for hooks that pass ids (marketing.services.checkout's
        order_completed / order_refunded): one query when nothing applies.

Fraud rules (marketing/README.md, one test each):
- one reward per phone: an invitee phone already rewarded once never again;
- one reward per WeChat unionid, likewise;
- one reward per delivery address. Goods are collected at pickup points, so
  an address is the pickup point of the first order plus the invitee's phone
  prefix (its first 7 digits: the carrier segment and the 4-digit block, the
  unit in which numbers are sold): a second invitee collecting at the same
  point from the same number block is the same household, or a farm;
- no self-invites: an inviter cannot use their own code (refused at sign-up),
  and an invitee collecting at the inviter's own pickup point (their bound
  point or a point where they have ordered) whose phone has the inviter's
  prefix (same first 7 digits) is taken for the inviter's second account.
"""

from __future__ import annotations

import logging
import secrets

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.statemachine import guard

from ..models import (
    REFERRAL_TRANSITIONS,
    CouponChannel,
    CouponKind,
    CouponTemplate,
    InviteCode,
    Referral,
    ReferralStatus,
)

logger = logging.getLogger("tuangou.marketing.referrals")

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out loud
PREFIX_DIGITS = 7


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def invite_code_for(*, user) -> InviteCode:
    """The shopper's invitation code, made the first time it is asked for."""
    found = InviteCode.objects.filter(user=user).first()
    if found is not None:
        return found
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return InviteCode.objects.create(user=user, code=_new_code())
        except IntegrityError:
            found = InviteCode.objects.filter(user=user).first()
            if found is not None:  # a second tab made it first
                return found
    raise RuntimeError("could not draw a free invitation code")


def inviter_for_code(code: str):
    """The user behind an invitation code (None when unknown)."""
    code = (code or "").strip().upper()[:16]
    if not code:
        return None
    found = InviteCode.objects.select_related("user").filter(code=code).first()
    return found.user if found is not None else None


def phone_prefix(phone: str | None) -> str:
    """The first 7 digits of a mainland number (+86 dropped): '1380013'."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits[:PREFIX_DIGITS] if len(digits) >= PREFIX_DIGITS else ""


def wechat_unionid(user) -> str:
    """The unionid of the shopper's WeChat (allauth's weixin account: uid is the
    unionid when WeChat sends one, see tuangou/accounts/weixin/provider.py)."""
    from allauth.socialaccount.models import SocialAccount

    account = SocialAccount.objects.filter(user=user, provider="weixin").first()
    if account is None:
        return ""
    return str((account.extra_data or {}).get("unionid") or account.uid or "")[:64]


def _template(*, invitee_gift: bool) -> CouponTemplate | None:
    """REFERRAL templates: the no-threshold one is the invitee's gift, any other
    kind is the inviter's reward (the newest active one of each)."""
    templates = CouponTemplate.objects.filter(channel=CouponChannel.REFERRAL, is_active=True)
    if invitee_gift:
        templates = templates.filter(kind=CouponKind.NO_THRESHOLD)
    else:
        templates = templates.exclude(kind=CouponKind.NO_THRESHOLD)
    return templates.order_by("-created_at", "-pk").first()


def _issue(*, template, user, key: str, now):
    from .coupons import CouponUnavailable, issue_coupon

    try:
        return issue_coupon(
            template=template, user=user, channel=CouponChannel.REFERRAL, key=key, now=now
        )
    except CouponUnavailable as exc:
        logger.info("referral coupon %s for %s not issued: %s", template.pk, user.pk, exc.code)
        return None


def _has_orders(user) -> bool:
    Order = apps.get_model("orders", "Order")
    return Order.objects.filter(user=user).exists()


def record_referral(*, invitee, code: str, now=None) -> Referral | None:
    """Record that `invitee` (signing in for the first time) came through `code`."""
    now = now or timezone.now()
    inviter = inviter_for_code(code)
    if inviter is None or inviter.pk == invitee.pk:
        return None
    if Referral.objects.filter(invitee=invitee).exists() or _has_orders(invitee):
        return None  # one inviter per shopper, ever; and only new shoppers
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                inviter=inviter,
                invitee=invitee,
                invitee_phone=invitee.phone or "",
                invitee_unionid=wechat_unionid(invitee),
            )
    except IntegrityError:
        return Referral.objects.filter(invitee=invitee).first()
    referral.gift = None
    template = _template(invitee_gift=True)
    if template is not None:
        referral.gift = _issue(  # the invitee's coupon (None: none issued)
            template=template, user=invitee, key=f"referral-invitee:{invitee.pk}", now=now
        )
    return referral


# --- the reward ------------------------------------------------------------------------


def _order_pickup_point_id(order) -> int | None:
    return getattr(order, "pickup_point_id", None)


def _inviter_points(inviter) -> set[int]:
    Order = apps.get_model("orders", "Order")
    ShopperBinding = apps.get_model("leaders", "ShopperBinding")
    points = set(
        Order.objects.filter(user=inviter).values_list("pickup_point_id", flat=True).distinct()
    )
    points |= set(
        ShopperBinding.objects.filter(user=inviter).values_list("pickup_point_id", flat=True)
    )
    return points


def fraud_reason(*, referral: Referral, order) -> str:
    """The first fraud rule this referral breaks with `order` as its first
    order ('' when none). See the module docstring for the rules."""
    rewarded = Referral.objects.filter(status=ReferralStatus.REWARDED).exclude(pk=referral.pk)
    phone = referral.invitee_phone
    if phone and rewarded.filter(invitee_phone=phone).exists():
        return _("This phone number has already earned an invitation reward.")
    unionid = referral.invitee_unionid
    if unionid and rewarded.filter(invitee_unionid=unionid).exists():
        return _("This WeChat account has already earned an invitation reward.")
    prefix = phone_prefix(phone)
    point_id = _order_pickup_point_id(order)
    if (
        prefix
        and point_id
        and rewarded.filter(
            first_order__pickup_point_id=point_id, invitee_phone__startswith=f"+86{prefix}"
        ).exists()
    ):
        return _("This delivery address has already earned an invitation reward.")
    inviter = referral.inviter
    if (
        prefix
        and point_id
        and phone_prefix(inviter.phone) == prefix
        and (point_id in _inviter_points(inviter))
    ):
        return _(
            "The invited shopper collects at the inviter's pickup point with a phone "
            "number of the same block: taken for the inviter's own second account."
        )
    return ""


def reward_referral_for_order(*, order, now=None) -> Referral | None:
    """An order was picked up (completed): reward the invitee's inviter once."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = (
            Referral.objects.select_for_update(of=("self",))
            .select_related("inviter", "invitee")
            .filter(invitee_id=order.user_id)
            .first()
        )
        if referral is None or referral.status != ReferralStatus.PENDING:
            return referral
        if referral.first_order_id and referral.first_order_id != order.pk:
            return referral  # rewarded on its first order only
        if not referral.invitee_phone:
            # A WeChat shopper who bound a phone after signing up.
            referral.invitee_phone = getattr(order.user, "phone", "") or ""
        if not referral.invitee_unionid:
            # A phone shopper who bound WeChat after signing up.
            referral.invitee_unionid = wechat_unionid(referral.invitee)
        referral.first_order_id = order.pk
        reason = fraud_reason(referral=referral, order=order)
        if reason:
            guard(REFERRAL_TRANSITIONS, referral.status, ReferralStatus.REJECTED, _("Referral"))
            referral.status = ReferralStatus.REJECTED
            referral.reject_reason = reason[:200]
            referral.save(
                update_fields=[
                    "status",
                    "reject_reason",
                    "first_order",
                    "invitee_phone",
                    "invitee_unionid",
                ]
            )
            logger.info("referral %s rejected: %s", referral.pk, reason)
            return referral
        template = _template(invitee_gift=False)
        coupon = None
        if template is not None:
            coupon = _issue(
                template=template, user=referral.inviter, key=f"referral:{referral.pk}", now=now
            )
        guard(REFERRAL_TRANSITIONS, referral.status, ReferralStatus.REWARDED, _("Referral"))
        referral.status = ReferralStatus.REWARDED
        referral.inviter_coupon = coupon
        referral.rewarded_at = now
        referral.save(
            update_fields=[
                "status",
                "inviter_coupon",
                "rewarded_at",
                "first_order",
                "invitee_phone",
                "invitee_unionid",
            ]
        )
    return referral


def _refunded_in_full(order) -> bool:
    totals = order.lines.aggregate(paid=Sum("payable"), back=Sum("refunded_amount"))
    return totals["paid"] is not None and (totals["back"] or 0) >= totals["paid"]


def cancel_referral_for_refund(*, order, now=None) -> Referral | None:
    """The invitee's first order was refunded: in full, the reward is cancelled
    (the inviter's coupon taken back while unused); partly, nothing changes."""
    with transaction.atomic():
        referral = (
            Referral.objects.select_for_update(of=("self",))
            .select_related("inviter_coupon")
            .filter(invitee_id=order.user_id, first_order_id=order.pk)
            .first()
        )
        if referral is None or referral.status not in (
            ReferralStatus.PENDING,
            ReferralStatus.REWARDED,
        ):
            return referral
        if not _refunded_in_full(order):
            return referral
        guard(REFERRAL_TRANSITIONS, referral.status, ReferralStatus.CANCELLED, _("Referral"))
        coupon = referral.inviter_coupon
        if coupon is not None:
            from .coupons import revoke_coupon

            if not revoke_coupon(coupon=coupon, note=f"referral {referral.pk} refunded"):
                logger.info("referral %s: coupon %s already used, kept", referral.pk, coupon.code)
        referral.status = ReferralStatus.CANCELLED
        referral.reject_reason = _("The first order was refunded.")
        referral.save(update_fields=["status", "reject_reason"])
    return referral


# --- hooks by id (for orders' completion and refund hooks, which pass ids) ------------


def _order(order_id: int):
    Order = apps.get_model("orders", "Order")
    return Order.objects.select_related("user").get(pk=order_id)


def referral_order_completed(*, user_id: int, order_id: int, now=None) -> Referral | None:
    """reward_referral_for_order by ids: one query when the shopper has no
    referral waiting (the common case), the order read only when one does."""
    if not Referral.objects.filter(invitee_id=user_id, status=ReferralStatus.PENDING).exists():
        return None
    return reward_referral_for_order(order=_order(order_id), now=now)


def referral_order_refunded(*, user_id: int, order_id: int, now=None) -> Referral | None:
    """cancel_referral_for_refund by ids: one query unless it was a first order."""
    if not Referral.objects.filter(
        invitee_id=user_id,
        first_order_id=order_id,
        status__in=[ReferralStatus.PENDING, ReferralStatus.REWARDED],
    ).exists():
        return None
    return cancel_referral_for_refund(order=_order(order_id), now=now)
