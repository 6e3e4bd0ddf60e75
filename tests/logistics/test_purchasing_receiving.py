"""Sending, cancelling and receiving purchase orders; a short delivery cuts the latest
orders, refunds exactly the cut lines once, tells the shoppers and reverses commission."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from leaders.commission.models import CommissionEntry, EntryKind
from logistics.models import (
    InventoryItem,
    PackItem,
    PickItem,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseStatus,
    ShortageCut,
    WaveDemand,
    WaveLabel,
    WaveLine,
)
from logistics.services.purchasing import (
    PurchasingError,
    cancel_purchase_order,
    draft_purchase_orders,
    receive_purchase_order,
    send_purchase_order,
)
from orders.models import Notice, OrderStatus, Refund, RefundReason, RefundStatus
from orders.services.refunds import refund_amount_for
from orders.tasks import send_refund_task
from tests.catalog.factories import SkuFactory, SupplierFactory, set_stock
from tests.clock import TOMORROW
from tuangou.statemachine import IllegalTransition

from .conftest import paid_order
from .purchasing_support import freeze_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def farm():
    return SupplierFactory(name="望城蔬菜基地")


def _sku(point, supplier, name, spec, price, cost, **extra):
    sku = SkuFactory(
        product__name=name,
        product__supplier=supplier,
        spec=spec,
        price=Decimal(price),
        cost_price=Decimal(cost),
        **extra,
    )
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


@pytest.fixture
def cabbage(point, farm):
    return _sku(point, farm, "白菜", "1颗", "2.50", "1.10", weight_grams=800)


@pytest.fixture
def carrot(point, farm):
    return _sku(point, farm, "胡萝卜", "500g", "1.90", "0.85")


@pytest.fixture
def orders(clock, point, other_pickup_point, shopper, other_shopper, cabbage, carrot):
    """Three orders ten minutes apart: 白菜 4 (first), 3 (second), 2 + 胡萝卜 1 (last)."""
    first = paid_order(shopper, point, (cabbage, 4))
    clock.shift(timedelta(minutes=10))
    second = paid_order(other_shopper, other_pickup_point, (cabbage, 3))
    clock.shift(timedelta(minutes=10))
    last = paid_order(shopper, point, (cabbage, 2), (carrot, 1))
    return first, second, last


@pytest.fixture
def sent(orders, point, farm):
    """The farm's purchase order for tomorrow, sent: 白菜 9, 胡萝卜 1."""
    wave = freeze_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    [po] = draft_purchase_orders(wave=wave)
    return send_purchase_order(purchase_order=po)


def _line(po, sku) -> PurchaseOrderLine:
    return po.lines.get(sku=sku)


def _nothing_written(po, *, status=PurchaseStatus.SENT):
    po.refresh_from_db()
    assert po.status == status
    assert list(po.lines.values_list("received_quantity", flat=True)) == [None, None]
    assert not InventoryItem.objects.exists()
    assert not ShortageCut.objects.exists()
    assert not Refund.objects.exists()
    assert not Notice.objects.filter(kind="shortage").exists()


# --- transitions ----------------------------------------------------------------------


def test_sending_moves_a_draft_to_sent_once(sent, clock):
    assert sent.status == PurchaseStatus.SENT
    assert sent.sent_at == timezone.now()
    first_sent_at = PurchaseOrder.objects.get(pk=sent.pk).sent_at
    clock.shift(timedelta(minutes=5))
    again = send_purchase_order(purchase_order=sent)  # a double click
    assert again.status == PurchaseStatus.SENT
    assert PurchaseOrder.objects.get(pk=sent.pk).sent_at == first_sent_at


