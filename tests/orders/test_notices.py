"""Notices store codes and parameters; their words are chosen when read, in the
reader's language (a cancel reason included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from orders.models import Notice
from orders.notices import render
from orders.services.payments import cancel_unpaid_order, expire_unpaid_orders

from . import shopper_helpers
from .shopper_helpers import place

bound_shopper = shopper_helpers.bound_shopper
shopper_client = shopper_helpers.shopper_client

pytestmark = pytest.mark.django_db


def _render_in(language: str, notice: Notice) -> tuple[str, str]:
    with translation.override(language):
        return render(notice)


def test_an_expired_order_stores_the_reason_code_and_reads_in_either_language(
    clock, shopper, point, sku
):
    order = place(shopper, point, (sku, 1))
    clock.shift(timedelta(minutes=16))
    assert expire_unpaid_orders() == 1
    notice = Notice.objects.get(kind="cancelled")
    assert notice.params == {"number": order.number, "reason_code": "not_paid"}
    assert _render_in("zh-hans", notice) == (
        "订单已取消",
        f"订单 {order.number} 已取消：超时未支付",
    )
    assert _render_in("en", notice) == (
        "Order cancelled",
        f"Order {order.number} was cancelled: not paid in time",
    )


def test_a_shopper_cancelling_stores_the_by_shopper_code(
    clock,
    shopper_client,
    bound_shopper,
    point,
    sku,
):
    order = place(bound_shopper, point, (sku, 1))
    shopper_client.post(reverse("orders:cancel", args=[order.code]))
    notice = Notice.objects.get(kind="cancelled")
    assert notice.params == {"number": order.number, "reason_code": "by_shopper"}
    assert _render_in("zh-hans", notice)[1] == f"订单 {order.number} 已取消：你已取消"
    assert _render_in("en", notice)[1] == f"Order {order.number} was cancelled: cancelled by you"


def test_a_reason_typed_by_a_person_is_shown_as_typed(clock, shopper, point, sku):
    order = place(shopper, point, (sku, 1))
    cancel_unpaid_order(order=order, reason="不要了")
    notice = Notice.objects.get(kind="cancelled")
    assert notice.params == {"number": order.number, "reason": "不要了"}
    assert _render_in("en", notice)[1] == f"Order {order.number} was cancelled: 不要了"


def test_an_old_notice_with_its_reason_written_out_still_reads(clock, shopper, point, sku):
    order = place(shopper, point, (sku, 1))
    notice = Notice.objects.create(
        user=shopper,
        order=order,
        kind="cancelled",
        params={"number": order.number, "reason": "超时未支付"},
    )
    assert _render_in("en", notice)[1] == f"Order {order.number} was cancelled: 超时未支付"
