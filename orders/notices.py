"""In-app messages (我的消息) and the outside channels behind them.

A notice is stored as a kind and parameters; its text is rendered when shown,
in the reader's language. SMS and WeChat template messages (orders.messaging,
one table of channels per kind) are sent by a task enqueued after commit,
never inside a lock.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tuangou.outbox import publish_on_commit

from .messaging import channels_for
from .models import Notice, Order

# Why an order was cancelled: the code is stored with the notice and the
# sentence chosen when it is shown, in the reader's language.
CANCEL_NOT_PAID = "not_paid"
CANCEL_BY_SHOPPER = "by_shopper"
CANCEL_REASONS = {
    CANCEL_NOT_PAID: _("not paid in time"),
    CANCEL_BY_SHOPPER: _("cancelled by you"),
}

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


def _display_params(params: dict) -> dict:
    """Stored codes become words in the active language (a reason code → its sentence).

    Older notices stored the reason already written out; it is shown as stored,
    and so is a free-text reason someone typed.
    """
    shown = dict(params)
    code = params.get("reason_code")
    if code:
        shown["reason"] = str(CANCEL_REASONS.get(code, code))
    return shown


def render(notice: Notice) -> tuple[str, str]:
    title, body = TEXTS.get(notice.kind, (notice.kind, ""))
    try:
        return str(title), str(body).format(**_display_params(notice.params))
    except (KeyError, IndexError):
        return str(title), str(body)


def cancel_reason_params(reason: str) -> dict[str, str]:
    """The notice parameters for a cancel reason: a known code, or words typed by a person."""
    if not reason or reason in CANCEL_REASONS:
        return {"reason_code": reason or CANCEL_NOT_PAID}
    return {"reason": reason}


def notify(*, order: Order, kind: str, **params) -> Notice:
    """Record a notice for the order's shopper; after commit, send it by the
    outside channels its kind has (orders.messaging.CHANNELS)."""
    params = {"number": order.number, **{k: str(v) for k, v in params.items()}}
    notice = Notice.objects.create(user_id=order.user_id, order=order, kind=kind, params=params)
    if channels_for(kind):
        from .tasks import send_notice_task

        publish_on_commit(send_notice_task, notice.pk)
    return notice


def notify_many(*, orders, kind: str, channels: bool = True, **params) -> list[Notice]:
    """Notices for many orders at once (a day's delivery leaves, bulk reminders).

    One INSERT for the in-app notices; with `channels`, one outside message
    per shopper (not per order) goes out after commit by the kind's channels.
    Pass channels=False where another notice already told the shopper.
    """
    notices = Notice.objects.bulk_create(
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
    if channels and channels_for(kind):
        from .tasks import send_notice_task

        first_per_shopper = {}
        for notice in notices:
            first_per_shopper.setdefault(notice.user_id, notice.pk)
        for pk in first_per_shopper.values():
            publish_on_commit(send_notice_task, pk)
    return notices
