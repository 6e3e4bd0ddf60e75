"""Paying for orders: prepay once, verified notifications applied exactly once,
unpaid orders cancelled on time, late payments refunded automatically.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from catalog.services import release_stock
from marketing.services import checkout as marketing_checkout
from tuangou.money import to_fen

from ..models import (
    NotificationOutcome,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentNotificationLog,
    PaymentStatus,
    RefundReason,
)
from ..notices import CANCEL_NOT_PAID, cancel_reason_params, notify
from ..payments import (
    MalformedNotification,
    NotificationReplayed,
    PaymentError,
    PrepayRequest,
    ProviderError,
    SignatureInvalid,
    TradeState,
    get_payment_provider,
)
from .checkout import CheckoutError
from .transitions import transition, transition_through

logger = logging.getLogger("tuangou.payments")


# --- starting a payment ---------------------------------------------------------


def start_payment(
    *, order: Order, channel: str, client_ip: str, payer_openid: str | None = None
) -> Payment:
    """The order's one live prepay: a second tap gets the same payment back.

    The row is written first (a partial unique index allows one live payment
    per order), committed, and only then is the provider called: no network
    call ever happens inside a transaction or under a lock.
    """
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise CheckoutError(_("This order can no longer be paid."))
    if order.pay_deadline <= timezone.now():
        raise CheckoutError(_("The time to pay for this order has passed."))
    provider_name = settings.PAYMENT_PROVIDER
    if getattr(order, "payment_tries", None) is not None and not order.has_live_payment:
        # The order was read with its payments counted (selectors.order_for_paying):
        # no live payment, so no read here, just the INSERT.
        payment, tries_so_far = None, order.payment_tries or 0
    else:
        # One read answers both "is there a live payment?" and "how many tries
        # so far?" (the next trade number); then one INSERT when there is none.
        tries = list(Payment.objects.filter(order=order).order_by("pk"))
        payment = next((p for p in tries if p.status == PaymentStatus.CREATED), None)
        tries_so_far = len(tries)
    if payment is None:
        try:
            # One INSERT is atomic by itself: a transaction around it (BEGIN,
            # COMMIT) is only needed as a savepoint inside a caller's.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                payment = Payment.objects.create(
                    order=order,
                    status=PaymentStatus.CREATED,
                    provider=provider_name,
                    channel=channel,
                    out_trade_no=_trade_no(order, tries_so_far),
                    amount=order.payable,
                )
        except IntegrityError:
            # A concurrent tap created it between our read and our insert.
            payment = Payment.objects.get(order=order, status=PaymentStatus.CREATED)
    if payment.prepay_id:
        return payment
    request = PrepayRequest(
        out_trade_no=payment.out_trade_no,
        description=_order_description(order),
        amount_fen=to_fen(payment.amount),
        payer_openid=payer_openid,
        client_ip=client_ip or "127.0.0.1",
        notify_url=f"{settings.SITE_URL}/orders/notify/payment/",
        channel="sandbox" if provider_name == "sandbox" else channel,
        expires_at=order.pay_deadline,
    )
    try:
        result = get_payment_provider().create_prepay(request)
    except ProviderError as exc:
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CREATED).update(
            status=PaymentStatus.FAILED, error=f"{exc.code}: {exc.message}"[:200]
        )
        logger.warning("prepay failed for %s: %s", payment.out_trade_no, exc)
        raise CheckoutError(_("The payment could not be started. Please try again.")) from exc
    params = {
        "jsapi": result.jsapi_params or {},
        "h5_url": result.h5_url or "",
        "sandbox_url": result.sandbox_url or "",
    }
    # Both taps may reach here with the same out_trade_no; the provider
    # answers the same prepay for it, so writing it twice is harmless.
    Payment.objects.filter(pk=payment.pk).update(prepay_id=result.prepay_id, pay_params=params)
    payment.prepay_id, payment.pay_params = result.prepay_id, params
    return payment


def _trade_no(order: Order, attempts: int) -> str:
    return order.number if attempts == 0 else f"{order.number}P{attempts}"


def _order_description(order: Order) -> str:
    return f"{_('Neighbourhood Buy')} {order.number}"[:127]


# --- notifications ----------------------------------------------------------------


@dataclass(frozen=True)
class NotifyReply:
    """What to answer the provider: 2xx stops its retries, anything else retries."""

    ok: bool
    outcome: str
    message: str = ""

    @property
    def status_code(self) -> int:
        return (
            200 if self.ok else (401 if self.outcome == NotificationOutcome.BAD_SIGNATURE else 400)
        )

    @property
    def body(self) -> dict:
        return (
            {"code": "SUCCESS", "message": ""}
            if self.ok
            else {"code": "FAIL", "message": self.message}
        )


def _log(kind: str, outcome: str, headers, body: bytes, out_trade_no: str = "", detail: str = ""):
    PaymentNotificationLog.objects.create(
        kind=kind,
        outcome=outcome,
        out_trade_no=out_trade_no[:64],
        # PostgreSQL text holds no NUL: a JSON "\u0000" in a forged body must not fail the log.
        detail=detail[:300].replace("\x00", "\ufffd"),
        headers={
            k: str(v).replace("\x00", "\ufffd")
            for k, v in dict(headers).items()
            if k.lower().startswith("wechatpay")
        },
        body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )


def handle_payment_notification(*, headers, body: bytes) -> NotifyReply:
    """Verify, decrypt and apply one payment notification. Safe to receive many times."""
    provider = get_payment_provider()
    try:
        note = provider.parse_payment_notification(headers, body)
    except SignatureInvalid as exc:
        _log("payment", NotificationOutcome.BAD_SIGNATURE, headers, body, detail=str(exc))
        return NotifyReply(False, NotificationOutcome.BAD_SIGNATURE, "bad signature")
    except NotificationReplayed as exc:
        _log("payment", NotificationOutcome.REPLAYED, headers, body, detail=str(exc))
        return NotifyReply(False, NotificationOutcome.REPLAYED, "stale timestamp")
    except (MalformedNotification, PaymentError) as exc:
        _log("payment", NotificationOutcome.MALFORMED, headers, body, detail=str(exc))
        return NotifyReply(False, NotificationOutcome.MALFORMED, "malformed")
    if note.trade_state != TradeState.SUCCESS:
        # Not a payment (e.g. a closed trade): nothing to do, stop the retries.
        _log(
            "payment",
            NotificationOutcome.DUPLICATE,
            headers,
            body,
            note.out_trade_no,
            note.trade_state,
        )
        return NotifyReply(True, NotificationOutcome.DUPLICATE)
    outcome, detail = apply_payment(
        out_trade_no=note.out_trade_no,
        amount_fen=note.amount_fen,
        transaction_id=note.transaction_id,
        paid_at=note.success_time,
    )
    _log("payment", outcome, headers, body, note.out_trade_no, detail)
    # Unknown orders and wrong amounts are logged for reconciliation; telling
    # the provider to retry would not make them right.
    return NotifyReply(True, outcome)


def apply_payment(
    *, out_trade_no: str, amount_fen: int, transaction_id: str, paid_at=None
) -> tuple[str, str]:
    """Record that the provider has the money for `out_trade_no` (from a
    notification or a query). Exactly once: the payment row is locked and
    moved with a compare-and-set; a second call finds it paid.
    """
    with transaction.atomic():
        # One statement locks the payment and its order, in the order
        # cancel_unpaid_order locks them (payment, then order), and reads the
        # order as it is now (PostgreSQL re-reads a row it waited for).
        payment = (
            Payment.objects.select_for_update(of=("self", "order"))
            .select_related("order")
            .filter(out_trade_no=out_trade_no)
            .first()
        )
        if payment is None:
            return NotificationOutcome.UNKNOWN_ORDER, "no such payment"
        if amount_fen != to_fen(payment.amount):
            return (
                NotificationOutcome.AMOUNT_MISMATCH,
                f"expected {to_fen(payment.amount)} fen, got {amount_fen}",
            )
        if payment.status == PaymentStatus.PAID:
            return NotificationOutcome.DUPLICATE, "already paid"
        payment.status = PaymentStatus.PAID
        payment.transaction_id = transaction_id[:64]
        payment.paid_at = paid_at or timezone.now()
        payment.save(update_fields=["status", "transaction_id", "paid_at"])
        order = payment.order
        if order.status != OrderStatus.PENDING_PAYMENT:
            # The order was cancelled (timer or shopper) before the money came:
            # give it back, once (a unique index on late-payment refunds).
            from .refunds import refund_whole_payment

            refund_whole_payment(payment=payment, reason=RefundReason.LATE_PAYMENT)
            return NotificationOutcome.LATE_PAYMENT, f"order was {order.status}"
        if order.discount_total:
            # A coupon the order locked is used now (one UPDATE; none without discounts).
            marketing_checkout.order_paid(order_id=order.pk)
        _after_paid(order, paid_note=f"paid {transaction_id}"[:200])
        return NotificationOutcome.ACCEPTED, ""


def _after_paid(order: Order, *, paid_note: str) -> None:
    """Normal orders are confirmed at once; a 拼团 order waits for its group.

    The group logic lives above orders (groupbuy), so it is reached through the
    hooks named in settings.ORDER_PAID_HOOKS, called inside this transaction.
    """
    if order.kind == OrderKind.GROUP:
        transition_through(
            order,
            [(OrderStatus.PAID, paid_note), (OrderStatus.AWAITING_GROUP, "waiting for the group")],
        )
        for path in settings.ORDER_PAID_HOOKS:
            import_string(path)(order=order)
        return
    from .lifecycle import confirm_paid_order

    # Paid and confirmed in one UPDATE (the order row is locked above).
    if confirm_paid_order(order=order, paid_note=paid_note):
        notify(order=order, kind="paid", day=f"{order.delivery_date:%m-%d}")


# --- cancellation and expiry ----------------------------------------------------------


def cancel_unpaid_order(*, order: Order, actor=None, reason: str = "") -> bool:
    """Cancel an order that was never paid: stock back, prepay closed.

    `reason` is a code of orders.notices.CANCEL_REASONS (default: not paid in
    time), translated when the shopper reads the notice; any other text is
    taken as typed by a person and shown as it is.

    The provider is asked first (outside any transaction), by out_trade_no
    whatever the channel: a payment whose notification is late is applied
    instead of cancelling. An H5 prepay answers only an h5_url (no
    prepay_id), so the trade number is the one handle every channel has.
    After the cancel commits, the trade is closed at the provider, so it
    can no longer be paid. Returns True when this call cancelled the order.
    """
    if order.status != OrderStatus.PENDING_PAYMENT:
        return False
    live = order.payments.filter(status=PaymentStatus.CREATED).order_by("pk").first()
    if live is not None and _paid_at_provider(live):
        return False
    with transaction.atomic():
        # Lock in the order apply_payment does (payment rows by pk, then the
        # order): a cancel racing a notification waits instead of deadlocking.
        list(Payment.objects.select_for_update().filter(order_id=order.pk).order_by("pk"))
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.PENDING_PAYMENT:
            return False
        transition(order, OrderStatus.CANCELLED, actor=actor, note=reason or "cancelled")
        Payment.objects.filter(order=order, status=PaymentStatus.CREATED).update(
            status=PaymentStatus.CLOSED
        )
        release_stock(reference=order.number, actor=actor, note="order cancelled")
        if order.discount_total:
            # The coupon, points and 秒杀 units the order took come back.
            marketing_checkout.order_cancelled_unpaid(user_id=order.user_id, order_id=order.pk)
        for path in settings.ORDER_CANCELLED_HOOKS:
            import_string(path)(order=order)
        notify(order=order, kind="cancelled", **cancel_reason_params(reason))
    if live is not None:
        transaction.on_commit(lambda: _close_at_provider(live.out_trade_no))
    return True


def _paid_at_provider(payment: Payment) -> bool:
    """Query the provider; apply the payment if it has the money."""
    try:
        result = get_payment_provider().query_order(payment.out_trade_no)
    except ProviderError as exc:
        logger.info("query %s: %s", payment.out_trade_no, exc)
        return False
    if not result.is_paid:
        return False
    outcome, _detail = apply_payment(
        out_trade_no=payment.out_trade_no,
        amount_fen=result.amount_fen,
        transaction_id=result.transaction_id,
        paid_at=result.success_time,
    )
    return outcome in {NotificationOutcome.ACCEPTED, NotificationOutcome.DUPLICATE}


def _close_at_provider(out_trade_no: str) -> None:
    try:
        get_payment_provider().close_order(out_trade_no)
    except ProviderError as exc:
        logger.info("close %s: %s", out_trade_no, exc)


def expire_unpaid_orders(*, now=None, limit: int = 5000, batch: int = 200) -> int:
    """The sweeper (beat, every minute): cancel every order whose time to pay
    has passed. Idempotent; returns how many it cancelled.

    Walks the (status, pay_deadline) index in batches, oldest deadline first.
    Rows another transaction holds right now (a notification paying it, a
    shopper or another sweeper cancelling it) are skipped (SKIP LOCKED) and
    looked at again on the next run. Each order goes through
    cancel_unpaid_order, so the provider is still asked first and a late
    payment is applied instead; no lock is held while it is asked.
    """
    now = now or timezone.now()
    cancelled = seen = 0
    after = None  # (pay_deadline, pk) of the last order looked at
    while seen < limit:
        due = Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, pay_deadline__lte=now)
        if after is not None:
            due = due.filter(
                Q(pay_deadline__gt=after[0]) | Q(pay_deadline=after[0], pk__gt=after[1])
            )
        with transaction.atomic():
            orders = list(
                due.select_for_update(skip_locked=True).order_by("pay_deadline", "pk")[
                    : min(batch, limit - seen)
                ]
            )
        if not orders:
            break
        seen += len(orders)
        after = (orders[-1].pay_deadline, orders[-1].pk)
        cancelled += sum(
            1 for order in orders if cancel_unpaid_order(order=order, reason=CANCEL_NOT_PAID)
        )
    return cancelled


def find_lost_payments(*, older_than_minutes: int = 2, limit: int = 200) -> int:
    """Ask the provider about live prepays whose notification never came
    (by out_trade_no: JSAPI, H5 and sandbox alike)."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    live = Payment.objects.filter(
        status=PaymentStatus.CREATED,
        created_at__lte=cutoff,
        order__status=OrderStatus.PENDING_PAYMENT,
    ).order_by("created_at")[:limit]
    return sum(1 for payment in live if _paid_at_provider(payment))


