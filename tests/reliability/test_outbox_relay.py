"""The outbox relay run twice at once (two beats started by mistake, or a beat
and a manual run) publishes each waiting task once (issue #15)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tuangou.outbox import relay_outbox
from tuangou.outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_relays_at_once_publish_every_message_exactly_once(private_redis):
    old = timezone.now() - timedelta(minutes=5)
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task="tuangou.accounts.tasks.ping_task", args=[], created_at=old)
        for _n in range(60)
    )
    # A fresh row is left to its own request's publish (RELAY_GRACE).
    OutboxMessage.objects.create(task="tuangou.accounts.tasks.ping_task", args=[])
    barrier = threading.Barrier(2)
    published: list[int] = []

    def relay():
        try:
            barrier.wait(timeout=10)
            published.append(relay_outbox(batch=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(published) == 60
    assert len(private_redis.queued("default")) == 60
    assert OutboxMessage.objects.count() == 1


def test_the_relay_stops_at_a_broker_that_is_down_and_keeps_the_rest(private_redis):
    old = timezone.now() - timedelta(minutes=5)
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task="tuangou.accounts.tasks.ping_task", args=[], created_at=old)
        for _n in range(3)
    )
    private_redis.stop()
    assert relay_outbox() == 0
    first = OutboxMessage.objects.order_by("pk").first()
    assert first.attempts == 1 and "111" in first.last_error  # connection refused
    assert OutboxMessage.objects.count() == 3
    private_redis.start()
    assert relay_outbox() == 3
    assert OutboxMessage.objects.count() == 0
    assert len(private_redis.queued("default")) == 3
