"""A cart with a 秒杀 line and a normal line, checked out through the page:
the flash price on its line, 满减 and the coupon only on the normal line,
points on both; the 秒杀 purchase recorded in the same transaction; a
refused coupon gives the 秒杀 unit back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from marketing.models import Coupon, CouponStatus, FlashPurchase, FlashSaleItem, GateMode
from marketing.services.coupons import issue_coupon
from orders.models import Order, OrderLine
from orders.services.cart import add_to_cart
from tests.marketing.flash_support import clean_gate, make_sale  # noqa: F401
from tests.orders.shopper_helpers import bind

from .m1_support import give_points, promotion, template

pytestmark = pytest.mark.django_db


@pytest.fixture
def flash_cart(client, shopper, point, sku, egg_sku):
    """西红柿 (3.90) at ¥1.99 in a running Redis-gated session, and 2 eggs (25.60)."""
    item = make_sale(sku=sku, price=Decimal("1.99"), mode=GateMode.REDIS)
    bind(shopper, point)
    add_to_cart(user=shopper, sku_id=sku.pk, quantity=1)
    add_to_cart(user=shopper, sku_id=egg_sku.pk, quantity=2)
    client.force_login(shopper)
    return item


def test_flash_line_takes_no_coupon_or_promotion_but_points(
    clock, client, shopper, sku, egg_sku, flash_cart
):
    coupon = issue_coupon(
        template=template(name="满20减6", amount="6.00", threshold="20"), user=shopper
    )
    promotion(("25", "2"), name="满25减2")
    give_points(shopper, 500)
    html = client.get(reverse("orders:checkout"), {"use_points": "1"}).content.decode()
    assert f'<option value="{coupon.code}" selected>' in html
    response = client.post(
        reverse("orders:checkout"), {"coupon": coupon.code, "points": "500", "note": ""}
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    order = Order.objects.get()
    lines = {line.sku_id: line for line in OrderLine.objects.filter(order=order)}
    flash_parts = [p["kind"] for p in lines[sku.pk].discounts]
    egg_parts = [p["kind"] for p in lines[egg_sku.pk].discounts]
    assert flash_parts == ["flash_sale", "points"]
    assert egg_parts == ["promotion", "coupon", "points"]
    # 3.90 + 25.60 = 29.50; flash −1.91; 满25减2 and the coupon on the eggs
    # (25.60 → 23.60 → 17.60); points: 500 (¥5.00) of at most half.
    assert order.payable == Decimal("14.59")
    assert FlashPurchase.objects.get().order_id == order.pk
    assert FlashSaleItem.objects.get().sold == 1
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.LOCKED


def test_a_refused_coupon_gives_the_flash_unit_back(
    clock, client, shopper, other_shopper, flash_cart
):
    theirs = issue_coupon(template=template(threshold="0"), user=other_shopper)
    response = client.post(reverse("orders:checkout"), {"coupon": theirs.code, "note": ""})
    assert response.status_code == 400
    assert "不存在或不属于您" in response.content.decode()
    assert Order.objects.count() == 0 and FlashPurchase.objects.count() == 0
    assert FlashSaleItem.objects.get().sold == 0
    assert Coupon.objects.get().status == CouponStatus.UNUSED
    # The unit is still there: the same shopper buys it without the coupon.
    response = client.post(reverse("orders:checkout"), {"note": ""})
    assert response.status_code == 302
    assert FlashSaleItem.objects.get().sold == 1
