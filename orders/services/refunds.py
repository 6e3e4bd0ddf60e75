"""Refunds: recorded in one short transaction, sent by one task per refund.

A refund's amount is decided and written with the order's numbers (refunded
quantities and amounts, guarded by CheckConstraints); the provider is called
later by `send_refund_task`, retried with the same out_refund_no, so a retry
can never pay twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from leaders.commission.services import reverse_commission_for_refund
from marketing.services import checkout as marketing_checkout
from tuangou.money import ZERO, to_fen, to_money
from tuangou.outbox import publish_on_commit

from ..models import (
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundReason,
    RefundStatus,
)
from ..notices import notify
from ..payments import (
    ProviderError,
    RefundRequest,
    get_payment_provider,
    out_refund_no_for,
)
from ..payments import RefundStatus as ProviderRefundStatus
from ..pricing import apportion
from .checkout import CheckoutError
from .transitions import transition

logger = logging.getLogger("tuangou.refunds")

# Paid but still in the warehouse: a refunded unit can be sold again that day.
_NOT_YET_LEFT = {OrderStatus.PAID, OrderStatus.AWAITING_GROUP, OrderStatus.CONFIRMED}

# Before the goods leave, a refund of everything closes the order as refunded;
# after pickup a refund is after-sale and the order stays completed.
_CLOSE_AS_REFUNDED = {
    OrderStatus.PAID,
    OrderStatus.AWAITING_GROUP,
    OrderStatus.CONFIRMED,
    OrderStatus.IN_DELIVERY,
    OrderStatus.READY_FOR_PICKUP,
}


def unit_amounts(line: OrderLine) -> list[Decimal]:
    """What each unit of a line was paid, to the fen, summing to the line's payable."""
    return apportion(line.payable, [line.list_price] * line.quantity)


def refund_amount_for(line: OrderLine, quantity: int) -> Decimal:
    """The next `quantity` units of a line: the last ones not yet refunded."""
    units = unit_amounts(line)
    end = line.quantity - line.refunded_quantity
    return to_money(sum(units[end - quantity : end], ZERO))


def _paid_payment(order: Order) -> Payment:
    payment = order.payments.filter(status=PaymentStatus.PAID).order_by("pk").first()
    if payment is None:
        raise CheckoutError(_("This order has no payment to refund."))
    return payment


