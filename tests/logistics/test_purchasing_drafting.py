"""Drafting purchase orders from a wave: need = demand − on hand − inbound, rounded up
to the MOQ and whole cases, one draft per supplier, refreshed in place on a rerun."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Sku
from logistics.models import InventoryItem, PurchaseOrder, PurchaseOrderLine, PurchaseStatus
from logistics.services.purchasing import (
    draft_purchase_orders,
    order_quantity,
    purchase_plan,
    send_purchase_order,
)
from tests.catalog.factories import SkuFactory, SupplierFactory, set_stock
from tests.clock import TOMORROW

from .conftest import paid_order
from .purchasing_support import freeze_wave

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("need", "case_pack", "moq", "expected"),
    [
        (0, 6, 1, 0),  # nothing needed: nothing ordered
        (-4, 6, 12, 0),  # more on hand than needed
        (7, 6, 1, 12),  # two cases of 6
        (6, 6, 1, 6),  # exactly one case
        (3, 1, 10, 10),  # the supplier's minimum
        (11, 6, 10, 12),  # minimum 10, then whole cases: 12
        (13, 12, 20, 24),  # minimum 20 → two cases of 12
        (1, 0, 1, 1),  # a case pack of 0 counts as single units
    ],
)
def test_order_quantity_rounds_up_to_the_moq_then_whole_cases(need, case_pack, moq, expected):
    assert order_quantity(need=need, case_pack=case_pack, min_order_quantity=moq) == expected


@pytest.fixture
def farm():
    return SupplierFactory(name="望城蔬菜基地")


@pytest.fixture
def dairy():
    return SupplierFactory(name="长沙鲜奶厂")


@pytest.fixture
def cabbage(point, farm):
    sku = SkuFactory(
        product__name="白菜",
        product__supplier=farm,
        spec="1颗",
        price=Decimal("2.50"),
        cost_price=Decimal("1.10"),
        case_pack=6,
        min_order_quantity=12,
    )
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


@pytest.fixture
def carrot(point, farm):
    sku = SkuFactory(
        product__name="胡萝卜",
        product__supplier=farm,
        spec="500g",
        price=Decimal("1.90"),
        cost_price=Decimal("0.85"),
        case_pack=1,
        min_order_quantity=1,
    )
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


@pytest.fixture
def milk(point, dairy):
    sku = SkuFactory(
        product__name="鲜牛奶",
        product__supplier=dairy,
        spec="950ml",
        price=Decimal("13.90"),
        cost_price=Decimal("9.60"),
        case_pack=12,
        min_order_quantity=1,
    )
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


@pytest.fixture
def day(clock, point, other_pickup_point, shopper, other_shopper, cabbage, carrot, milk):
    """Tomorrow's orders: 白菜 5+4, 胡萝卜 3, 鲜牛奶 2+1 (at two points)."""
    paid_order(shopper, point, (cabbage, 5), (carrot, 3), (milk, 2))
    paid_order(other_shopper, other_pickup_point, (cabbage, 4), (milk, 1))
    return point.warehouse


def _lines(po: PurchaseOrder) -> list[tuple]:
    return list(
        po.lines.order_by("sku__product__name").values_list(
            "sku__product__name", "demand", "on_hand", "quantity", "unit_cost", "received_quantity"
        )
    )


def test_one_draft_per_supplier_with_demand_less_stock_rounded_to_cases(day, farm, dairy, cabbage):
    InventoryItem.objects.create(warehouse=day, sku=cabbage, on_hand=2)
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)

    drafts = draft_purchase_orders(wave=wave)

    assert sorted((po.supplier.name, po.status, po.wave_id, po.delivery_date) for po in drafts) == [
        ("望城蔬菜基地", PurchaseStatus.DRAFT, wave.pk, TOMORROW),
        ("长沙鲜奶厂", PurchaseStatus.DRAFT, wave.pk, TOMORROW),
    ]
    by_supplier = {po.supplier_id: po for po in drafts}
    # 白菜: 9 ordered, 2 on hand → need 7 → MOQ 12 → two cases of 6 = 12.
    assert _lines(by_supplier[farm.pk]) == [
        ("白菜", 9, 2, 12, Decimal("1.10"), None),
        ("胡萝卜", 3, 0, 3, Decimal("0.85"), None),
    ]
    # 鲜牛奶: need 3 → one case of 12.
    assert _lines(by_supplier[dairy.pk]) == [("鲜牛奶", 3, 0, 12, Decimal("9.60"), None)]
    for po in drafts:
        assert po.number.startswith("PO") and len(po.number) == 21 and po.number[2:].isdigit()
    assert PurchaseOrder.objects.count() == 2


