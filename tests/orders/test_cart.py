"""The cart: limits and tomorrow's stock checked as quantities change; its pages and htmx."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import StockRecord
from orders.models import CartLine, Order
from orders.services.cart import (
    MAX_CART_LINES,
    CartError,
    add_to_cart,
    remove_from_cart,
    set_cart_quantity,
)
from tests.catalog.factories import SkuFactory, set_stock

from . import shopper_helpers
from .conftest import TOMORROW

pytestmark = pytest.mark.django_db

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client


def _quantities(user) -> dict[int, int]:
    return dict(CartLine.objects.filter(cart__user=user).values_list("sku_id", "quantity"))


# --- the service -------------------------------------------------------------------


def test_adding_twice_adds_up_on_one_line(clock, shopper, point, sku):
    add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    line = add_to_cart(user=shopper, sku_id=sku.pk, quantity=3, warehouse=point.warehouse)

    assert line.quantity == 5
    assert _quantities(shopper) == {sku.pk: 5}


def test_the_per_order_limit_is_checked_as_the_quantity_grows(clock, shopper, point, sku):
    sku.per_order_limit = 3
    sku.save(update_fields=["per_order_limit"])
    add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    with pytest.raises(CartError) as caught:
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    assert caught.value.message == "西红柿 500g/份 每单限购 3 份。"
    assert _quantities(shopper) == {sku.pk: 2}


def test_tomorrows_stock_is_checked(clock, shopper, point, sku):
    StockRecord.objects.filter(sku=sku, delivery_date=TOMORROW).update(quantity=4)

    with pytest.raises(CartError) as caught:
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=5, warehouse=point.warehouse)

    assert caught.value.message == "西红柿 500g/份 只剩 4 份了。"
    assert _quantities(shopper) == {}


def test_a_sold_out_sku_cannot_be_added(clock, shopper, point, sku):
    StockRecord.objects.filter(sku=sku, delivery_date=TOMORROW).update(quantity=0)

    with pytest.raises(CartError) as caught:
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)

    assert caught.value.message == "西红柿 500g/份 已售罄。"


def test_stock_of_another_day_does_not_count(clock, shopper, point):
    sku = SkuFactory(product__name="草莓", spec="1斤")
    from datetime import timedelta

    set_stock(
        sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW + timedelta(days=1), quantity=9
    )

    with pytest.raises(CartError):
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)


def test_an_off_shelf_product_cannot_be_added(clock, shopper, point, sku):
    sku.product.is_on_shelf = False
    sku.product.save(update_fields=["is_on_shelf"])

    with pytest.raises(CartError) as caught:
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)

    assert "西红柿" in caught.value.message
    assert _quantities(shopper) == {}


@pytest.mark.parametrize("quantity", [0, -1, True, "2"])
def test_a_quantity_must_be_a_positive_whole_number(clock, shopper, point, sku, quantity):
    with pytest.raises(CartError):
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=quantity, warehouse=point.warehouse)
    assert _quantities(shopper) == {}


def test_lowering_a_quantity_is_allowed_even_over_stock(clock, shopper, point, sku):
    add_to_cart(user=shopper, sku_id=sku.pk, quantity=5, warehouse=point.warehouse)
    StockRecord.objects.filter(sku=sku).update(quantity=2)

    set_cart_quantity(user=shopper, sku_id=sku.pk, quantity=4, warehouse=point.warehouse)
    assert _quantities(shopper) == {sku.pk: 4}
    with pytest.raises(CartError):
        set_cart_quantity(user=shopper, sku_id=sku.pk, quantity=5, warehouse=point.warehouse)
    assert _quantities(shopper) == {sku.pk: 4}


def test_quantity_zero_removes_the_line(clock, shopper, point, sku):
    add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    assert set_cart_quantity(user=shopper, sku_id=sku.pk, quantity=0) is None
    assert _quantities(shopper) == {}
    assert remove_from_cart(user=shopper, sku_id=sku.pk) is False


def test_a_cart_holds_a_bounded_number_of_lines(clock, shopper, point, settings):
    skus = [SkuFactory() for _ in range(MAX_CART_LINES + 1)]
    for sku in skus:
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=5)
    for sku in skus[:MAX_CART_LINES]:
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)

    with pytest.raises(CartError):
        add_to_cart(user=shopper, sku_id=skus[-1].pk, quantity=1, warehouse=point.warehouse)
    assert len(_quantities(shopper)) == MAX_CART_LINES


def test_another_shoppers_cart_is_untouched(clock, shopper, other_shopper, point, sku):
    add_to_cart(user=other_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    remove_from_cart(user=shopper, sku_id=sku.pk)
    with pytest.raises(CartError):
        set_cart_quantity(user=shopper, sku_id=sku.pk, quantity=9)

    assert _quantities(other_shopper) == {sku.pk: 2}


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_from_two_tabs_make_one_line_with_both_quantities(clock, shopper, point, sku):
    barrier = threading.Barrier(2)
    errors = []

    def add():
        try:
            barrier.wait()
            add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert _quantities(shopper) == {sku.pk: 4}


# --- the product page's form ----------------------------------------------------------


def test_the_product_page_form_adds_to_the_cart_and_goes_back(
    clock, shopper_client, bound_shopper, sku
):
    product_url = reverse("catalog:product", args=[sku.product.code])

    response = shopper_client.post(
        "/orders/cart/add/",
        {"sku": sku.code, "quantity": "2", "action": "cart", "next": product_url},
    )

    assert response.status_code == 302
    assert response["Location"] == product_url
    assert _quantities(bound_shopper) == {sku.pk: 2}
    page = shopper_client.get(product_url)
    assert "已加入购物车" in page.content.decode()


def test_buy_now_from_the_product_page_goes_to_checkout_and_writes_nothing(
    clock, shopper_client, bound_shopper, sku
):
    response = shopper_client.post(
        reverse("orders:cart_add"), {"sku": sku.code, "quantity": "3", "action": "buy"}
    )

    assert response["Location"] == f"{reverse('orders:checkout')}?sku={sku.code}&quantity=3"
    assert _quantities(bound_shopper) == {}
    assert not Order.objects.exists()


def test_a_refused_add_says_why_on_the_product_page(clock, shopper_client, bound_shopper, sku):
    StockRecord.objects.filter(sku=sku).update(quantity=1)
    product_url = reverse("catalog:product", args=[sku.product.code])

    response = shopper_client.post(
        reverse("orders:cart_add"),
        {"sku": sku.code, "quantity": "2", "action": "cart", "next": product_url},
        follow=True,
    )

    assert "西红柿 500g/份 只剩 1 份了。" in response.content.decode()
    assert _quantities(bound_shopper) == {}


def test_an_outside_next_url_is_not_followed(clock, shopper_client, sku):
    response = shopper_client.post(
        reverse("orders:cart_add"),
        {"sku": sku.code, "quantity": "1", "next": "https://evil.example.com/"},
    )

    assert response["Location"] == reverse("orders:cart")


def test_an_unknown_sku_is_a_404(clock, shopper_client):
    response = shopper_client.post(reverse("orders:cart_add"), {"sku": "nope", "quantity": "1"})

    assert response.status_code == 404


def test_adding_needs_a_signed_in_shopper(clock, client, sku):
    response = client.post(reverse("orders:cart_add"), {"sku": sku.code, "quantity": "1"})

    assert response.status_code == 302
    assert not CartLine.objects.exists()


# --- the cart page and htmx ---------------------------------------------------------------


def test_the_cart_page_lists_lines_and_the_total(
    clock, shopper_client, bound_shopper, point, sku, egg_sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    add_to_cart(user=bound_shopper, sku_id=egg_sku.pk, quantity=1, warehouse=point.warehouse)

    response = shopper_client.get(reverse("orders:cart"))

    html = response.content.decode()
    assert "西红柿" in html and "土鸡蛋" in html
    assert response.context["basket"].payable == Decimal("20.60")
    assert response.context["basket"].count == 3
    assert "去结算" in html


def test_the_plus_button_answers_htmx_with_the_new_cart(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    response = shopper_client.post(
        reverse("orders:cart_line", args=[sku.code]),
        {"quantity": "2", "step": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="cart"')
    assert "<html" not in html
    assert 'data-cart-count="3"' in html
    assert "11.70" in html
    assert _quantities(bound_shopper) == {sku.pk: 3}


def test_typing_a_quantity_over_stock_shows_the_reason_and_keeps_the_old_one(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)

    response = shopper_client.post(
        reverse("orders:cart_line", args=[sku.code]), {"quantity": "51"}, HTTP_HX_REQUEST="true"
    )

    assert "西红柿 500g/份 只剩 50 份了。" in response.content.decode()
    assert _quantities(bound_shopper) == {sku.pk: 2}


def test_the_minus_button_at_one_removes_the_line(clock, shopper_client, bound_shopper, point, sku):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)

    shopper_client.post(
        reverse("orders:cart_line", args=[sku.code]),
        {"quantity": "1", "step": "-1"},
        HTTP_HX_REQUEST="true",
    )

    assert _quantities(bound_shopper) == {}


def test_remove_without_htmx_goes_back_to_the_cart(
    clock, shopper_client, bound_shopper, point, sku
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)

    response = shopper_client.post(reverse("orders:cart_remove", args=[sku.code]))

    assert response["Location"] == reverse("orders:cart")
    assert _quantities(bound_shopper) == {}


def test_the_cart_without_a_pickup_point_asks_for_one(clock, client, shopper, point, sku):
    add_to_cart(user=shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)
    client.force_login(shopper)

    html = client.get(reverse("orders:cart")).content.decode()

    assert "选择自提点后才能结算" in html
    assert "/leader/points/choose/" in html


def test_the_cart_badge_counts_items(clock, shopper_client, bound_shopper, point, sku, egg_sku):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    add_to_cart(user=bound_shopper, sku_id=egg_sku.pk, quantity=1, warehouse=point.warehouse)

    response = shopper_client.get(reverse("orders:cart_badge"))

    assert 'data-cart-count="3"' in response.content.decode()


def test_the_cart_page_runs_a_fixed_number_of_queries(
    clock, shopper_client, bound_shopper, point, sku, egg_sku, django_assert_num_queries
):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    add_to_cart(user=bound_shopper, sku_id=egg_sku.pk, quantity=1, warehouse=point.warehouse)
    # user (the session is read from Redis), pickup point, cart lines, their
    # images, stock
    with django_assert_num_queries(5):
        shopper_client.get(reverse("orders:cart"))
    for _ in range(3):
        extra = SkuFactory()
        set_stock(sku=extra, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=5)
        add_to_cart(user=bound_shopper, sku_id=extra.pk, quantity=1, warehouse=point.warehouse)
    # The same, less the pickup point and the user: read once, then from
    # Redis (leaders.point_cache, accounts.user_cache) until they change.
    with django_assert_num_queries(3):
        response = shopper_client.get(reverse("orders:cart"))
    assert len(response.context["basket"].lines) == 5
