"""Campaign statistics: exact numbers per coupon template, flash session and
promotion from the discounts frozen on paid orders, in 4 queries; the page is
for operators only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from marketing.models import CouponChannel, CouponStatus, GateMode, Promotion
from marketing.services.coupons import issue_coupon
from marketing.stats_selectors import campaign_stats
from orders.pricing import FixedAmountOff
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TOMORROW
from tests.marketing.flash_support import buy, clean_gate, make_sale  # noqa: F401
from tests.marketing.m1_support import template
from tests.orders.shopper_helpers import pay, place
from tuangou.accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def shop(point):
    sku = SkuFactory(product__name="苹果", spec="1kg", price=Decimal("20.00"))
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


@pytest.fixture
def campaigns(shopper, other_shopper, point, shop):
    """One paid order with a ¥5 coupon (alice's first), one paid order with 满减
    ¥10 (bob's first), bob's second order with a flash price, and an unpaid
    order with a coupon (not counted)."""
    coupons = template(name="满30减5", channel=CouponChannel.CLAIM_CENTRE, per_user=5)
    promo = Promotion.objects.create(
        name="满50减10",
        starts_at=NOON_ISH - timedelta(days=1),
        ends_at=NOON_ISH + timedelta(days=1),
    )
    first = issue_coupon(template=coupons, user=shopper)
    second = issue_coupon(template=coupons, user=shopper, channel=CouponChannel.OPERATOR)
    with_coupon = pay(
        place(shopper, point, (shop, 2), rules=[FixedAmountOff(Decimal("5"), kind="coupon",
                                                               ref=first.code)])
    )  # fmt: skip
    first.status = CouponStatus.USED
    first.save(update_fields=["status"])
    place(shopper, point, (shop, 1), rules=[FixedAmountOff(Decimal("5"), kind="coupon",
                                                          ref=second.code)])  # fmt: skip
    with_promo = pay(
        place(other_shopper, point, (shop, 3), rules=[FixedAmountOff(Decimal("10"),
              kind="promotion", ref=str(promo.pk))])
    )  # fmt: skip
    item = make_sale(sku=SkuFactory(product__name="车厘子", price="39.90"), quota=10,
                     mode=GateMode.DATABASE, name="午间秒杀")  # fmt: skip
    set_stock(sku=item.sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=10)
    flash_order = pay(buy(user=other_shopper, item=item, point=point))
    return {
        "template": coupons,
        "promotion": promo,
        "sale": item.sale,
        "orders": (with_coupon, with_promo, flash_order),
    }


def test_each_campaign_has_its_exact_numbers(campaigns, django_assert_num_queries):
    with django_assert_num_queries(4):
        stats = campaign_stats()
    coupon = stats.row("coupon", campaigns["template"].pk)
    assert (coupon.issued, coupon.claimed, coupon.used) == (2, 1, 1)
    assert (coupon.discount_cost, coupon.orders, coupon.gmv, coupon.new_shoppers) == (
        Decimal("5.00"), 1, Decimal("35.00"), 1,
    )  # fmt: skip
    promo = stats.row("promotion", campaigns["promotion"].pk)
    assert (promo.issued, promo.used, promo.discount_cost, promo.gmv, promo.new_shoppers) == (
        None, 1, Decimal("10.00"), Decimal("50.00"), 1,
    )  # fmt: skip
    flash = stats.row("flash_sale", campaigns["sale"].pk)
    assert (flash.issued, flash.claimed, flash.used) == (10, 1, 1)
    # 39.90 - 1.99 off one unit; bob's second order: not a new shopper.
    assert (flash.discount_cost, flash.gmv, flash.new_shoppers) == (
        Decimal("37.91"), Decimal("1.99"), 0,
    )  # fmt: skip
    assert stats.chart()["labels"] == ["满30减5", "午间秒杀", "满50减10"]


def test_the_page_is_for_operators(client, campaigns, operator, shopper):
    url = reverse("marketing:stats")
    assert client.get(url)["Location"].startswith("/admin/login/")
    client.force_login(shopper)
    assert client.get(url).status_code == 403
    client.force_login(operator)
    page = client.get(url).content.decode()
    assert "活动数据" in page and "午间秒杀" in page and "满50减10" in page
    assert 'id="flash_sale-' in page and "echarts.common.min.js" in page
    assert "<script>" not in page


def test_no_orders_no_numbers(operator, client, db):
    template(name="新人券", channel=CouponChannel.NEW_USER)
    client.force_login(operator)
    assert "新人券" in client.get(reverse("marketing:stats")).content.decode()
    row = campaign_stats().coupons[0]
    assert (row.issued, row.used, row.discount_cost, row.gmv) == (0, 0, Decimal("0.00"),
                                                                 Decimal("0.00"))  # fmt: skip
    assert User.objects.filter(is_staff=True).count() == 1
