# ruff: noqa: F811 - pytest fixtures imported from other test modules
"""抢购 to order through the real pages: the gate admits, the checkout places the
order at the flash price and records the purchase; a second shopper on a sold
out item gets the reason and nothing is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from marketing import gate
from marketing.models import FlashPurchase, FlashSaleItem
from orders.models import Order
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import TOMORROW
from tests.marketing.flash_support import clean_gate, make_sale  # noqa: F401
from tests.orders.shopper_helpers import bind, bound_shopper, shopper_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def item(point):
    sku = SkuFactory(product__name="车厘子", spec="500g/盒", price=Decimal("39.90"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=20)
    return make_sale(sku=sku, quota=1)


def test_grab_then_checkout_places_the_order_at_the_flash_price(
    shopper_client, bound_shopper, item, django_capture_on_commit_callbacks
):
    client = shopper_client
    grabbed = client.post(reverse("marketing:flash_grab", args=[item.pk]), {"quantity": 1})
    checkout = grabbed["Location"]
    assert checkout.startswith("/orders/checkout/?sku=")
    page = client.get(checkout).content.decode()
    assert "1.99" in page
    with django_capture_on_commit_callbacks(execute=True):
        placed = client.post(checkout, {"note": "", "coupon": "none"})
    assert placed.status_code == 302, placed.content.decode()[:1500]
    order = Order.objects.get()
    line = order.lines.get()
    assert (line.unit_price, line.list_price, order.payable) == (
        Decimal("1.99"),
        Decimal("39.90"),
        Decimal("1.99"),
    )
    assert [p["kind"] for p in line.discounts] == ["flash_sale"]
    assert FlashPurchase.objects.get().order == order
    assert FlashSaleItem.objects.get().sold == 1
    snap = gate.snapshot(item_id=item.pk)
    assert (snap.left, snap.held, snap.buyers) == (0, {}, {str(bound_shopper.pk): 1})
    again = client.post(
        reverse("marketing:flash_grab", args=[item.pk]), HTTP_ACCEPT="application/json"
    )
    assert again.json()["message"] == "您已抢购过该秒杀商品，每人限购一次"


def test_a_sold_out_item_at_the_checkout_is_refused_and_nothing_is_written(
    client, other_shopper, point, item, shopper
):
    from marketing.services import flash

    flash.admit(user=shopper, item=item, quantity=1)  # the last unit is held
    bind(other_shopper, point)
    client.force_login(other_shopper)
    sku_code = item.sku.code
    answer = client.post(
        f"{reverse('orders:checkout')}?sku={sku_code}&quantity=1", {"note": "", "coupon": "none"}
    )
    assert answer.status_code == 400
    assert "已抢光，本场秒杀已无库存" in answer.content.decode()
    assert Order.objects.count() == 0 and FlashPurchase.objects.count() == 0
    assert gate.snapshot(item_id=item.pk).left == 0
