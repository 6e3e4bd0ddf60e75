# ruff: noqa: F811 - pytest fixtures imported from other test modules
"""The order path's caches (issue #11) never let a shopper act on stale facts.

The shopper's pickup point (leaders.point_cache), the SKU being bought (the
storefront cache) and the tab bar's cart count (orders.cart_count_cache) are
read from Redis; each test warms the cache first, changes the fact through
the service that owns it, and checks that the next request sees the change.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import StockRecord
from leaders.services import (
    PICKUP_CHANGE_COOLDOWN,
    choose_pickup_point,
    close_pickup_point,
    suspend_leader,
)
from orders.models import Order
from orders.services.cart import add_to_cart, remove_from_cart
from tests.catalog.conftest import TOMORROW
from tests.leaders.conftest import (  # noqa: F401 - fixtures
    community,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
)
from tests.orders.conftest import eager_celery, point, sku  # noqa: F401 - fixtures
from tests.orders.shopper_helpers import bound_shopper, shopper_client  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _buy_now(client, sku, quantity=1):
    return client.post(reverse("orders:checkout"), {"sku": sku.code, "quantity": quantity})


def _stock(sku, point) -> int:
    return StockRecord.objects.get(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW
    ).quantity


def test_a_suspended_leader_stops_the_next_checkout(clock, shopper_client, point, sku):
    assert "幸福里便利店" in shopper_client.get(reverse("catalog:home")).content.decode()
    suspend_leader(leader=point.leader, reason="违规")
    response = _buy_now(shopper_client, sku)
    assert response.status_code == 400
    # The point stopped taking orders: the shopper is asked to choose again.
    assert "请先选择自提点。" in response.content.decode()
    assert not Order.objects.exists()
    assert _stock(sku, point) == 50


def test_a_closed_point_is_no_longer_offered(clock, shopper_client, point):
    shopper_client.get(reverse("catalog:home"))
    close_pickup_point(point=point)
    html = shopper_client.get(reverse("catalog:home")).content.decode()
    assert "您的自提点暂停接单，请重新选择一个自提点。" in html
    assert "幸福里便利店" not in html


def test_a_new_binding_shows_the_new_point_at_once(
    clock, shopper_client, bound_shopper, other_pickup_point
):
    assert "幸福里便利店" in shopper_client.get(reverse("catalog:home")).content.decode()
    clock.shift(PICKUP_CHANGE_COOLDOWN + timedelta(minutes=1))
    choose_pickup_point(user=bound_shopper, pickup_point=other_pickup_point)
    html = shopper_client.get(reverse("catalog:home")).content.decode()
    assert "阳光花园物业" in html
    assert "幸福里便利店" not in html


def test_a_product_taken_off_the_shelf_cannot_be_bought_from_the_cache(
    clock, shopper_client, point, sku
):
    assert shopper_client.get(f"{reverse('orders:checkout')}?sku={sku.code}").status_code == 200
    catalog_services.set_on_shelf(product_ids=[sku.product_id], is_on_shelf=False)
    response = _buy_now(shopper_client, sku)
    assert response.status_code == 400
    assert "已下架" in response.content.decode()
    assert not Order.objects.exists()
    assert _stock(sku, point) == 50


def test_a_new_price_is_charged_at_once(clock, shopper_client, point, sku):
    from decimal import Decimal

    from catalog.sku_services import save_sku

    shopper_client.get(f"{reverse('orders:checkout')}?sku={sku.code}")
    sku.price = Decimal("2.50")
    save_sku(sku=sku)
    assert _buy_now(shopper_client, sku, quantity=2).status_code == 302
    assert Order.objects.get().payable == Decimal("5.00")


def _badge(client) -> str:
    html = client.get(reverse("orders:list")).content.decode()
    start = html.index('id="cart-tab-count"')
    return html[start : html.index("</span>", start)]


def test_the_cart_badge_follows_every_change(clock, shopper_client, bound_shopper, point, sku):
    assert 'data-cart-count="0"' in _badge(shopper_client)
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    assert 'data-cart-count="2"' in _badge(shopper_client)
    assert 'data-cart-count="2"' in _badge(shopper_client)  # from Redis now
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)
    assert 'data-cart-count="3"' in _badge(shopper_client)
    remove_from_cart(user=bound_shopper, sku_id=sku.pk)
    assert 'data-cart-count="0"' in _badge(shopper_client)
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=4, warehouse=point.warehouse)
    assert 'data-cart-count="4"' in _badge(shopper_client)
    placed = shopper_client.post(reverse("orders:checkout"), {"note": ""})
    assert placed.status_code == 302
    assert 'data-cart-count="0"' in _badge(shopper_client)


def test_the_pay_button_twice_gives_the_one_live_payment(clock, shopper_client, point, sku):
    from orders.models import Payment

    assert _buy_now(shopper_client, sku).status_code == 302
    order = Order.objects.get()
    pay_url = reverse("orders:pay", args=[order.code])
    first = shopper_client.post(pay_url)
    second = shopper_client.post(pay_url)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    (payment,) = Payment.objects.filter(order=order)
    assert payment.out_trade_no == order.number


def test_a_new_try_after_a_failed_payment_gets_the_next_trade_number(
    clock, shopper_client, point, sku
):
    from orders.models import Payment, PaymentStatus

    assert _buy_now(shopper_client, sku).status_code == 302
    order = Order.objects.get()
    pay_url = reverse("orders:pay", args=[order.code])
    shopper_client.post(pay_url)
    Payment.objects.filter(order=order).update(status=PaymentStatus.FAILED)
    assert shopper_client.post(pay_url).status_code == 302
    assert list(
        Payment.objects.filter(order=order).order_by("pk").values_list("out_trade_no", "status")
    ) == [
        (order.number, PaymentStatus.FAILED),
        (f"{order.number}P1", PaymentStatus.CREATED),
    ]