def refund_lines(
    *,
    order: Order,
    quantities: dict[int, int] | None = None,
    reason: str,
    actor=None,
    note: str = "",
) -> Refund:
    """Refund some lines of an order (quantities: {order_line_id: qty}), or,
    with quantities=None, everything not yet refunded.

    All or nothing, with clear messages: more than is left to refund, a line of
    another order, or an order that was never paid changes nothing.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status in {OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED}:
            raise CheckoutError(_("This order was never paid."))
        payment = _paid_payment(order)
        lines = {line.pk: line for line in order.lines.select_for_update().order_by("pk")}
        if quantities is None:
            quantities = {
                pk: line.quantity - line.refunded_quantity - line.handed_out_quantity
                for pk, line in lines.items()
            }
            quantities = {pk: q for pk, q in quantities.items() if q > 0}
        if not quantities:
            raise CheckoutError(_("Nothing is left to refund on this order."))
        plan: list[tuple[OrderLine, int, Decimal]] = []
        for line_id, quantity in sorted(quantities.items()):
            line = lines.get(line_id)
            if line is None:
                raise CheckoutError(_("That item is not part of this order."))
            if not isinstance(quantity, int) or quantity < 1:
                raise CheckoutError(_("The quantity must be at least 1."))
            if quantity > line.quantity - line.refunded_quantity:
                raise CheckoutError(
                    _("Only %(n)d of %(name)s can still be refunded.")
                    % {"n": line.quantity - line.refunded_quantity, "name": line.product_name}
                )
            plan.append((line, quantity, refund_amount_for(line, quantity)))
        total = to_money(sum((amount for _l, _q, amount in plan), ZERO))
        refund = _record_refund(
            order=order, payment=payment, amount=total, reason=reason, actor=actor, note=note
        )
        RefundLine.objects.bulk_create(
            [
                RefundLine(refund=refund, order_line=line, quantity=q, amount=a)
                for line, q, a in plan
            ]
        )
        # The leader gives back the commission of what was refunded (once per refund line).
        reverse_commission_for_refund(refund=refund)
        for line, quantity, amount in plan:
            OrderLine.objects.filter(pk=line.pk).update(
                refunded_quantity=F("refunded_quantity") + quantity,
                refunded_amount=F("refunded_amount") + amount,
            )
        Order.objects.filter(pk=order.pk).update(refunded_amount=F("refunded_amount") + total)
        order.refunded_amount += total
        if order.status in _NOT_YET_LEFT and order.delivery_date >= timezone.localdate():
            # The goods have not left: what was refunded goes back on sale that day.
            _release_refunded(order, {line.sku_id: q for line, q, _a in plan}, refund, actor)
        _close_if_fully_refunded(order, actor=actor, refund=refund)
        if order.discount_total or order.completed_at:
            # Points back (spent: per refunded unit; earned: in proportion) and
            # the coupon rule of marketing/README.md.
            marketing_checkout.order_refunded(
                user=order.user,
                order_id=order.pk,
                refund_id=refund.pk,
                lines=[
                    marketing_checkout.RefundedLine(
                        discounts=line.discounts,
                        quantity=line.quantity,
                        refunded_before=line.refunded_quantity,
                        refunded_now=q,
                    )
                    for line, q, _a in plan
                ],
                order_payable=order.payable,
                refunded_total=order.refunded_amount,
                closed_before_handout=order.status == OrderStatus.REFUNDED
                and not any(line.handed_out_quantity for line in lines.values()),
            )
    return refund


def _release_refunded(order: Order, by_sku: dict[int, int], refund: Refund, actor) -> None:
    from catalog.services import release_stock_lines

    merged: dict[int, int] = {}
    for sku_id, quantity in by_sku.items():
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    release_stock_lines(
        reference=order.number,
        lines=merged,
        key=f"R{refund.pk}",
        actor=actor,
        note=f"refund {refund.out_refund_no}"[:200],
    )


def _record_refund(*, order, payment, amount, reason, actor=None, note="") -> Refund:
    if amount <= 0:
        raise CheckoutError(_("Nothing is left to refund on this order."))
    sequence = Refund.objects.filter(order=order).count() + 1
    refund = Refund.objects.create(
        order=order,
        payment=payment,
        out_refund_no=out_refund_no_for(order.number, sequence),
        amount=amount,
        reason=reason,
        note=note[:200],
        requested_by=actor,
    )
    _enqueue(refund)
    return refund


def _enqueue(refund: Refund) -> None:
    from ..tasks import send_refund_task

    publish_on_commit(send_refund_task, refund.pk)


def _close_if_fully_refunded(order: Order, *, actor=None, refund: Refund) -> None:
    remaining = OrderLine.objects.filter(order=order, refunded_quantity__lt=F("quantity")).exists()
    if remaining:
        # Some lines still stand: maybe they are all handed out now.
        from .lifecycle import complete_if_done

        complete_if_done(order=order, actor=actor)
        return
    if order.status in _CLOSE_AS_REFUNDED:
        was = order.status
        transition(order, OrderStatus.REFUNDED, actor=actor, note="fully refunded")
        if (
            was not in _NOT_YET_LEFT
            and order.status == OrderStatus.REFUNDED
            and order.delivery_date >= timezone.localdate()
        ):
            # Refunded whole on the way or at the point, before the day ends:
            # back on sale for that day. (Before leaving, refund_lines has
            # already released each refund's units; never twice: the release
            # is capped at what the order still holds.)
            remaining = {}
            for line in order.lines.all():
                remaining[line.sku_id] = remaining.get(line.sku_id, 0) + line.quantity
            _release_refunded(order, remaining, refund, actor)


def refund_whole_payment(*, payment: Payment, reason: str) -> Refund | None:
    """Give back all of a payment that came for an order that is no longer open.

    Exactly once per payment for a late payment (a partial unique index);
    returns None when it was already done.
    """
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                order_id=payment.order_id,
                payment=payment,
                out_refund_no=out_refund_no_for(payment.out_trade_no, 0),
                amount=payment.amount,
                reason=reason,
                note="paid after cancellation",
            )
    except IntegrityError:
        return None
    _enqueue(refund)
    return refund


def refund_order(
    *, order: Order, reason: str = RefundReason.OPERATOR, actor=None, note=""
) -> Refund:
    """Refund everything still refundable on an order (operator, failed group, …)."""
    return refund_lines(order=order, quantities=None, reason=reason, actor=actor, note=note)


# --- sending -----------------------------------------------------------------------


class RefundRetry(Exception):
    """The provider could not take the refund now; the task retries it."""


def send_refund(*, refund_id: int) -> Refund:
    """Send one refund to the provider. Idempotent: the out_refund_no is fixed,
    a refund already sent or done is not sent again."""
    refund = Refund.objects.select_related("payment", "order").get(pk=refund_id)
    if refund.status in {RefundStatus.SUCCEEDED, RefundStatus.FAILED}:
        return refund
    Refund.objects.filter(pk=refund.pk).update(attempts=F("attempts") + 1)
    request = RefundRequest(
        out_trade_no=refund.payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_fen=to_fen(refund.amount),
        total_fen=to_fen(refund.payment.amount),
        reason=refund.get_reason_display()[:80],
        notify_url=f"{settings.SITE_URL}{reverse('orders:notify_refund')}",
    )
    try:
        result = get_payment_provider().refund(request)
    except ProviderError as exc:
        if exc.retryable:
            Refund.objects.filter(pk=refund.pk).update(error=f"{exc.code}: {exc.message}"[:200])
            raise RefundRetry(str(exc)) from exc
        Refund.objects.filter(
            pk=refund.pk, status__in=[RefundStatus.PENDING, RefundStatus.PROCESSING]
        ).update(status=RefundStatus.FAILED, error=f"{exc.code}: {exc.message}"[:200])
        notify(order=refund.order, kind="refund_failed")
        logger.error("refund %s failed: %s", refund.out_refund_no, exc)
        refund.refresh_from_db()
        return refund
    if result.is_success:
        mark_refund_succeeded(
            out_refund_no=refund.out_refund_no, provider_refund_id=result.refund_id
        )
    else:
        Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
            status=RefundStatus.PROCESSING, provider_refund_id=result.refund_id
        )
    refund.refresh_from_db()
    return refund


def mark_refund_succeeded(*, out_refund_no: str, provider_refund_id: str = "") -> bool:
    """The money is back with the shopper (refund answer or notification). Exactly once."""
    with transaction.atomic():
        moved = Refund.objects.filter(
            out_refund_no=out_refund_no,
            status__in=[RefundStatus.PENDING, RefundStatus.PROCESSING],
        ).update(
            status=RefundStatus.SUCCEEDED,
            provider_refund_id=provider_refund_id[:64],
            succeeded_at=timezone.now(),
            error="",
        )
        if moved:
            refund = Refund.objects.select_related("order").get(out_refund_no=out_refund_no)
            notify(order=refund.order, kind="refunded", amount=refund.amount)
    return bool(moved)


def mark_refund_failed(*, out_refund_no: str, error: str = "") -> bool:
    """The provider says a refund did not go through (ABNORMAL / CLOSED): an
    operator must act. Exactly once; a refund already done is left alone."""
    with transaction.atomic():
        moved = Refund.objects.filter(
            out_refund_no=out_refund_no,
            status__in=[RefundStatus.PENDING, RefundStatus.PROCESSING],
        ).update(status=RefundStatus.FAILED, error=error[:200])
        if moved:
            refund = Refund.objects.select_related("order").get(out_refund_no=out_refund_no)
            notify(order=refund.order, kind="refund_failed")
            logger.error("refund %s failed: %s", out_refund_no, error)
    return bool(moved)


def poll_processing_refunds(*, older_than_minutes: int = 5, limit: int = 200) -> int:
    """Ask the provider about refunds it took but never told us the end of.

    A refund WeChat answered PROCESSING finishes by notification; when that
    notification is lost the refund would stay open forever. Each refund
    still pending or processing after `older_than_minutes` is queried and
    marked succeeded or failed (both exactly once, by compare-and-set); one
    still processing is left for the next run. Returns how many were closed.
    """
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    open_refunds = list(
        Refund.objects.filter(
            status__in=[RefundStatus.PENDING, RefundStatus.PROCESSING], created_at__lte=cutoff
        )
        .order_by("created_at", "pk")
        .values_list("out_refund_no", flat=True)[:limit]
    )
    provider = get_payment_provider()
    closed = 0
    for out_refund_no in open_refunds:
        # One query per refund, outside any transaction: no network under a lock.
        try:
            result = provider.query_refund(out_refund_no)
        except ProviderError as exc:
            # Not known yet (a PENDING refund the task has not sent) or the
            # provider is down: the send task or the next run handles it.
            logger.info("query refund %s: %s", out_refund_no, exc)
            continue
        if result.is_success:
            closed += mark_refund_succeeded(
                out_refund_no=out_refund_no, provider_refund_id=result.refund_id
            )
        elif result.status in {ProviderRefundStatus.ABNORMAL, ProviderRefundStatus.CLOSED}:
            closed += mark_refund_failed(
                out_refund_no=out_refund_no, error=f"{result.status} (query)"
            )
    return closed


def retry_refund(*, refund: Refund) -> bool:
    """Send a refund again with its own out_refund_no (so it can never pay twice).

    A failed refund goes back to pending (compare-and-set) and is re-enqueued;
    a pending or processing one is just re-enqueued (send_refund is
    idempotent); a refund that succeeded is left alone. Returns True when a
    task was enqueued.
    """
    from ..tasks import send_refund_task

    with transaction.atomic():
        if refund.status == RefundStatus.FAILED:
            moved = Refund.objects.filter(pk=refund.pk, status=RefundStatus.FAILED).update(
                status=RefundStatus.PENDING, error=""
            )
            if not moved:
                return False
        elif refund.status not in {RefundStatus.PENDING, RefundStatus.PROCESSING}:
            return False
        publish_on_commit(send_refund_task, refund.pk)
    return True
