# ruff: noqa: F811 - the real-worker fixtures are imported from tests/workers.py
"""A real Celery worker: a group past its deadline is expired by its task and each
paid member is refunded by a task of its own, exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.signals import task_postrun
from django.utils import timezone

from groupbuy.models import Group, GroupStatus
from groupbuy.services import join_group, open_group
from groupbuy.tasks import expire_group_task
from orders.models import Order, OrderStatus, Refund
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TOMORROW
from tests.workers import celery_worker, eager_celery  # noqa: F401 - fixtures

from .conftest import make_campaign, pay

# The worker runs in a thread of this process: it reads the same (ticking) clock.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.ticking]


def test_a_timed_out_group_is_refunded_by_one_task_per_member(
    clock, celery_worker, shopper, other_shopper, neighbours, point
):
    sku = SkuFactory(product__name="土鸡蛋", spec="10枚/盒", price=Decimal("12.80"))
    # Decided at the group's deadline (NOON_ISH + 24 h, before tomorrow's cutoff):
    # delivered the day after tomorrow.
    day = TOMORROW + timedelta(days=1)
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=day, quantity=20)
    campaign = make_campaign(
        sku,
        group_size=3,
        group_price=Decimal("9.90"),
        starts_at=NOON_ISH - timedelta(hours=1),
        ends_at=NOON_ISH + timedelta(days=2),
    )
    opener = open_group(campaign=campaign, user=shopper, pickup_point=point)
    pay(opener.order)
    group = Group.objects.get(pk=opener.group_id)
    pay(join_group(group=group, user=other_shopper, pickup_point=point).order)
    # The clock of this group ran out a moment ago.
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    refunds_sent = threading.Event()
    seen: list[tuple[str, str]] = []

    def finished(task=None, state=None, **_kwargs):
        seen.append((task.name, state))
        if sum(1 for name, _s in seen if name.endswith("send_refund_task")) == 2:
            refunds_sent.set()

    task_postrun.connect(finished, weak=False)
    try:
        expire_group_task.delay(group.pk)
        expire_group_task.delay(group.pk)  # delivered twice: changes nothing the second time
        assert refunds_sent.wait(timeout=30), f"refunds not sent: {seen}"
    finally:
        task_postrun.disconnect(finished)

    group.refresh_from_db()
    assert group.status == GroupStatus.FAILED
    refunds = list(Refund.objects.order_by("order_id").values_list("amount", "status"))
    assert refunds == [(Decimal("9.90"), "succeeded"), (Decimal("9.90"), "succeeded")]
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.REFUNDED}
    member_tasks = [s for name, s in seen if name.endswith("refund_group_member_task")]
    assert member_tasks == ["SUCCESS", "SUCCESS"]
