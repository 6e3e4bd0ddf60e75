"""The shopper cancels a paid order before its cutoff: 取消并退款.

Until the cutoff of the order's delivery day nothing has been bought for it
yet, so a paid, undispatched order may be cancelled by its shopper: the whole
order is refunded through the refund path (orders.services.refunds), which
puts the stock back on sale for that day and reverses the leader's
commission. After the cutoff the goods are being bought (and later they are
on the way), so the order stays and the shopper is told why.

拼团 orders are never cancelled here: while the group is forming the seat
counts for the neighbours who joined (if the group does not fill, every
member is refunded automatically), and once it filled the neighbours got
their group price because of it. The shopper is told so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.cutoff import effective_cutoff
from tuangou.timeutils import local_datetime, to_local

from ..models import Order, OrderKind, OrderLine, OrderStatus, Refund, RefundReason
from ..notices import CANCEL_BY_SHOPPER, notify
from .refunds import refund_lines

S = OrderStatus

# Paid and still in the warehouse: cancellable until the cutoff.
_BEFORE_DISPATCH = {S.PAID, S.CONFIRMED}
_DISPATCHED = {S.IN_DELIVERY, S.READY_FOR_PICKUP}

# Why a paid order cannot be cancelled (CancelCheck.code).
OK = "ok"
UNPAID = "unpaid"  # not paid: the unpaid cancel (cancel_unpaid_order) applies
CLOSED = "closed"  # already cancelled, refunded or completed
GROUP = "group"  # a 拼团 / community deal order
CUTOFF = "cutoff"  # the cutoff of its delivery day has passed
DISPATCHED = "dispatched"  # on the way or at the pickup point


class CancelRefused(Exception):
    """The order cannot be cancelled; `message` is for the shopper."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class CancelCheck:
    """Whether the shopper may cancel a paid order now, and if not, why."""

    code: str
    message: str
    cutoff_at: datetime

    @property
    def allowed(self) -> bool:
        return self.code == OK


def order_cutoff(*, order: Order, lines: Iterable[OrderLine]) -> datetime:
    """The last moment the order can be cancelled: the cutoff of the day before
    its delivery day (the earliest of its SKUs' own cutoffs, fresh goods first).

    `order.warehouse` and each line's `sku` should be loaded already (no queries).
    """
    warehouse = order.warehouse
    cutoffs = [effective_cutoff(warehouse=warehouse, sku=line.sku) for line in lines]
    cutoff = min(cutoffs) if cutoffs else warehouse.cutoff_time
    return local_datetime(order.delivery_date - timedelta(days=1), cutoff)


def check_paid_cancel(
    *, order: Order, lines: Iterable[OrderLine], now: datetime | None = None
) -> CancelCheck:
    """The one rule, used by the order page (button or reason) and by
    cancel_paid_order under the order's row lock."""
    now = now or timezone.now()
    cutoff_at = order_cutoff(order=order, lines=lines)

    def refuse(code: str, message: str) -> CancelCheck:
        return CancelCheck(code=code, message=message, cutoff_at=cutoff_at)

    if order.status == S.PENDING_PAYMENT:
        return refuse(UNPAID, _("This order is not paid yet."))
    if order.status in {S.CANCELLED, S.REFUNDED, S.COMPLETED}:
        return refuse(CLOSED, _("This order is already closed."))
    if order.kind == OrderKind.GROUP:
        if order.status in {S.PAID, S.AWAITING_GROUP}:
            return refuse(
                GROUP,
                _(
                    "A group-buy order cannot be cancelled while the group is forming: "
                    "your seat counts for your neighbours. If the group does not fill in "
                    "time, you get all your money back automatically."
                ),
            )
        return refuse(
            GROUP,
            _(
                "A group-buy order cannot be cancelled once the group is complete. If "
                "something is wrong, ask for an after-sale refund after pickup."
            ),
        )
    if order.status in _DISPATCHED:
        return refuse(
            DISPATCHED,
            _(
                "The goods have left the warehouse, so the order can no longer be "
                "cancelled. If something is wrong, ask for an after-sale refund after pickup."
            ),
        )
    if order.status not in _BEFORE_DISPATCH:
        return refuse(CLOSED, _("This order is already closed."))
    if now >= cutoff_at:
        return refuse(
            CUTOFF,
            _(
                "The order cutoff (%(time)s) has passed and the goods are being bought, so "
                "the order can no longer be cancelled. If something is wrong, ask for an "
                "after-sale refund after pickup."
            )
            % {"time": f"{to_local(cutoff_at):%H:%M}"},
        )
    return CancelCheck(code=OK, message="", cutoff_at=cutoff_at)


def cancel_paid_order(*, order: Order, actor=None, now: datetime | None = None) -> Refund:
    """取消并退款: refund a paid, undispatched order in full before its cutoff.

    The order row is locked first and every rule checked under the lock (with
    the clock read after waiting for it), so a dispatch or a second tap that
    got there first wins and this call changes nothing. The refund goes
    through refund_lines (stock back for the day, commission reversed, the
    order closed as refunded; the money is sent after commit by its task).
    Raises CancelRefused with the shopper's reason.
    """
    with transaction.atomic():
        # Only the order row is locked (not its warehouse, joined for the cutoff).
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("warehouse")
            .get(pk=order.pk)
        )
        lines = list(OrderLine.objects.filter(order=order).select_related("sku").order_by("pk"))
        check = check_paid_cancel(order=order, lines=lines, now=now)
        if not check.allowed:
            raise CancelRefused(check.message, code=check.code)
        refund = refund_lines(
            order=order,
            quantities=None,
            reason=RefundReason.CANCELLED,
            actor=actor,
            note="cancelled by the shopper before the cutoff",
        )
        notify(order=order, kind="cancelled", reason_code=CANCEL_BY_SHOPPER)
    return refund