def test_stock_on_hand_covering_the_need_orders_nothing_of_that_sku(day, cabbage, carrot, farm):
    InventoryItem.objects.create(warehouse=day, sku=cabbage, on_hand=9)
    InventoryItem.objects.create(warehouse=day, sku=carrot, on_hand=50)
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)

    drafts = draft_purchase_orders(wave=wave)

    assert [po.supplier.name for po in drafts] == ["长沙鲜奶厂"]  # the farm owes nothing
    assert not PurchaseOrder.objects.filter(supplier=farm).exists()


def test_units_on_the_days_sent_orders_count_as_inbound_but_drafts_and_other_days_do_not(
    day, cabbage, milk, farm, dairy
):
    """白菜 moved to the dairy's list this week: the farm's sent order still brings 6."""
    elsewhere = SupplierFactory(name="外省批发")
    sent = PurchaseOrder.objects.create(
        number="PO-SENT", supplier=elsewhere, warehouse=day, delivery_date=TOMORROW,
        status=PurchaseStatus.SENT,
    )  # fmt: skip
    PurchaseOrderLine.objects.create(
        purchase_order=sent, sku=cabbage, demand=6, quantity=6, unit_cost=Decimal("1")
    )
    # Received already (so in on_hand, not inbound): 鲜牛奶 arrived, 1 unit.
    PurchaseOrderLine.objects.create(
        purchase_order=sent, sku=milk, demand=1, quantity=1, unit_cost=Decimal("1"),
        received_quantity=1,
    )  # fmt: skip
    # Not inbound: another day's sent order, another supplier's draft, a cancelled one.
    other_day = PurchaseOrder.objects.create(
        number="PO-LATER", supplier=elsewhere, warehouse=day,
        delivery_date=TOMORROW + timedelta(days=1), status=PurchaseStatus.SENT,
    )  # fmt: skip
    PurchaseOrderLine.objects.create(
        purchase_order=other_day, sku=cabbage, demand=9, quantity=9, unit_cost=Decimal("1")
    )
    cancelled = PurchaseOrder.objects.create(
        number="PO-GONE", supplier=SupplierFactory(), warehouse=day, delivery_date=TOMORROW,
        status=PurchaseStatus.CANCELLED,
    )  # fmt: skip
    PurchaseOrderLine.objects.create(
        purchase_order=cancelled, sku=milk, demand=3, quantity=3, unit_cost=Decimal("1")
    )
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)

    drafts = {po.supplier_id: po for po in draft_purchase_orders(wave=wave)}

    # 白菜: 9 − 6 inbound = 3 → MOQ 12.
    assert _lines(drafts[farm.pk])[0] == ("白菜", 9, 6, 12, Decimal("1.10"), None)
    # 鲜牛奶: the received line is not inbound: 3 → 12 (one case).
    assert _lines(drafts[dairy.pk]) == [("鲜牛奶", 3, 0, 12, Decimal("9.60"), None)]
    plan = purchase_plan(wave=wave)
    cabbage_line = next(line for line in plan.lines if line.sku_id == cabbage.pk)
    assert (cabbage_line.on_hand, cabbage_line.inbound, cabbage_line.need) == (0, 6, 3)