def handle_refund_notification(*, headers, body: bytes) -> NotifyReply:
    """Verify, decrypt and apply one refund notification. Safe to receive many times.

    A success marks the refund succeeded (exactly once); ABNORMAL or CLOSED
    marks it failed for an operator. Every notification is logged.
    """
    from ..models import Refund
    from ..payments import RefundStatus as ProviderRefundStatus
    from .refunds import mark_refund_failed, mark_refund_succeeded

    provider = get_payment_provider()
    try:
        note = provider.parse_refund_notification(headers, body)
    except SignatureInvalid as exc:
        _log("refund", NotificationOutcome.BAD_SIGNATURE, headers, body, detail=str(exc))
        return NotifyReply(False, NotificationOutcome.BAD_SIGNATURE, "bad signature")
    except NotificationReplayed as exc:
        _log("refund", NotificationOutcome.REPLAYED, headers, body, detail=str(exc))
        return NotifyReply(False, NotificationOutcome.REPLAYED, "stale timestamp")
    except (MalformedNotification, PaymentError) as exc:
        _log("refund", NotificationOutcome.MALFORMED, headers, body, detail=str(exc))
        return NotifyReply(False, NotificationOutcome.MALFORMED, "malformed")
    refund = Refund.objects.filter(out_refund_no=note.out_refund_no).first()
    if refund is None:
        outcome, detail = NotificationOutcome.UNKNOWN_ORDER, "no such refund"
    elif note.refund_fen != to_fen(refund.amount):
        outcome = NotificationOutcome.AMOUNT_MISMATCH
        detail = f"expected {to_fen(refund.amount)} fen, got {note.refund_fen}"
    elif note.is_success:
        moved = mark_refund_succeeded(
            out_refund_no=note.out_refund_no, provider_refund_id=note.refund_id
        )
        outcome = NotificationOutcome.ACCEPTED if moved else NotificationOutcome.DUPLICATE
        detail = ""
    elif note.refund_status in {ProviderRefundStatus.ABNORMAL, ProviderRefundStatus.CLOSED}:
        moved = mark_refund_failed(
            out_refund_no=note.out_refund_no, error=f"{note.refund_status} (notification)"
        )
        outcome = NotificationOutcome.ACCEPTED if moved else NotificationOutcome.DUPLICATE
        detail = note.refund_status
    else:
        outcome, detail = NotificationOutcome.DUPLICATE, note.refund_status
    _log("refund", outcome, headers, body, note.out_refund_no, detail)
    return NotifyReply(True, outcome)
