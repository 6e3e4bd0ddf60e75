"""Stock per delivery day: reserve, release, operator changes, roll-forward."""

from __future__ import annotations

from datetime import date

import pytest

from catalog import services
from catalog.models import StockLedger, StockReason, StockRecord
from catalog.selectors import available_quantity, stock_ledger_mismatches
from tests.catalog.conftest import TOMORROW
from tests.catalog.factories import ProductFactory, SkuFactory, set_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def tomato(warehouse, clock):  # stock for TOMORROW: on the suite's clock
    sku = SkuFactory(product__name="西红柿", spec="500g/份", per_order_limit=None)
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=10)
    return sku


@pytest.fixture
def eggs(warehouse, clock):  # stock for TOMORROW: on the suite's clock
    sku = SkuFactory(product__name="土鸡蛋", spec="30枚/盒", per_order_limit=None)
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=3)
    return sku


def reserve(lines, warehouse, reference="T1001", day=TOMORROW):
    return services.reserve_stock(
        lines=lines, warehouse=warehouse, delivery_date=day, reference=reference
    )


def stock(sku, warehouse, day=TOMORROW) -> tuple[int, int]:
    record = StockRecord.objects.get(sku=sku, warehouse=warehouse, delivery_date=day)
    return record.quantity, record.sold


def test_reserving_takes_every_line_and_writes_the_ledger(warehouse, tomato, eggs, shopper):
    reservation = services.reserve_stock(
        lines=[(tomato.pk, 4), (eggs.pk, 3)],
        warehouse=warehouse,
        delivery_date=TOMORROW,
        reference="T1001",
        actor=shopper,
    )
    assert reservation.lines == {tomato.pk: 4, eggs.pk: 3}
    assert reservation.already_done is False
    assert stock(tomato, warehouse) == (6, 4)
    assert stock(eggs, warehouse) == (0, 3)
    entries = StockLedger.objects.filter(reference="T1001").order_by("sku_id")
    assert [(e.sku_id, e.delta, e.reason, e.actor_id) for e in entries] == [
        (tomato.pk, -4, StockReason.RESERVE, shopper.pk),
        (eggs.pk, -3, StockReason.RESERVE, shopper.pk),
    ]
    assert stock_ledger_mismatches() == []


def test_one_short_line_reserves_nothing_and_says_sold_out(warehouse, tomato, eggs):
    with pytest.raises(services.OutOfStock) as caught:
        reserve([(tomato.pk, 4), (eggs.pk, 4)], warehouse)
    assert caught.value.sku_id == eggs.pk
    assert caught.value.requested == 4
    assert caught.value.available == 3
    assert caught.value.message == "土鸡蛋 30枚/盒 库存不足，仅剩 3 份"
    assert stock(tomato, warehouse) == (10, 0)
    assert stock(eggs, warehouse) == (3, 0)
    assert not StockLedger.objects.filter(reason=StockReason.RESERVE).exists()


def test_an_sku_with_nothing_left_is_sold_out(warehouse, eggs):
    reserve([(eggs.pk, 3)], warehouse, reference="first")
    with pytest.raises(services.OutOfStock) as caught:
        reserve([(eggs.pk, 1)], warehouse, reference="second")
    assert caught.value.message == "土鸡蛋 30枚/盒 已售罄"
    assert stock(eggs, warehouse) == (0, 3)


def test_a_day_without_stock_is_sold_out(warehouse, tomato):
    with pytest.raises(services.OutOfStock) as caught:
        reserve([(tomato.pk, 1)], warehouse, day=date(2026, 12, 1))
    assert caught.value.available == 0
    assert not StockRecord.objects.filter(delivery_date=date(2026, 12, 1)).exists()


def test_two_lines_on_the_same_sku_count_together(warehouse, tomato):
    with pytest.raises(services.OutOfStock):
        reserve([(tomato.pk, 6), (tomato.pk, 5)], warehouse)
    assert stock(tomato, warehouse) == (10, 0)
    reservation = reserve([(tomato.pk, 6), (tomato.pk, 4)], warehouse)
    assert reservation.lines == {tomato.pk: 10}
    assert stock(tomato, warehouse) == (0, 10)