def test_a_rerun_refreshes_the_drafts_in_place(
    day, clock, shopper, point, farm, dairy, cabbage, carrot, milk
):
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)
    first = {po.supplier_id: (po.pk, po.number) for po in draft_purchase_orders(wave=wave)}
    lines_before = list(PurchaseOrderLine.objects.order_by("pk").values_list("pk", flat=True))

    again = {po.supplier_id: (po.pk, po.number) for po in draft_purchase_orders(wave=wave)}

    assert again == first
    assert list(PurchaseOrderLine.objects.order_by("pk").values_list("pk", flat=True)) == (
        lines_before
    )
    # More orders come in and the wave is frozen again; 胡萝卜 gets covered by stock.
    paid_order(shopper, point, (cabbage, 10), (milk, 10))
    InventoryItem.objects.create(warehouse=day, sku=carrot, on_hand=3)
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)

    third = {po.supplier_id: po for po in draft_purchase_orders(wave=wave)}

    assert {s: (po.pk, po.number) for s, po in third.items()} == first
    assert _lines(third[farm.pk]) == [("白菜", 19, 0, 24, Decimal("1.10"), None)]
    assert _lines(third[dairy.pk]) == [("鲜牛奶", 13, 0, 24, Decimal("9.60"), None)]
    # The carrot's line was removed, the cabbage's kept its row.
    assert PurchaseOrderLine.objects.filter(sku=carrot).count() == 0
    assert set(lines_before) > set(PurchaseOrderLine.objects.values_list("pk", flat=True))


def test_a_draft_left_with_nothing_to_order_is_deleted(day, milk, dairy):
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)
    draft_purchase_orders(wave=wave)
    InventoryItem.objects.create(warehouse=day, sku=milk, on_hand=40)

    drafts = draft_purchase_orders(wave=wave)

    assert dairy.pk not in {po.supplier_id for po in drafts}
    assert not PurchaseOrder.objects.filter(supplier=dairy).exists()
    assert PurchaseOrderLine.objects.filter(sku=milk).count() == 0


def test_a_sent_order_is_never_changed_by_a_rerun_and_the_extra_need_is_listed(
    day, shopper, point, dairy, milk
):
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)
    drafts = {po.supplier_id: po for po in draft_purchase_orders(wave=wave)}
    sent = send_purchase_order(purchase_order=drafts[dairy.pk])
    before = _lines(sent)
    # 12 more bottles are ordered: 15 wanted, the sent order brings 12.
    paid_order(shopper, point, (milk, 12))
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)

    drafts = draft_purchase_orders(wave=wave)

    sent.refresh_from_db()
    assert sent.status == PurchaseStatus.SENT
    assert _lines(sent) == before == [("鲜牛奶", 3, 0, 12, Decimal("9.60"), None)]
    assert dairy.pk not in {po.supplier_id for po in drafts}
    assert PurchaseOrder.objects.filter(supplier=dairy).count() == 1
    problems = purchase_plan(wave=wave).problems
    assert [(p.kind, p.sku_id, p.purchase_order_number) for p in problems] == [
        ("more_needed", milk.pk, sent.number)
    ]
    # 15 wanted − 12 inbound on the sent order = 3 more.
    assert problems[0].text == f"鲜牛奶 950ml：还需要 3 件，但采购单 {sent.number} 已经是“已发送”。"


