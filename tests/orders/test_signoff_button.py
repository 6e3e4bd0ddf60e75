"""The sign-off (签收) button shows only when the goods can be signed for: the
same rule sign_for_delivery enforces (delivery_has_arrived), so the leader is
never offered a button that answers 这批货还没到."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import DeliverySignoff, OrderStatus
from orders.pickup_selectors import delivery_has_arrived
from orders.services.delivery import sign_for_delivery
from orders.services.pickup import PickupError

from .conftest import NOON_ISH, TOMORROW
from .pickup_support import delivery_morning, paid_order

pytestmark = pytest.mark.django_db

DAY = TOMORROW.isoformat()
NOT_ARRIVED = "这批货还没到，请在配送当天签收。"


@pytest.fixture
def tomorrows_order(clock, shopper, point, sku):
    """A confirmed order for tomorrow's delivery; the clock stays at today's noon."""
    order = paid_order(shopper, point, (sku, 2))
    assert (order.status, order.delivery_date) == (OrderStatus.CONFIRMED, TOMORROW)
    return order


def test_the_rule_is_the_delivery_day_in_shanghai(clock):
    clock.move_to(NOON_ISH)
    assert delivery_has_arrived(TOMORROW) is False
    clock.move_to(delivery_morning(hour=0))
    assert delivery_has_arrived(TOMORROW) is True


def test_the_board_of_tomorrow_shows_no_signoff_button(
    client, clock, tomorrows_order, leader_user, point
):
    client.force_login(leader_user)
    response = client.get(reverse("orders:leader_today"), {"point": point.pk, "day": DAY})
    page = response.content.decode()

    assert response.status_code == 200
    assert response.context["board"].can_sign is False
    assert "data-sign-link" not in page
    assert "到货签收" not in page
    assert NOT_ARRIVED in page
    # The service agrees: signing now is refused and writes nothing.
    with pytest.raises(PickupError):
        sign_for_delivery(pickup_point=point, delivery_date=TOMORROW, actor=leader_user)
    assert not DeliverySignoff.objects.exists()


def test_the_signoff_sheet_of_tomorrow_has_no_sign_button(
    client, clock, tomorrows_order, leader_user, point
):
    client.force_login(leader_user)
    response = client.get(reverse("orders:leader_signoff"), {"point": point.pk, "day": DAY})
    page = response.content.decode()

    assert response.status_code == 200
    assert "data-signoff-form" not in page
    assert "data-sign>" not in page
    assert NOT_ARRIVED in page


def test_on_the_delivery_day_the_button_shows_and_signing_works(
    client, clock, tomorrows_order, leader_user, point
):
    clock.move_to(delivery_morning())
    client.force_login(leader_user)
    board = client.get(reverse("orders:leader_today"), {"point": point.pk, "day": DAY})
    assert board.context["board"].can_sign is True
    assert "data-sign-link" in board.content.decode()
    assert NOT_ARRIVED not in board.content.decode()

    sheet = client.get(reverse("orders:leader_signoff"), {"point": point.pk, "day": DAY})
    assert "data-signoff-form" in sheet.content.decode()
    posted = client.post(reverse("orders:leader_signoff"), {"point": point.pk, "day": DAY})
    assert posted.status_code == 302
    tomorrows_order.refresh_from_db()
    assert tomorrows_order.status == OrderStatus.READY_FOR_PICKUP