def test_reserving_twice_with_one_reference_changes_nothing_the_second_time(warehouse, tomato):
    reserve([(tomato.pk, 2)], warehouse, reference="T1001")
    again = reserve([(tomato.pk, 2)], warehouse, reference="T1001")
    assert again.already_done is True
    assert again.lines == {tomato.pk: 2}
    assert stock(tomato, warehouse) == (8, 2)
    assert StockLedger.objects.filter(reference="T1001").count() == 1


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "购买数量至少为 1。"),
        (-3, "购买数量至少为 1。"),
        (1000, "每件商品每单最多购买 999 份。"),
        (10**12, "每件商品每单最多购买 999 份。"),
        (2.5, "请输入整数数量。"),
        ("3", "请输入整数数量。"),
        (True, "请输入整数数量。"),
    ],
)
def test_bad_quantities_are_refused_and_nothing_changes(warehouse, tomato, quantity, message):
    with pytest.raises(services.InvalidPurchase) as caught:
        reserve([(tomato.pk, quantity)], warehouse)
    assert caught.value.message == message
    assert stock(tomato, warehouse) == (10, 0)
    assert not StockLedger.objects.filter(reference="T1001").exists()


def test_an_unknown_sku_is_refused_and_the_other_lines_are_untouched(warehouse, tomato):
    with pytest.raises(services.InvalidPurchase) as caught:
        reserve([(tomato.pk, 1), (987654, 1)], warehouse)
    assert caught.value.message == "商品不存在。"
    assert caught.value.sku_id == 987654
    assert stock(tomato, warehouse) == (10, 0)


def test_an_off_shelf_product_cannot_be_bought(warehouse, tomato):
    services.set_on_shelf(product_ids=[tomato.product_id], is_on_shelf=False)
    with pytest.raises(services.InvalidPurchase) as caught:
        reserve([(tomato.pk, 1)], warehouse)
    assert caught.value.message == "西红柿 500g/份 已下架。"
    assert stock(tomato, warehouse) == (10, 0)


def test_an_inactive_sku_cannot_be_bought(warehouse, tomato):
    tomato.is_active = False
    tomato.save()
    with pytest.raises(services.InvalidPurchase):
        reserve([(tomato.pk, 1)], warehouse)
    assert stock(tomato, warehouse) == (10, 0)


def test_the_per_order_limit_holds_across_lines(warehouse, tomato):
    tomato.per_order_limit = 3
    tomato.save()
    with pytest.raises(services.InvalidPurchase) as caught:
        reserve([(tomato.pk, 2), (tomato.pk, 2)], warehouse)
    assert caught.value.message == "西红柿 500g/份 每单限购 3 份。"
    assert stock(tomato, warehouse) == (10, 0)


def test_no_lines_is_refused(warehouse):
    with pytest.raises(services.InvalidPurchase) as caught:
        reserve([], warehouse)
    assert caught.value.message == "请先选择要购买的商品。"


def test_releasing_gives_everything_back_once(warehouse, tomato, eggs):
    reserve([(tomato.pk, 4), (eggs.pk, 2)], warehouse, reference="T1001")
    released = services.release_stock(reference="T1001", note="未支付自动取消")
    assert released == {tomato.pk: 4, eggs.pk: 2}
    assert stock(tomato, warehouse) == (10, 0)
    assert stock(eggs, warehouse) == (3, 0)
    assert services.release_stock(reference="T1001") == {}
    assert stock(tomato, warehouse) == (10, 0)
    assert StockLedger.objects.filter(reference="T1001", reason=StockReason.RELEASE).count() == 2
    assert stock_ledger_mismatches() == []


def test_releasing_an_unknown_reference_does_nothing(warehouse, tomato):
    assert services.release_stock(reference="never-reserved") == {}
    assert stock(tomato, warehouse) == (10, 0)


def test_an_operator_sets_tomorrows_quantity_with_a_reason(clock, warehouse, tomato, operator):
    reserve([(tomato.pk, 4)], warehouse)
    record = services.set_stock_quantity(
        sku=tomato,
        warehouse=warehouse,
        delivery_date=TOMORROW,
        quantity=20,
        note="基地加量",
        actor=operator,
    )
    assert (record.quantity, record.sold) == (20, 4)
    entry = StockLedger.objects.filter(reason=StockReason.ADJUST, actor=operator).get()
    assert (entry.delta, entry.note) == (14, "基地加量")
    assert stock_ledger_mismatches() == []