def test_a_sku_without_supplier_or_cost_price_is_listed_and_a_costless_order_cannot_be_sent(
    day, clock, shopper, point, cabbage, farm
):
    loose = SkuFactory(product__name="散装大米", product__supplier=None, spec="5kg")
    set_stock(sku=loose, warehouse=day, delivery_date=TOMORROW, quantity=10)
    Sku.objects.filter(pk=cabbage.pk).update(cost_price=None)
    paid_order(shopper, point, (loose, 2))
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)

    drafts = {po.supplier_id: po for po in draft_purchase_orders(wave=wave)}

    assert _lines(drafts[farm.pk])[0] == ("白菜", 9, 0, 12, Decimal("0.00"), None)
    assert not PurchaseOrderLine.objects.filter(sku=loose).exists()
    problems = {p.kind: p.text for p in purchase_plan(wave=wave).problems}
    assert problems == {
        "no_supplier": "散装大米 5kg 没有供应商：2 件无法下采购单。",
        "no_cost_price": "白菜 1颗 没有成本价：在填写之前按 ¥0.00 下单。",
    }
    from logistics.services.purchasing import PurchasingError

    with pytest.raises(PurchasingError) as refused:
        send_purchase_order(purchase_order=drafts[farm.pk])
    assert refused.value.message == "请先填写 白菜 1颗 的成本价再发送。"
    assert PurchaseOrder.objects.get(pk=drafts[farm.pk].pk).status == PurchaseStatus.DRAFT
    # The cost price is set later: sending takes it.
    Sku.objects.filter(pk=cabbage.pk).update(cost_price=Decimal("1.05"))
    send_purchase_order(purchase_order=drafts[farm.pk])
    assert _lines(drafts[farm.pk])[0] == ("白菜", 9, 0, 12, Decimal("1.05"), None)


def test_drafting_runs_a_fixed_number_of_statements(day, django_assert_num_queries, shopper, point):
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)
    # Savepoint, wave lock, open orders, plan, insert, read back, delete lines,
    # upsert lines, wave link, result, release.
    with django_assert_num_queries(11):
        draft_purchase_orders(wave=wave)
    # Ten more suppliers: the same count (no statement per supplier or SKU).
    for i in range(10):
        sku = SkuFactory(product__name=f"商品{i}", cost_price=Decimal("1.00"))
        set_stock(sku=sku, warehouse=day, delivery_date=TOMORROW, quantity=5)
        paid_order(shopper, point, (sku, 1))
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)
    with django_assert_num_queries(11):
        drafts = draft_purchase_orders(wave=wave)
    assert len(drafts) == 12


def test_the_cost_price_never_shows_on_the_shoppers_product_page(client, clock, point, cabbage):
    Sku.objects.filter(pk=cabbage.pk).update(cost_price=Decimal("1.37"))
    page = client.get(reverse("catalog:product", args=[cabbage.product.code]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "2.50" in html  # the group price is there
    assert "1.37" not in html and "cost" not in html.lower() and "成本" not in html


def test_a_clashing_purchase_order_number_is_drawn_again(day, dairy, farm, monkeypatch):
    taken = PurchaseOrder.objects.create(
        number="PO26112515000000001", supplier=SupplierFactory(), warehouse=day,
        delivery_date=TOMORROW - timedelta(days=1),
    )  # fmt: skip
    numbers = iter([taken.number, "PO26112515000000002", "PO26112515000000003"])
    monkeypatch.setattr(
        "logistics.services.purchasing.new_purchase_order_number", lambda: next(numbers)
    )
    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)

    drafts = draft_purchase_orders(wave=wave)

    assert sorted(po.supplier_id for po in drafts) == sorted([farm.pk, dairy.pk])
    assert taken.number not in {po.number for po in drafts}


def test_after_a_cancel_a_redraft_orders_the_same_goods_on_a_new_number(day, dairy, milk):
    from logistics.services.purchasing import cancel_purchase_order

    wave = freeze_wave(warehouse=day, delivery_date=TOMORROW)
    first = {po.supplier_id: po for po in draft_purchase_orders(wave=wave)}[dairy.pk]
    send_purchase_order(purchase_order=first)
    cancel_purchase_order(purchase_order=first, reason="供应商断货")

    again = {po.supplier_id: po for po in draft_purchase_orders(wave=wave)}[dairy.pk]

    assert again.pk != first.pk and again.number != first.number
    assert again.status == PurchaseStatus.DRAFT
    # The cancelled order brings nothing: the whole need is ordered again.
    assert _lines(again) == [("鲜牛奶", 3, 0, 12, Decimal("9.60"), None)]
    assert PurchaseOrder.objects.get(pk=first.pk).status == PurchaseStatus.CANCELLED
