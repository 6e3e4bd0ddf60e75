"""A transactional outbox for Celery tasks (issue #15: Redis down).

`publish_on_commit(task, *args)` replaces
`transaction.on_commit(lambda: task.delay(*args))`. The task is written as
an `OutboxMessage` row in the caller's transaction: it exists exactly when
the business change does. After COMMIT the row is published to the broker
and deleted. When the broker cannot be reached (Redis stopped, a network
blip) the publish fails quickly, is logged, and the request carries on: the
shopper sees the page, not a 500 for work already committed. The row stays,
and `relay_outbox` (beat, every minute, `outbox-relay`) publishes it once
Redis is back. A process killed between COMMIT and the publish leaves the
row too. So a task is published at least once; every task is idempotent
(DESIGN.md), which makes the effect happen exactly once.

Cost: one INSERT inside the transaction and one DELETE after it, only on
the paths that enqueue a task (not place_order, not a payment). With
`task_always_eager` (tests) there is no broker to lose: the task runs after
commit as before and no row is written.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import transaction

logger = logging.getLogger("tuangou.outbox")

# The relay leaves rows younger than this to their own request's publish.
RELAY_GRACE = timedelta(seconds=30)
# After a failed publish, requests leave their tasks to the relay this long.
BROKER_DOWN_SECONDS = 5.0
_broker_down_until = [0.0]


def _app():
    from tuangou.celery import app

    return app


def publish_on_commit(task, *args, eta: datetime | None = None, **kwargs) -> None:
    """Publish `task(*args, **kwargs)` once the current transaction commits;
    never lost, never raising into the caller once the transaction is done."""
    args_list, kwargs_dict = list(args), dict(kwargs)
    if _app().conf.task_always_eager:
        # As before the outbox: `delay` (tests watch it), `apply_async` with an ETA.
        if eta is None:
            transaction.on_commit(lambda: task.delay(*args_list, **kwargs_dict))
        else:
            options = {"kwargs": kwargs_dict} if kwargs_dict else {}
            transaction.on_commit(lambda: task.apply_async(args=args_list, eta=eta, **options))
        return
    from .models import OutboxMessage

    message = OutboxMessage.objects.create(
        task=task.name, args=args_list, kwargs=kwargs_dict, eta=eta
    )
    transaction.on_commit(lambda: _publish_now(message.pk, task, args_list, kwargs_dict, eta))


def _publish_now(message_id: int, task, args: list, kwargs: dict, eta) -> None:
    """Right after COMMIT: one quick try; any failure leaves the row for the relay.

    The request is waiting, so no retries: Celery's pooled publish retries
    a refused connection for broker_connection_timeout (4 s); this one
    connects once (~0.2 s to fail). After a failure the process does not
    try again for BROKER_DOWN_SECONDS: while Redis is down, requests pay
    nothing for it.
    """
    from .models import OutboxMessage

    if time.monotonic() < _broker_down_until[0]:
        return
    app = _app()
    options = {**(app.conf.broker_transport_options or {}), "max_retries": 0}
    try:
        with app.connection_for_write(transport_options=options) as conn:
            task.apply_async(args=args, kwargs=kwargs, eta=eta, retry=False, connection=conn)
    except Exception as exc:  # the broker is down: the relay publishes it later
        _broker_down_until[0] = time.monotonic() + BROKER_DOWN_SECONDS
        logger.warning("outbox: %s(%s) not published now (%s); relayed later", task.name, args, exc)
        return
    try:
        OutboxMessage.objects.filter(pk=message_id).delete()
    except Exception:  # published; the relay may publish it once more (idempotent task)
        logger.warning("outbox: could not delete message %s", message_id, exc_info=True)


def relay_outbox(*, now: datetime | None = None, limit: int = 1000, batch: int = 100) -> int:
    """Publish every message older than RELAY_GRACE, oldest first; returns how
    many were published. Rows another relay holds are skipped (SKIP LOCKED):
    two beats or two workers running it at once never publish a row twice.
    Stops at the first failed publish (the broker is still down)."""
    from django.utils import timezone

    from .models import OutboxMessage

    app = _app()
    cutoff = (now or timezone.now()) - RELAY_GRACE
    published = 0
    while published < limit:
        with transaction.atomic():
            rows = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(created_at__lte=cutoff)
                .order_by("pk")[: min(batch, limit - published)]
            )
            if not rows:
                return published
            done: list[int] = []
            failed = None
            for row in rows:
                try:
                    task = app.tasks.get(row.task)
                    if task is not None:
                        task.apply_async(args=row.args, kwargs=row.kwargs, eta=row.eta)
                    else:
                        app.send_task(row.task, args=row.args, kwargs=row.kwargs, eta=row.eta)
                except Exception as exc:
                    failed = (row, exc)
                    break
                done.append(row.pk)
            OutboxMessage.objects.filter(pk__in=done).delete()
            published += len(done)
            if done:
                _broker_down_until[0] = 0.0  # the broker is back: requests publish again
            if failed is not None:
                row, exc = failed
                OutboxMessage.objects.filter(pk=row.pk).update(
                    attempts=row.attempts + 1, last_error=str(exc)[:200]
                )
                logger.warning("outbox relay: %s not published (%s)", row.task, exc)
                return published
    return published


def pending_count() -> int:
    from .models import OutboxMessage

    return OutboxMessage.objects.count()