def test_closing_a_day_keeps_what_was_already_sold(clock, warehouse, tomato, operator):
    reserve([(tomato.pk, 4)], warehouse)
    services.close_stock(
        sku=tomato, warehouse=warehouse, delivery_date=TOMORROW, note="供应商缺货", actor=operator
    )
    assert stock(tomato, warehouse) == (0, 4)
    with pytest.raises(services.OutOfStock):
        reserve([(tomato.pk, 1)], warehouse, reference="T1002")
    assert stock_ledger_mismatches() == []


def test_setting_a_day_that_has_no_row_yet_opens_it(clock, warehouse, operator):
    sku = SkuFactory()
    services.set_stock_quantity(
        sku=sku,
        warehouse=warehouse,
        delivery_date=TOMORROW,
        quantity=7,
        note="新品",
        actor=operator,
    )
    assert stock(sku, warehouse) == (7, 0)
    assert stock_ledger_mismatches() == []


@pytest.mark.parametrize(
    ("quantity", "note", "message"),
    [
        (-1, "原因", "数量不能为负数。"),
        (100_001, "原因", "数量不能超过 100000。"),
        ("5", "原因", "请输入整数。"),
        (5, "  ", "请填写调整原因。"),
    ],
)
def test_bad_operator_changes_are_refused_and_nothing_changes(
    clock, warehouse, tomato, operator, quantity, note, message
):
    with pytest.raises(services.InvalidStockChange) as caught:
        services.set_stock_quantity(
            sku=tomato,
            warehouse=warehouse,
            delivery_date=TOMORROW,
            quantity=quantity,
            note=note,
            actor=operator,
        )
    assert caught.value.message == message
    assert stock(tomato, warehouse) == (10, 0)
    assert not StockLedger.objects.filter(actor=operator).exists()


def test_past_days_cannot_be_changed(clock, warehouse, tomato, operator):
    with pytest.raises(services.InvalidStockChange) as caught:
        services.set_stock_quantity(
            sku=tomato,
            warehouse=warehouse,
            delivery_date=date(2026, 11, 24),
            quantity=5,
            note="补录",
            actor=operator,
        )
    assert caught.value.message == "已过去的配送日不能修改。"
    assert not StockRecord.objects.filter(delivery_date=date(2026, 11, 24)).exists()


def test_rolling_forward_opens_tomorrow_and_the_day_after_with_the_daily_quota(clock, warehouse):
    sku = SkuFactory(daily_quota=50)
    SkuFactory(daily_quota=0)  # no quota: nothing to open
    SkuFactory(daily_quota=30, product__is_on_shelf=False)  # off shelf
    SkuFactory(daily_quota=30, is_active=False)
    assert services.roll_stock_forward() == 2
    assert stock(sku, warehouse, date(2026, 11, 26)) == (50, 0)
    assert stock(sku, warehouse, date(2026, 11, 27)) == (50, 0)
    assert StockRecord.objects.count() == 2
    assert stock_ledger_mismatches() == []


def test_rolling_forward_twice_changes_nothing_and_keeps_operator_changes(
    clock, warehouse, operator
):
    sku = SkuFactory(daily_quota=50)
    services.set_stock_quantity(
        sku=sku,
        warehouse=warehouse,
        delivery_date=TOMORROW,
        quantity=5,
        note="减量",
        actor=operator,
    )
    assert services.roll_stock_forward() == 1  # only the day after tomorrow was missing
    assert services.roll_stock_forward() == 0
    assert stock(sku, warehouse, TOMORROW) == (5, 0)
    assert stock(sku, warehouse, date(2026, 11, 27)) == (50, 0)
    assert StockLedger.objects.count() == 2
    assert stock_ledger_mismatches() == []


def test_putting_a_product_on_shelf_opens_its_coming_days(clock, warehouse):
    sku = SkuFactory(daily_quota=40, product__is_on_shelf=False)
    assert services.set_on_shelf(product_ids=[sku.product_id], is_on_shelf=True) == 1
    assert stock(sku, warehouse, TOMORROW) == (40, 0)
    assert services.set_on_shelf(product_ids=[sku.product_id], is_on_shelf=True) == 0


