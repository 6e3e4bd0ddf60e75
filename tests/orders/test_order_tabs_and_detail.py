"""The 订单 tab's badges and the order page (issue #10, shoppers 5): a badge counts
what its tab lists, the status is shown once, no "-¥0.00", and the progress
shows the steps still to come."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import OrderStatus, RefundReason
from orders.pricing import SpecialUnitPrices
from orders.selectors import order_counts, order_tabs
from orders.services.refunds import refund_order
from orders.services.transitions import transition

from . import shopper_helpers
from .shopper_helpers import complete, deliver, pay, place

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client

pytestmark = pytest.mark.django_db


def _tab(html: str, key: str) -> str:
    match = re.search(rf'<a [^>]*data-tab="{key}"[^>]*>(.*?)</a>', html, re.S)
    assert match, key
    return match.group(1)


def _head(html: str) -> str:
    match = re.search(r'<section class="card order-head".*?</section>', html, re.S)
    assert match
    return match.group(0)


def _steps(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-step="(\w+)" data-state="(\w+)"', html)


def test_the_to_pick_up_badge_counts_every_order_the_tab_lists(
    clock, shopper_client, bound_shopper, point, sku
):
    confirmed = pay(place(bound_shopper, point, (sku, 1)))
    on_the_way = pay(place(bound_shopper, point, (sku, 1)))
    transition(on_the_way, OrderStatus.IN_DELIVERY)
    ready = deliver(pay(place(bound_shopper, point, (sku, 1))))
    also_ready = deliver(pay(place(bound_shopper, point, (sku, 1))))
    complete(pay(place(bound_shopper, point, (sku, 1))))
    place(bound_shopper, point, (sku, 1))  # unpaid

    response = shopper_client.get(reverse("orders:list"), {"tab": "pickup"})

    listed = {o.code for o in response.context["orders"]}
    assert listed == {confirmed.code, on_the_way.code, ready.code, also_ready.code}
    html = response.content.decode()
    assert '<span class="tab-count">4</span>' in _tab(html, "pickup")
    assert '<span class="tab-count">1</span>' in _tab(html, "unpaid")
    assert "tab-count" not in _tab(html, "done")
    assert order_counts(user=bound_shopper) == {"unpaid": 1, "group": 0, "pickup": 4}


def test_every_badge_equals_the_length_of_its_tab(clock, bound_shopper, point, sku):
    from orders.selectors import orders_for_shopper

    pay(place(bound_shopper, point, (sku, 1)))
    deliver(pay(place(bound_shopper, point, (sku, 1))))
    place(bound_shopper, point, (sku, 1))

    for tab in order_tabs(user=bound_shopper, current="all"):
        if tab.key in {"unpaid", "group", "pickup"}:
            assert (tab.count or 0) == len(orders_for_shopper(user=bound_shopper, tab=tab.key))


def test_the_detail_page_shows_the_status_once(clock, shopper_client, bound_shopper, point, sku):
    order = pay(place(bound_shopper, point, (sku, 1)))

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    head = _head(html)
    assert head.count("已确认") == 1
    assert head.count("data-status=") == 1
    assert '<h1 data-status="confirmed">已确认</h1>' in head


def test_no_discount_line_without_a_discount(clock, shopper_client, bound_shopper, point, sku):
    order = pay(place(bound_shopper, point, (sku, 2)))

    detail = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()
    checkout = shopper_client.get(
        reverse("orders:checkout"), {"sku": sku.code, "quantity": "1"}
    ).content.decode()

    for html in (detail, checkout):
        assert "-¥0.00" not in html
        assert "优惠" not in html.split("price-breakdown", 1)[1]


def test_a_discount_is_shown_with_its_amount(clock, shopper_client, bound_shopper, point, sku):
    special = SpecialUnitPrices(prices={sku.pk: Decimal("2.90")})
    order = pay(place(bound_shopper, point, (sku, 2), rules=[special]))

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    assert "<span data-discount-total>-¥2.00</span>" in html
    assert order.payable == Decimal("5.80")


def test_the_progress_shows_the_steps_still_to_come(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 1)))

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    assert _steps(html) == [
        ("placed", "done"),
        ("paid", "done"),
        ("confirmed", "current"),
        ("in_delivery", "todo"),
        ("ready_for_pickup", "todo"),
        ("completed", "todo"),
    ]
    progress = html.split("progress-steps", 1)[1]
    for label in ("下单", "已付款", "已确认", "配送中", "待取货", "已完成"):
        assert label in progress
    # Steps passed carry their time; steps to come have none.
    assert len(re.findall(r'<li class="is-todo"[^>]*>.*?<time', progress)) == 0
    assert progress.count("<time") == 3


def test_an_unpaid_order_is_at_its_first_step(clock, shopper_client, bound_shopper, point, sku):
    order = place(bound_shopper, point, (sku, 1))

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    assert _steps(html)[:2] == [("placed", "current"), ("paid", "todo")]
    assert len(_steps(html)) == 6


def test_a_refunded_order_ends_at_refunded_with_nothing_to_come(
    clock, shopper_client, bound_shopper, point, sku
):
    order = pay(place(bound_shopper, point, (sku, 1)))
    refund_order(order=order, reason=RefundReason.OPERATOR)

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    assert _steps(html) == [
        ("placed", "done"),
        ("paid", "done"),
        ("confirmed", "done"),
        ("refunded", "current"),
    ]


def test_a_completed_order_has_every_step_done(clock, shopper_client, bound_shopper, point, sku):
    order = complete(pay(place(bound_shopper, point, (sku, 1))))

    html = shopper_client.get(reverse("orders:detail", args=[order.code])).content.decode()

    steps = _steps(html)
    assert [key for key, _state in steps] == [
        "placed",
        "paid",
        "confirmed",
        "in_delivery",
        "ready_for_pickup",
        "completed",
    ]
    assert [state for _key, state in steps] == ["done"] * 5 + ["current"]
