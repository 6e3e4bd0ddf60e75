"""In-app messages (我的消息) and the outside channels behind them.

A notice is stored as a kind and parameters; its text is rendered when shown,
in the reader's language. SMS and WeChat template messages go through the
provider interfaces (tuangou.accounts.sms) after commit, never inside a lock.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tuangou.accounts.sms import send_sms

from .models import Notice, Order

TEXTS = {
    "paid": (_("Payment received"), _("Order {number} is paid. We will deliver on {day}.")),
    "cancelled": (_("Order cancelled"), _("Order {number} was cancelled: {reason}")),
    "confirmed": (_("Order confirmed"), _("Order {number} will be delivered on {day}.")),
    "in_delivery": (_("On the way"), _("Order {number} has left the warehouse.")),
    "ready": (
        _("Ready for pickup"),
        _("Your goods are at {point}. Pickup code {code}."),
    ),
    "completed": (_("Picked up"), _("Order {number} is complete. Thank you!")),
    "refunded": (_("Refund sent"), _("¥{amount} for order {number} is on its way back to you.")),
    "refund_failed": (
        _("Refund delayed"),
        _("The refund for order {number} needs a manual check; we will contact you."),
    ),
    "claim_approved": (_("Claim approved"), _("¥{amount} for order {number} will be refunded.")),
    "claim_rejected": (_("Claim rejected"), _("Your claim on order {number}: {reason}")),
    "shortage": (
        _("Short delivery"),
        _("{product} for order {number} could not be delivered; ¥{amount} will be refunded."),
    ),
    "uncollected": (
        _("Please collect your goods"),
        _("Order {number} is still waiting for you at {point}."),
    ),
    "group_succeeded": (
        _("Group complete"),
        _("Your group for {product} is full: order {number} is confirmed."),
    ),
    "group_failed": (
        _("Group did not fill"),
        _("The group for {product} did not fill in time; ¥{amount} will be refunded."),
    ),
}

# Kinds that also go out by SMS (the rest stay in the app).
SMS_KINDS = {"ready", "refunded", "group_failed"}


def render(notice: Notice) -> tuple[str, str]:
    title, body = TEXTS.get(notice.kind, (notice.kind, ""))
    try:
        return str(title), str(body).format(**notice.params)
    except (KeyError, IndexError):
        return str(title), str(body)


def notify(*, order: Order, kind: str, **params) -> Notice:
    """Record a notice for the order's shopper; SMS after commit where the kind says."""
    params = {"number": order.number, **{k: str(v) for k, v in params.items()}}
    notice = Notice.objects.create(user_id=order.user_id, order=order, kind=kind, params=params)
    if kind in SMS_KINDS:

        def _send() -> None:
            phone = Order.objects.filter(pk=order.pk).values_list("user__phone", flat=True).first()
            if phone:
                send_sms(phone=phone, template=f"order_{kind}", params=params)

        transaction.on_commit(_send)
    return notice


def notify_many(*, orders, kind: str, **params) -> None:
    Notice.objects.bulk_create(
        [
            Notice(
                user_id=o.user_id,
                order=o,
                kind=kind,
                params={"number": o.number, **{k: str(v) for k, v in params.items()}},
            )
            for o in orders
        ]
    )
