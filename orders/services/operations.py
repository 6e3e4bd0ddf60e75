"""Operator moves from the admin that are not part of an order's own life:
sending a refund again after the provider refused it."""

from __future__ import annotations

from django.db import transaction

from ..models import Refund, RefundStatus


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
        transaction.on_commit(lambda: send_refund_task.delay(refund.pk))
    return True
