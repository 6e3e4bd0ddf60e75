# ruff: noqa: F811 - pytest fixtures imported from other test modules
"""Cart add without a transaction (orders/services/cart.py): the line is
written with a compare-and-set on the quantity read, so another tab's add
between the read and the write is never lost and never lets the total pass
what the shopper could order. The other tab is made to land exactly there
(inside the quantity check), no sleeps."""

from __future__ import annotations

import pytest

from orders.models import CartLine
from orders.services import cart
from orders.services.cart import CartError, add_to_cart
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401 - fixtures
from tests.orders.conftest import eager_celery, point, sku  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def another_tab_adds(monkeypatch):
    """The first quantity check lets another tab add `n` of the SKU meanwhile."""
    checked: list[int] = []
    real = cart._check_quantity

    def install(shopper, point, n):
        def check(**kwargs):
            checked.append(kwargs["quantity"])
            if len(checked) == 1:
                add_to_cart(
                    user=shopper, sku_id=kwargs["sku_id"], quantity=n, warehouse=point.warehouse
                )
            return real(**kwargs)

        monkeypatch.setattr(cart, "_check_quantity", check)
        return checked

    return install


def _quantity(shopper, sku) -> int:
    return CartLine.objects.get(cart__user=shopper, sku=sku).quantity


def test_an_add_from_another_tab_in_between_is_kept(clock, shopper, point, sku, another_tab_adds):
    checked = another_tab_adds(shopper, point, 1)
    line = add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    # Checked for 2, the other tab's 1, then again for 3 on what the other tab left.
    assert checked == [2, 1, 3]
    assert line.quantity == _quantity(shopper, sku) == 3
    assert CartLine.objects.filter(cart__user=shopper).count() == 1


def test_the_check_again_refuses_what_the_two_tabs_could_not_order_together(
    clock, shopper, point, sku, another_tab_adds
):
    sku.per_order_limit = 3
    sku.save(update_fields=["per_order_limit"])
    checked = another_tab_adds(shopper, point, 2)
    with pytest.raises(CartError) as refused:
        add_to_cart(user=shopper, sku_id=sku.pk, quantity=2, warehouse=point.warehouse)
    assert checked == [2, 2, 4]
    assert "每单限购 3" in refused.value.message
    assert _quantity(shopper, sku) == 2  # the other tab's add, nothing of this one
