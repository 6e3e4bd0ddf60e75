"""Fixtures and helpers of the flash-sale tests (M2): a session, its item, the gate's keys.

The gate lives in the test run's own Redis database (REDIS_URL); every test
starts with no flash keys there.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.conf import settings as django_settings
from django.db import transaction

from marketing.models import FlashSale, FlashSaleItem, GateMode
from marketing.services import flash
from orders.services.checkout import Want, place_order
from tests.clock import NOON_ISH


@pytest.fixture(autouse=True)
def clean_gate():
    """No flash keys from an earlier test (the gate's Redis DB is the run's own)."""

    def wipe():
        # The run's own Redis, even while a test points the gate elsewhere.
        conn = redis.Redis.from_url(django_settings.REDIS_URL)
        found = list(conn.scan_iter("flash:*", count=1000))
        if found:
            conn.delete(*found)

    wipe()
    yield
    wipe()


def make_sale(
    *,
    sku,
    mode=GateMode.REDIS,
    starts_at=None,
    ends_at=None,
    quota=100,
    per_user_limit=1,
    price=Decimal("1.99"),
    name="晚8点秒杀",
    arm=True,
) -> FlashSaleItem:
    """A session running from NOON_ISH - 1 h to NOON_ISH + 1 h (unless told) with one item."""
    sale = FlashSale.objects.create(
        name=name,
        starts_at=starts_at or NOON_ISH - timedelta(hours=1),
        ends_at=ends_at or NOON_ISH + timedelta(hours=1),
        gate_mode=mode,
    )
    item = FlashSaleItem.objects.create(
        sale=sale, sku=sku, price=price, quota=quota, per_user_limit=per_user_limit
    )
    if arm:
        flash.save_flash_sale(sale=sale)
    return FlashSaleItem.objects.select_related("sale").get(pk=item.pk)


def buy(*, user, item, point, quantity=1, at=None):
    """The checkout as M1 wires it: admit, place the order at the flash price and
    record the purchase in one transaction; give the units back on failure."""
    admission = flash.admit(user=user, item=item, quantity=quantity, at=at)
    return buy_admitted(user=user, admission=admission, point=point, at=at)


def buy_admitted(*, user, admission, point, at=None):
    try:
        with transaction.atomic():
            order = place_order(
                user=user,
                wants=[Want(admission.sku_id, admission.quantity)],
                pickup_point=point,
                rules=flash.flash_rules(
                    user=user, sku_ids=[admission.sku_id], admissions=[admission]
                ),
                at=at,
            )
            flash.record_purchase(order=order, admission=admission)
    except BaseException:
        flash.release(admission=admission)
        raise
    return order