def test_a_product_without_an_active_sku_stays_off_shelf(clock, warehouse):
    product = ProductFactory(is_on_shelf=False)
    assert services.set_on_shelf(product_ids=[product.pk], is_on_shelf=True) == 0
    product.refresh_from_db()
    assert product.is_on_shelf is False


def test_available_quantity_reads_one_row(warehouse, tomato):
    assert available_quantity(sku=tomato, warehouse=warehouse, delivery_date=TOMORROW) == 10
    assert available_quantity(sku=tomato, warehouse=warehouse, delivery_date=date(2027, 1, 1)) == 0


def test_inside_the_callers_transaction_a_shortage_dooms_it_and_leaves_nothing(warehouse, eggs):
    from django.db import transaction

    with pytest.raises(services.OutOfStock) as caught, transaction.atomic():
        StockLedger.objects.create(  # stands in for the caller's order rows
            sku=eggs, warehouse=warehouse, delivery_date=TOMORROW, delta=0, reason="adjust"
        )
        services.reserve_stock(
            lines=[(eggs.pk, 5)],
            warehouse=warehouse,
            delivery_date=TOMORROW,
            reference="T2001",
            skus=services.check_purchase(lines=[(eggs.pk, 5)]),
            savepoint=False,
        )
    assert caught.value.available is None  # the caller asks afterwards
    assert caught.value.message == "土鸡蛋 30枚/盒 库存不足"
    assert (
        services.available_stock(sku_id=eggs.pk, warehouse=warehouse, delivery_date=TOMORROW) == 3
    )
    assert StockLedger.objects.filter(delta=0).count() == 0
    assert stock(eggs, warehouse) == (3, 0)


def test_inside_the_callers_transaction_a_reservation_commits_with_it(warehouse, tomato):
    from django.db import transaction

    with transaction.atomic():
        services.reserve_stock(
            lines=[(tomato.pk, 2)],
            warehouse=warehouse,
            delivery_date=TOMORROW,
            reference="T2002",
            savepoint=False,
        )
    assert stock(tomato, warehouse) == (8, 2)
    assert stock_ledger_mismatches() == []


def test_check_purchase_validates_lines_without_touching_stock(warehouse, tomato):
    assert services.check_purchase(lines=[(tomato.pk, 2)]) == {tomato.pk: tomato}
    with pytest.raises(services.InvalidPurchase):
        services.check_purchase(lines=[(tomato.pk, -1)])
    assert stock(tomato, warehouse) == (10, 0)


def test_the_ledger_check_reports_a_row_whose_quantity_or_hold_it_does_not_explain(
    clock, warehouse, tomato, django_assert_num_queries
):
    from django.db.models import F

    from catalog.selectors import StockMismatch

    services.hold_stock(
        sku=tomato, warehouse=warehouse, delivery_date=TOMORROW, quantity=3, reference="C1"
    )
    row = StockRecord.objects.filter(sku=tomato, warehouse=warehouse, delivery_date=TOMORROW)
    with django_assert_num_queries(2):
        assert stock_ledger_mismatches() == []  # +10 quantity, +3 held: explained

    # A quantity changed behind the ledger's back.
    row.update(quantity=F("quantity") - 1)
    assert stock_ledger_mismatches() == [
        StockMismatch(tomato.pk, warehouse.pk, TOMORROW, 10, 9, 3, 3)
    ]
    row.update(quantity=F("quantity") + 1)
    assert stock_ledger_mismatches() == []

    # A hold changed behind the ledger's back (the quantity is right).
    row.update(held=2)
    assert stock_ledger_mismatches() == [
        StockMismatch(tomato.pk, warehouse.pk, TOMORROW, 10, 10, 3, 2)
    ]
    row.update(held=3)

    # Ledger entries for a day without a stock row, and a row without entries.
    StockLedger.objects.create(
        sku=tomato, warehouse=warehouse, delivery_date=date(2026, 11, 27), delta=5, reason="adjust"
    )
    StockRecord.objects.create(
        sku=tomato, warehouse=warehouse, delivery_date=date(2026, 11, 28), quantity=4
    )
    assert stock_ledger_mismatches() == [
        StockMismatch(tomato.pk, warehouse.pk, date(2026, 11, 27), 5, 0, 0, 0),
        StockMismatch(tomato.pk, warehouse.pk, date(2026, 11, 28), 0, 4, 0, 0),
    ]