def test_a_draft_or_a_sent_order_can_be_cancelled_with_a_reason(sent):
    po = cancel_purchase_order(purchase_order=sent, reason="供应商缺货")
    assert (po.status, po.note) == (PurchaseStatus.CANCELLED, "供应商缺货")
    # Twice: nothing more happens.
    cancel_purchase_order(purchase_order=sent, reason="供应商缺货")
    assert PurchaseOrder.objects.get(pk=sent.pk).note == "供应商缺货"


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (PurchaseStatus.CANCELLED, "send", "采购单：不能从“已取消”变为“已发送”。"),
        (PurchaseStatus.RECEIVED, "send", "采购单：不能从“已到货”变为“已发送”。"),
        (PurchaseStatus.PARTLY_RECEIVED, "cancel", "采购单：不能从“部分到货”变为“已取消”。"),
        (PurchaseStatus.RECEIVED, "cancel", "采购单：不能从“已到货”变为“已取消”。"),
        (PurchaseStatus.DRAFT, "receive", "采购单：不能从“草稿”变为“已到货”。"),
        (PurchaseStatus.CANCELLED, "receive", "采购单：不能从“已取消”变为“已到货”。"),
    ],
)
def test_illegal_moves_are_refused_with_the_translated_message(
    sent, cabbage, status, action, message
):
    PurchaseOrder.objects.filter(pk=sent.pk).update(status=status)
    line = _line(sent, cabbage)
    calls = {
        "send": lambda: send_purchase_order(purchase_order=sent),
        "cancel": lambda: cancel_purchase_order(purchase_order=sent),
        "receive": lambda: receive_purchase_order(
            purchase_order=sent, received={line.pk: 9}, actor=None
        ),
    }
    with pytest.raises(IllegalTransition) as refused:
        calls[action]()
    assert str(refused.value) == message
    sent.refresh_from_db()
    assert sent.status == status
    assert line.__class__.objects.get(pk=line.pk).received_quantity is None
    assert not InventoryItem.objects.exists()


# --- receiving: bad input ---------------------------------------------------------------


def test_receiving_more_than_ordered_is_refused_and_nothing_is_written(sent, cabbage, carrot):
    with pytest.raises(PurchasingError) as refused:
        receive_purchase_order(
            purchase_order=sent,
            received={_line(sent, carrot).pk: 1, _line(sent, cabbage).pk: 10},
            actor=None,
        )
    assert refused.value.message == "白菜 1颗：到货 10 件，超过了订购的 9 件。"
    _nothing_written(sent)


@pytest.mark.parametrize(
    ("received", "message"),
    [
        ({"cabbage": -1}, "到货数量不能为负数。"),
        ({"cabbage": "3"}, "到货数量必须是整数。"),
        ({"cabbage": 2.5}, "到货数量必须是整数。"),
        ({"cabbage": True}, "到货数量必须是整数。"),
        ({}, "请至少填写一行的到货数量。"),
        ({"elsewhere": 1}, "该商品不在这张采购单上。"),
        ({"junk": 1}, "该商品不在这张采购单上。"),
    ],
)
def test_bad_receiving_input_gets_a_clear_message_and_writes_nothing(
    sent, cabbage, point, farm, received, message
):
    other = PurchaseOrder.objects.create(
        number="PO-OTHER", supplier=SupplierFactory(), warehouse=point.warehouse,
        delivery_date=TOMORROW, status=PurchaseStatus.SENT,
    )  # fmt: skip
    other_line = PurchaseOrderLine.objects.create(
        purchase_order=other, sku=cabbage, demand=1, quantity=1, unit_cost=Decimal("1")
    )
    keys = {"cabbage": _line(sent, cabbage).pk, "elsewhere": other_line.pk, "junk": "x"}
    with pytest.raises(PurchasingError) as refused:
        receive_purchase_order(
            purchase_order=sent, received={keys[k]: v for k, v in received.items()}, actor=None
        )
    assert refused.value.message == message
    _nothing_written(sent)


