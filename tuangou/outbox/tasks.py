"""The outbox sweeper's task (beat, every minute)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def relay_outbox_task() -> int:
    from . import relay_outbox

    return relay_outbox()
