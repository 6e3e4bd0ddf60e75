"""Thin Celery tasks around orders.services; each is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from tuangou.outbox import publish_on_commit


def schedule_payment_expiry(order) -> None:
    """With settings.ORDER_EXPIRY_ETA_TASKS, cancel the order at its deadline
    if unpaid. Off by default: the sweeper (expire_unpaid_orders_task, every
    minute) cancels it within a minute of its deadline, without a broker
    publish per order or an ETA task per order held by the workers."""
    if not settings.ORDER_EXPIRY_ETA_TASKS:
        return
    publish_on_commit(expire_order_task, order.pk, eta=order.pay_deadline)


@shared_task(acks_late=True)
def expire_order_task(order_id: int) -> bool:
    from .models import Order
    from .services.payments import cancel_unpaid_order

    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return False
    from django.utils import timezone

    if order.pay_deadline > timezone.now():
        return False
    return cancel_unpaid_order(order=order)  # reason: not paid in time


@shared_task(acks_late=True)
def expire_unpaid_orders_task() -> int:
    from .services.payments import expire_unpaid_orders

    return expire_unpaid_orders()


@shared_task(acks_late=True)
def find_lost_payments_task() -> int:
    from .services.payments import find_lost_payments

    return find_lost_payments()


@shared_task(acks_late=True)
def send_notice_task(notice_id: int) -> list[str]:
    """A notice by SMS / WeChat template message, as its kind says (once per channel)."""
    from .messaging import send_notice

    return send_notice(notice_id=notice_id)


@shared_task(acks_late=True)
def poll_processing_refunds_task() -> int:
    """Refunds the provider took but never reported back on: query and close them."""
    from .services.refunds import poll_processing_refunds

    return poll_processing_refunds()


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=settings.REFUND_MAX_RETRIES,
)
def send_refund_task(self, refund_id: int) -> str:
    """One refund, retried with backoff (REFUND_RETRY_BASE_SECONDS, doubling,
    at most an hour) and the same out_refund_no."""
    from django.db import InterfaceError, OperationalError, connection

    from .services.refunds import RefundRetry, send_refund

    try:
        return send_refund(refund_id=refund_id).status
    except RefundRetry as exc:
        base = getattr(settings, "REFUND_RETRY_BASE_SECONDS", 30)
        raise self.retry(exc=exc, countdown=min(3600, base * 2**self.request.retries)) from exc
    except (OperationalError, InterfaceError) as exc:
        # The database connection was lost mid-way (its transaction rolled
        # back): a fresh connection and the same out_refund_no on the retry,
        # so the provider sees one refund (issue #15).
        connection.close()
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc


# --- delivery and pickup (appended by the pickup work) -------------------------------


@shared_task(acks_late=True)
def dispatch_orders_task(delivery_date: str | None = None) -> int:
    """The day's confirmed orders leave the warehouse (default: today in Shanghai).

    No longer on the beat: logistics.tasks.dispatch_unrouted_orders_task moves
    the orders of points on no route at 06:00, routed ones leave with their van.
    Kept for operators and scripts that dispatch a whole day by hand.
    """
    from datetime import date

    from tuangou.timeutils import local_today

    from .services.delivery import dispatch_orders

    day = date.fromisoformat(delivery_date) if delivery_date else local_today()
    return len(dispatch_orders(delivery_date=day))


@shared_task(acks_late=True)
def flag_uncollected_orders_task() -> int:
    from .services.pickup import flag_uncollected_orders

    return flag_uncollected_orders()
