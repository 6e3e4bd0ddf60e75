"""Thin Celery tasks of leader commission; each is safe to run twice.

acks_late: a worker killed mid-run leaves the message on the broker, so the
job runs again (every task here is idempotent; settlement resumes where the
killed run stopped).

Registered with the worker through leaders/commission/models.py (imported by
leaders/models.py at start-up), so autodiscovery of leaders.tasks is enough.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

# A lost database connection (restart, failover): the run's transaction died
# with it; retried with backoff (issue #15). The worker closes the dead
# connection between tries (Celery's Django fixup).
DB_LOST = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 5,
           "max_retries": 5}  # fmt: skip


@shared_task(acks_late=True, name="leaders.commission.tasks.settle_commissions_task", **DB_LOST)
def settle_commissions_task() -> int:
    from .services import settle_commissions

    return settle_commissions()


@shared_task(acks_late=True, name="leaders.commission.tasks.close_commission_periods_task")
def close_commission_periods_task() -> int:
    from .services import close_ended_periods

    return len(close_ended_periods())


@shared_task(acks_late=True, name="leaders.commission.tasks.generate_statement_task")
def generate_statement_task(settlement_id: int) -> str:
    from .services import generate_statement

    return generate_statement(settlement_id=settlement_id).verification_code


@shared_task(acks_late=True, name="leaders.commission.tasks.reconcile_commission_accounts_task")
def reconcile_commission_accounts_task() -> int:
    from .services import reconcile_commission_accounts

    return len(reconcile_commission_accounts())


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=8,
    name="leaders.commission.tasks.send_payout_batch_task",
)
def send_payout_batch_task(self, batch_id: int) -> str:
    """One payout batch to its provider, retried with backoff and the same
    batch number (the provider's idempotency key): never paid twice."""
    from django.conf import settings

    from .services import PayoutRetry, send_payout_batch

    try:
        return send_payout_batch(batch_id=batch_id).provider_reference
    except PayoutRetry as exc:
        base = getattr(settings, "PAYOUT_RETRY_BASE_SECONDS", 30)
        raise self.retry(exc=exc, countdown=min(3600, base * 2**self.request.retries)) from exc


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=8,
    name="leaders.commission.tasks.check_payout_batch_task",
)
def check_payout_batch_task(self, batch_id: int) -> str:
    """Ask the provider what became of one submitted batch and settle it
    (services.check_payout_batch: idempotent, settled once under a lock)."""
    from django.conf import settings

    from .services import PayoutRetry, check_payout_batch

    try:
        return check_payout_batch(batch_id=batch_id).status
    except PayoutRetry as exc:
        base = getattr(settings, "PAYOUT_RETRY_BASE_SECONDS", 30)
        raise self.retry(exc=exc, countdown=min(3600, base * 2**self.request.retries)) from exc


@shared_task(acks_late=True, name="leaders.commission.tasks.check_submitted_payout_batches_task")
def check_submitted_payout_batches_task() -> int:
    """Beat: one check task for every batch the provider is still paying."""
    from .models import PayoutBatch, PayoutBatchStatus

    ids = list(
        PayoutBatch.objects.filter(status=PayoutBatchStatus.SUBMITTED)
        .exclude(provider="bank_csv")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for batch_id in ids:
        check_payout_batch_task.delay(batch_id)
    return len(ids)
