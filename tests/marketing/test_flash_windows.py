"""The checkout skips the 秒杀 admission read when no running session holds one
of its SKUs (marketing.flash_selectors.may_admit, cached with a version token,
issue #11), and never misses a session: one created or switched on after the
windows were cached, even straight through the ORM, is admitted at the next
checkout; a session starts and ends on time with no write."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketing.flash_selectors import may_admit
from marketing.models import FlashPurchase, GateMode
from orders.models import Order
from orders.services.cart import add_to_cart
from tests.clock import NOON_ISH
from tests.marketing.flash_support import clean_gate, make_sale  # noqa: F401
from tests.orders.shopper_helpers import bind

pytestmark = pytest.mark.django_db


def _item_reads(sku_ids, at=None) -> tuple[bool, int]:
    with CaptureQueriesContext(connection) as ctx:
        answer = may_admit(sku_ids=sku_ids, at=at)
    return answer, len(ctx.captured_queries)


def _checkout(client, shopper, sku) -> tuple[Order, list[str]]:
    add_to_cart(user=shopper, sku_id=sku.pk, quantity=1)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(reverse("orders:checkout"), {"note": ""})
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Order.objects.latest("pk"), [q["sql"] for q in ctx.captured_queries]


def test_no_session_no_admission_read_and_a_new_session_is_admitted(
    clock, client, shopper, point, sku
):
    bind(shopper, point)
    client.force_login(shopper)
    _checkout(client, shopper, sku)  # today's windows (none) read and cached
    order, statements = _checkout(client, shopper, sku)
    assert order.payable == sku.price
    assert not [s for s in statements if "marketing_flashsale" in s]
    # Created through the ORM only (no save_flash_sale, no board refresh).
    make_sale(sku=sku, price=Decimal("1.99"), mode=GateMode.DATABASE, arm=False)
    order, statements = _checkout(client, shopper, sku)
    assert order.payable == Decimal("1.99")
    assert FlashPurchase.objects.get().order_id == order.pk


def test_windows_are_cached_and_follow_the_clock(clock, sku, egg_sku):
    make_sale(
        sku=sku,
        starts_at=NOON_ISH + timedelta(hours=1),
        ends_at=NOON_ISH + timedelta(hours=2),
        mode=GateMode.DATABASE,
        arm=False,
    )
    assert _item_reads([sku.pk]) == (False, 1)
    assert _item_reads([sku.pk]) == (False, 0)
    assert _item_reads([egg_sku.pk], at=NOON_ISH + timedelta(minutes=90)) == (False, 0)
    assert _item_reads([sku.pk, egg_sku.pk], at=NOON_ISH + timedelta(minutes=90)) == (True, 0)
    assert _item_reads([sku.pk], at=NOON_ISH + timedelta(hours=2)) == (False, 0)


def test_switching_a_session_off_or_on_is_seen_at_once(clock, sku):
    item = make_sale(sku=sku, mode=GateMode.DATABASE, arm=False)
    assert _item_reads([sku.pk]) == (True, 1)
    sale = item.sale
    sale.is_active = False
    sale.save(update_fields=["is_active"])
    assert _item_reads([sku.pk]) == (False, 1)
    sale.is_active = True
    sale.save(update_fields=["is_active"])
    assert _item_reads([sku.pk]) == (True, 1)
    item.delete()
    assert _item_reads([sku.pk]) == (False, 1)