def test_a_received_line_cannot_be_changed_afterwards(sent, cabbage, carrot):
    receive_purchase_order(purchase_order=sent, received={_line(sent, cabbage).pk: 9}, actor=None)
    with pytest.raises(PurchasingError) as refused:
        receive_purchase_order(
            purchase_order=sent,
            received={_line(sent, cabbage).pk: 8, _line(sent, carrot).pk: 1},
            actor=None,
        )
    assert refused.value.message == "白菜 1颗 已登记到货 9 件，不能再修改。"
    assert _line(sent, carrot).received_quantity is None
    assert InventoryItem.objects.get(sku=cabbage).on_hand == 9


# --- receiving in full and in parts -----------------------------------------------------


def test_receiving_everything_closes_the_order_and_adds_to_stock(
    sent, clock, cabbage, carrot, point, operator
):
    InventoryItem.objects.create(warehouse=point.warehouse, sku=carrot, on_hand=4)
    with mock.patch("orders.tasks.send_refund_task.delay") as send:
        result = receive_purchase_order(
            purchase_order=sent,
            received={_line(sent, cabbage).pk: 9, _line(sent, carrot).pk: 1},
            actor=operator,
        )
    assert (result.already_done, result.cuts) == (False, [])
    sent.refresh_from_db()
    assert (sent.status, sent.received_at) == (PurchaseStatus.RECEIVED, timezone.now())
    assert dict(InventoryItem.objects.values_list("sku__product__name", "on_hand")) == {
        "白菜": 9,
        "胡萝卜": 5,
    }
    assert not ShortageCut.objects.exists() and not send.called


def test_receiving_in_two_parts_goes_through_partly_received(sent, cabbage, carrot):
    result = receive_purchase_order(
        purchase_order=sent, received={_line(sent, carrot).pk: 1}, actor=None
    )
    assert result.received == {_line(sent, carrot).pk: 1}
    sent.refresh_from_db()
    assert (sent.status, sent.received_at) == (PurchaseStatus.PARTLY_RECEIVED, None)

    receive_purchase_order(purchase_order=sent, received={_line(sent, cabbage).pk: 9}, actor=None)

    sent.refresh_from_db()
    assert sent.status == PurchaseStatus.RECEIVED
    assert dict(InventoryItem.objects.values_list("sku__product__name", "on_hand")) == {
        "白菜": 9,
        "胡萝卜": 1,
    }


def test_the_same_receiving_saved_twice_changes_nothing_the_second_time(sent, cabbage, carrot):
    received = {_line(sent, cabbage).pk: 5, _line(sent, carrot).pk: 1}
    first = receive_purchase_order(purchase_order=sent, received=received, actor=None)
    refunds = list(Refund.objects.order_by("pk").values_list("pk", "amount"))
    notices = Notice.objects.count()

    again = receive_purchase_order(purchase_order=sent, received=received, actor=None)

    assert (first.already_done, again.already_done) == (False, True)
    assert again.cuts == [] and again.received == {}
    assert list(Refund.objects.order_by("pk").values_list("pk", "amount")) == refunds
    assert Notice.objects.count() == notices
    assert ShortageCut.objects.count() == 1
    assert InventoryItem.objects.get(sku=cabbage).on_hand == 5


# --- a short delivery -----------------------------------------------------------------


