"""Placing an order from the cart stores the tab bar's new count (the DELETE
of the ordered lines returns what is left, issue #11): the next page does not
count again, the count is right when lines stay behind, and a change of the
cart that came in between makes the next page count instead of showing a
stale number. Run outside a test transaction: the count is stored on commit."""

# ruff: noqa: F811 - pytest fixtures imported from other test modules
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import cart_count_cache, selectors
from orders.models import Cart, OrderEvent
from orders.services.cart import add_to_cart
from orders.services.checkout import Want, place_order
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401 - fixtures
from tests.orders.conftest import egg_sku, point, sku  # noqa: F401 - fixtures
from tests.orders.shopper_helpers import bound_shopper  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _count(user) -> tuple[int, int]:
    """(the tab bar's count, statements it took)."""
    with CaptureQueriesContext(connection) as ctx:
        count = cart_count_cache.count_for(user=user, load=selectors.cart_count)
    return count, len(ctx.captured_queries)


def _order_from_cart(user, point, *skus):
    cart = Cart.objects.get(user=user)
    return place_order(
        user=user, wants=[Want(s.pk, 1) for s in skus], pickup_point=point, cart=cart
    )


def test_the_count_after_checkout_is_stored(clock, bound_shopper, point, sku, egg_sku):
    add_to_cart(user=bound_shopper, sku_id=sku.pk, quantity=1, warehouse=point.warehouse)
    add_to_cart(user=bound_shopper, sku_id=egg_sku.pk, quantity=3, warehouse=point.warehouse)
    assert _count(bound_shopper) == (4, 1)
    order = _order_from_cart(bound_shopper, point, sku)
    # The eggs stay in the cart: 3 left, known without a query.
    assert _count(bound_shopper) == (3, 0)
    assert selectors.cart_count(user=bound_shopper) == 3
    (event,) = OrderEvent.objects.filter(order=order)
    assert (event.note, event.actor_id) == ("placed", bound_shopper.pk)
    assert event.from_status == event.to_status == order.status


def test_a_change_in_between_makes_the_next_page_count(clock, bound_shopper):
    token = cart_count_cache.changing(user_id=bound_shopper.pk)
    cart_count_cache.changed(user_id=bound_shopper.pk)  # another writer's change
    cart_count_cache.changed_to(user_id=bound_shopper.pk, token=token, count=7)
    assert _count(bound_shopper) == (0, 1)  # counted, not the 7


def test_a_count_read_while_the_order_was_placed_is_not_kept(clock, bound_shopper):
    token = cart_count_cache.changing(user_id=bound_shopper.pk)
    # A page counted before the checkout committed and stored the old count...
    assert _count(bound_shopper) == (0, 1)
    cart_count_cache.changed_to(user_id=bound_shopper.pk, token=token, count=5)
    # ...which the checkout's count replaces.
    assert _count(bound_shopper) == (5, 0)
