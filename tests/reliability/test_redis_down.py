"""Redis stopped while the site runs (issue #15, faults 2).

Pages, checkout, the payment notification and both kinds of cancel keep
answering (no 5xx) with Redis stopped: the cache degrades (tuangou/cache.py)
and every Celery task wanted meanwhile waits in the transactional outbox
(tuangou/outbox). Redis comes back, the relay publishes, a real worker runs
the tasks: every effect happens once, and a second relay or a duplicate
delivery changes nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.urls import reverse

from catalog.models import StockLedger, StockRecord
from orders.models import Order, OrderEvent, OrderStatus, PickupCode, Refund, RefundStatus
from orders.payments import sandbox
from orders.payments.sandbox import SandboxProvider
from orders.services.delivery import sign_for_delivery
from orders.services.payments import start_payment
from orders.tasks import send_refund_task
from tests.clock import NOON_ISH, TOMORROW
from tests.orders.pickup_support import delivery_morning, paid_order
from tests.workers import thread_worker
from tuangou.money import to_fen
from tuangou.outbox import relay_outbox
from tuangou.outbox.models import OutboxMessage

from .support import RecordingSms, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _buy(client, sku, quantity: int) -> Order:
    before = set(Order.objects.values_list("pk", flat=True))
    response = client.post(reverse("orders:checkout"), {"sku": sku.code, "quantity": quantity})
    assert response.status_code == 302, response.content.decode()[:500]
    (order,) = Order.objects.exclude(pk__in=before)
    assert response["Location"] == reverse("orders:pay", args=[order.code])
    return order


def _notify_paid(client, order: Order) -> None:
    payment = start_payment(order=order, channel="h5", client_ip="127.0.0.1")
    headers, body = sandbox.build_payment_notification(payment.out_trade_no, to_fen(payment.amount))
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    response = client.post(
        reverse("orders:notify_payment"), data=body, content_type="application/json", **extra
    )
    assert response.status_code == 200, response.content


def _stock(sku, point) -> tuple[int, int]:
    row = StockRecord.objects.get(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW)
    return row.quantity, row.sold


def test_with_redis_stopped_nothing_fails_and_every_task_runs_once_when_it_is_back(
    clock, private_redis, shopper_client, bound_shopper, point, sku, settings, monkeypatch,
    django_db_blocker,
):  # fmt: skip
    settings.ORDER_EXPIRY_ETA_TASKS = True  # the 500 of issue #15: an ETA publish after commit
    settings.SMS_PROVIDER = "tests.reliability.support.RecordingSms"
    RecordingSms.sent.clear()
    refunds_sent: Counter[str] = Counter()
    real_refund = SandboxProvider.refund

    def counting_refund(self, req):
        refunds_sent[req.out_refund_no] += 1
        return real_refund(self, req)

    monkeypatch.setattr(SandboxProvider, "refund", counting_refund)
    assert shopper_client.get("/").status_code == 200

    private_redis.stop()

    # Pages and the cart, signed in (the session is read from PostgreSQL now).
    assert shopper_client.get("/").status_code == 200
    assert shopper_client.get(reverse("orders:cart")).status_code == 200
    # Checkout: three orders, each answered with the pay page.
    unpaid = _buy(shopper_client, sku, 1)
    cancelled = _buy(shopper_client, sku, 2)
    paid = _buy(shopper_client, sku, 3)
    assert shopper_client.get(reverse("orders:pay", args=[unpaid.code])).status_code == 200
    # The shopper cancels an unpaid order.
    response = shopper_client.post(reverse("orders:cancel", args=[cancelled.code]))
    assert response.status_code == 302
    # The payment notification is applied, then the shopper cancels with a refund.
    _notify_paid(shopper_client, paid)
    response = shopper_client.post(reverse("orders:cancel_refund", args=[paid.code]))
    assert response.status_code == 302
    assert shopper_client.get(reverse("orders:detail", args=[paid.code])).status_code == 200

    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        unpaid.pk: OrderStatus.PENDING_PAYMENT,
        cancelled.pk: OrderStatus.CANCELLED,
        paid.pk: OrderStatus.REFUNDED,
    }
    refund = Refund.objects.get(order=paid)
    assert refund.status == RefundStatus.PENDING and refund.attempts == 0
    # Nothing was lost: every task wanted is in the outbox, none reached a broker.
    waiting = Counter(OutboxMessage.objects.values_list("task", flat=True))
    assert waiting == {
        "orders.tasks.expire_order_task": 3,  # one pay deadline per order
        "orders.tasks.send_notice_task": 2,  # "cancelled" twice (WeChat channel)
        "orders.tasks.send_refund_task": 1,
    }
    assert refunds_sent == {} and RecordingSms.sent == []

    # Redis is back; the relay (beat, every minute) publishes the outbox once.
    private_redis.start()
    clock.move_to(NOON_ISH + timedelta(minutes=16))  # past every pay deadline
    published = relay_outbox()
    assert published == sum(waiting.values())
    assert OutboxMessage.objects.count() == 0
    assert relay_outbox() == 0  # a second relay (another beat) publishes nothing
    queued = private_redis.queued("payments") + private_redis.queued("notices")
    assert len(queued) == published
    # A duplicate delivery of the refund task, as a redelivery would make.
    send_refund_task.delay(refund.pk)

    done = Counter()

    def finished(sender=None, **_kwargs):
        done[sender.name] += 1

    from celery.signals import task_postrun

    task_postrun.connect(finished, weak=False)
    try:
        with thread_worker(django_db_blocker, purge=False, loglevel="WARNING"):
            # The relayed tasks, the duplicate, and the two notices the worker's
            # own work makes (the timer's cancel, the refund's success).
            wait_for(lambda: sum(done.values()) >= published + 3, what="the relayed tasks")
    finally:
        task_postrun.disconnect(finished)

    assert done == {
        "orders.tasks.expire_order_task": 3,
        "orders.tasks.send_notice_task": 4,
        "orders.tasks.send_refund_task": 2,
    }
    # Expiry applied once: the unpaid order cancelled by the timer, the others untouched.
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses[unpaid.pk] == OrderStatus.CANCELLED
    assert statuses[cancelled.pk] == OrderStatus.CANCELLED
    assert statuses[paid.pk] == OrderStatus.REFUNDED
    assert OrderEvent.objects.filter(order=unpaid, to_status=OrderStatus.CANCELLED).count() == 1
    assert OrderEvent.objects.filter(order=cancelled, to_status=OrderStatus.CANCELLED).count() == 1
    # The refund went to the provider once and succeeded once.
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.attempts == 1
    assert refunds_sent == {refund.out_refund_no: 1}
    # Stock: every unit back, the ledger agrees with the row.
    assert _stock(sku, point) == (50, 0)
    ledger = sum(
        StockLedger.objects.filter(sku=sku, delivery_date=TOMORROW).values_list("delta", flat=True)
    )
    assert ledger == 50
    # The refund's SMS went out once (the refunded notice has an SMS channel).
    assert RecordingSms.sent == [(bound_shopper.phone, "order_refunded")]


def test_a_leader_hands_out_with_redis_stopped_and_the_reward_task_waits_in_the_outbox(
    clock, private_redis, client, shopper, leader_user, point, sku
):
    """Completing an order queues marketing's reward task (points, 满额返券):
    with Redis stopped the hand-out answers normally and the task is relayed."""
    order = paid_order(shopper, point, (sku, 2))
    clock.move_to(delivery_morning())
    sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
    code = PickupCode.objects.get(user=shopper, pickup_point=point).code
    OutboxMessage.objects.all().delete()  # what the set-up queued is not the point here
    client.force_login(leader_user)

    private_redis.stop()
    response = client.post(
        reverse("orders:leader_handout"), {"point": point.pk, "code": code, "all": "1"}
    )
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
    waiting = list(OutboxMessage.objects.values_list("task", "kwargs"))
    assert ("marketing.tasks.reward_completed_order_task", {
        "user_id": shopper.pk, "order_id": order.pk, "kept_amount": "7.80"
    }) in waiting  # fmt: skip

    private_redis.start()
    clock.shift(timedelta(minutes=1))
    assert relay_outbox() == len(waiting)
    queued = [m["headers"]["task"] for m in private_redis.queued("default")]
    assert queued.count("marketing.tasks.reward_completed_order_task") == 1