def test_a_short_delivery_cuts_the_latest_orders_and_refunds_exactly_those_lines(
    sent, orders, cabbage, carrot, shopper, other_shopper, operator,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    first, second, last = orders
    last_line = last.lines.get(sku=cabbage)
    second_line = second.lines.get(sku=cabbage)
    expected = {
        last_line.pk: refund_amount_for(last_line, 2),
        second_line.pk: refund_amount_for(second_line, 2),
    }
    earned = {
        e.order_line_id: e.amount
        for e in CommissionEntry.objects.filter(kind=EntryKind.EARNED, order_line__sku=cabbage)
    }
    assert set(earned) == {first.lines.get().pk, second_line.pk, last_line.pk}
    with (
        mock.patch.object(send_refund_task, "delay", wraps=send_refund_task.delay) as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = receive_purchase_order(
            purchase_order=sent,
            received={_line(sent, cabbage).pk: 5, _line(sent, carrot).pk: 1},
            actor=operator,
        )

    # 9 needed, 5 arrived: 4 cut, latest first: the last order's 2, then 2 of the second's 3.
    [cut] = result.cuts
    assert (cut.cut.purchase_order_line_id, cut.cut.units) == (_line(sent, cabbage).pk, 4)
    assert [(c.order_number, c.order_line_id, c.units, c.amount) for c in cut.lines] == [
        (second.number, second_line.pk, 2, expected[second_line.pk]),
        (last.number, last_line.pk, 2, expected[last_line.pk]),
    ]
    refunds = Refund.objects.order_by("order_id")
    assert [(r.order_id, r.amount, r.reason, r.status) for r in refunds] == [
        (second.pk, expected[second_line.pk], RefundReason.SHORTAGE, RefundStatus.SUCCEEDED),
        (last.pk, expected[last_line.pk], RefundReason.SHORTAGE, RefundStatus.SUCCEEDED),
    ]
    assert sorted(c.args[0] for c in send.call_args_list) == [r.pk for r in refunds]
    assert set(ShortageCut.objects.get().refunds.all()) == set(refunds)
    assert result.refunded_total == sum(expected.values())
    # The first order is untouched; the others keep what was not cut.
    first.refresh_from_db()
    assert first.refunded_amount == Decimal("0.00") and first.status == OrderStatus.CONFIRMED
    second_line.refresh_from_db()
    last_line.refresh_from_db()
    assert (second_line.refunded_quantity, last_line.refunded_quantity) == (2, 2)
    assert last.lines.get(sku=carrot).refunded_quantity == 0
    last.refresh_from_db()
    assert last.status == OrderStatus.CONFIRMED  # its carrot still comes
    # Each shopper is told, per line.
    shortage = Notice.objects.filter(kind="shortage").order_by("order_id")
    assert [(n.user_id, n.order_id, n.params["product"], n.params["amount"]) for n in shortage] == [
        (other_shopper.pk, second.pk, "白菜 1颗", str(expected[second_line.pk])),
        (shopper.pk, last.pk, "白菜 1颗", str(expected[last_line.pk])),
    ]
    # The leaders give back the commission of the cut units (second: 2 of 3, last: all).
    reversals = {
        e.order_line_id: e.amount for e in CommissionEntry.objects.filter(kind=EntryKind.REVERSAL)
    }
    assert set(reversals) == {second_line.pk, last_line.pk}
    assert reversals[last_line.pk] == -earned[last_line.pk]
    assert reversals[second_line.pk] < 0 and -reversals[second_line.pk] < earned[second_line.pk]


def test_a_short_delivery_shrinks_the_waves_documents(
    sent, orders, cabbage, carrot, point, other_pickup_point, shopper, other_shopper
):
    first, second, last = orders
    wave = sent.wave
    receive_purchase_order(purchase_order=sent, received={_line(sent, cabbage).pk: 5}, actor=None)

    assert dict(
        WaveLine.objects.filter(wave=wave, sku=cabbage).values_list("order_id", "quantity")
    ) == {first.pk: 4, second.pk: 1, last.pk: 0}
    assert dict(
        PackItem.objects.filter(wave=wave, sku=cabbage).values_list("pickup_point_id", "quantity")
    ) == {point.pk: 4, other_pickup_point.pk: 1}
    labels = WaveLabel.objects.filter(wave=wave).values_list("user_id", "line_count", "unit_count")
    # 张阿姨: 白菜 4, 白菜 2 (cut to 0), 胡萝卜 1 → 2 lines, 5 units; 李先生: 3 → 1.
    assert sorted(labels) == sorted([(shopper.pk, 2, 5), (other_shopper.pk, 1, 1)])
    assert PickItem.objects.get(wave=wave, sku=cabbage).quantity == 5
    demand = WaveDemand.objects.get(wave=wave, sku=cabbage)
    assert (demand.quantity, demand.weight_grams) == (5, 5 * 800)
    wave.refresh_from_db()
    assert wave.unit_count == 6
    # The carrot, not short, is untouched.
    assert PickItem.objects.get(wave=wave, sku=carrot).quantity == 1


def test_stock_on_hand_at_drafting_covers_part_of_the_need_before_anything_is_cut(
    orders, point, cabbage, carrot
):
    """3 cabbages on the floor: 6 ordered; 4 arrive → only 2 are cut."""
    InventoryItem.objects.create(warehouse=point.warehouse, sku=cabbage, on_hand=3)
    wave = freeze_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    [po] = draft_purchase_orders(wave=wave)
    po = send_purchase_order(purchase_order=po)
    assert (_line(po, cabbage).quantity, _line(po, cabbage).on_hand) == (6, 3)

    result = receive_purchase_order(
        purchase_order=po, received={_line(po, cabbage).pk: 4}, actor=None
    )

    [cut] = result.cuts
    assert cut.cut.units == 2
    assert [(c.order_number, c.units) for c in cut.lines] == [(orders[2].number, 2)]
    assert InventoryItem.objects.get(sku=cabbage).on_hand == 7


def test_nothing_arriving_cuts_every_line_and_closes_fully_refunded_orders(
    sent, orders, cabbage, carrot
):
    first, second, last = orders
    result = receive_purchase_order(
        purchase_order=sent,
        received={_line(sent, cabbage).pk: 0, _line(sent, carrot).pk: 0},
        actor=None,
    )
    assert sorted(c.cut.units for c in result.cuts) == [1, 9]
    for order in (first, second, last):
        order.refresh_from_db()
        assert order.status == OrderStatus.REFUNDED
        assert order.refunded_amount == order.payable
    assert not InventoryItem.objects.exists()  # nothing arrived, no stock row
    sent.refresh_from_db()
    assert sent.status == PurchaseStatus.RECEIVED


def test_a_purchase_order_without_a_wave_cuts_nothing(point, cabbage, orders):
    po = PurchaseOrder.objects.create(
        number="PO-HAND", supplier=cabbage.product.supplier, warehouse=point.warehouse,
        delivery_date=TOMORROW, status=PurchaseStatus.SENT,
    )  # fmt: skip
    line = PurchaseOrderLine.objects.create(
        purchase_order=po, sku=cabbage, demand=9, quantity=9, unit_cost=Decimal("1.10")
    )
    result = receive_purchase_order(purchase_order=po, received={line.pk: 2}, actor=None)
    assert result.cuts == []
    assert not Refund.objects.exists()
    assert InventoryItem.objects.get(sku=cabbage).on_hand == 2


def test_units_refunded_since_drafting_are_not_cut_again(sent, orders, cabbage, operator):
    """The second order (3 白菜) was refunded by an operator after the PO went out:
    6 arriving is enough; 5 cuts 1, from the last order."""
    from orders.services.refunds import refund_order

    _first, second, last = orders
    refund_order(order=second, actor=operator)
    line = _line(sent, cabbage)

    result = receive_purchase_order(purchase_order=sent, received={line.pk: 5}, actor=operator)

    [cut] = result.cuts
    assert cut.cut.units == 1
    assert [(c.order_id, c.units) for c in cut.lines] == [(last.pk, 1)]


def test_enough_for_what_is_still_wanted_cuts_nothing(sent, orders, cabbage, operator):
    from orders.services.refunds import refund_order

    refund_order(order=orders[1], actor=operator)
    line = _line(sent, cabbage)

    result = receive_purchase_order(purchase_order=sent, received={line.pk: 6}, actor=operator)

    assert result.cuts == [] and not ShortageCut.objects.exists()
    assert Refund.objects.filter(reason=RefundReason.SHORTAGE).count() == 0
