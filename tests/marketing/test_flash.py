# ruff: noqa: F811 - pytest fixtures imported from other test modules
"""限时秒杀 in database mode and the rules every mode keeps: the window, the
per-shopper limit, one purchase per shopper, the flash price on the order, a
cancelled order giving its unit back."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from catalog.models import StockRecord
from marketing import gate
from marketing.models import FlashPurchase, FlashSaleItem, GateMode
from marketing.services import flash
from orders.models import Order
from orders.pricing import Item, price_lines
from orders.services.payments import cancel_unpaid_order
from tests.catalog.factories import SkuFactory, set_stock
from tests.clock import NOON_ISH, TOMORROW
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401
from tests.marketing.flash_support import buy, clean_gate, make_sale  # noqa: F401
from tests.orders.conftest import eager_celery, point  # noqa: F401
from tuangou.accounts.models import User


@pytest.fixture
def hot_sku(point):
    sku = SkuFactory(product__name="车厘子", spec="500g/盒", price="39.90")
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


def _nothing_written(item, stock_before=100):
    assert Order.objects.count() == 0
    assert FlashPurchase.objects.count() == 0
    assert FlashSaleItem.objects.get(pk=item.pk).sold == 0
    assert StockRecord.objects.get(sku_id=item.sku_id).quantity == stock_before


@pytest.mark.parametrize("mode", [GateMode.DATABASE, GateMode.REDIS])
@pytest.mark.parametrize(
    ("moment", "code", "message"),
    [
        (NOON_ISH - timedelta(hours=2), "not_started", "秒杀尚未开始，14:00 开抢"),
        (NOON_ISH + timedelta(hours=1), "ended", "本场秒杀已结束"),
    ],
)
@pytest.mark.django_db
def test_outside_its_window_it_says_so_and_writes_nothing(
    clock, hot_sku, shopper, point, mode, moment, code, message
):
    item = make_sale(sku=hot_sku, mode=mode)
    clock.move_to(moment)
    with pytest.raises(flash.FlashSaleRefused) as refused:
        buy(user=shopper, item=item, point=point)
    assert (refused.value.code, refused.value.message) == (code, message)
    _nothing_written(item)


@pytest.mark.parametrize("mode", [GateMode.DATABASE, GateMode.REDIS])
@pytest.mark.django_db
def test_a_second_purchase_by_the_same_shopper_is_refused(clock, hot_sku, shopper, point, mode):
    item = make_sale(sku=hot_sku, mode=mode, per_user_limit=2)
    first = buy(user=shopper, item=item, point=point, quantity=2)
    line = first.lines.get()
    assert (line.unit_price, line.list_price, line.quantity) == (
        Decimal("1.99"),
        Decimal("39.90"),
        2,
    )
    assert line.discounts == [
        {"kind": "flash_sale", "label": "晚8点秒杀", "amount": "75.82", "ref": str(item.sale_id)}
    ]
    with pytest.raises(flash.FlashSaleRefused) as refused:
        buy(user=shopper, item=item, point=point)
    assert refused.value.message == "您已抢购过该秒杀商品，每人限购一次"
    assert Order.objects.count() == 1
    assert FlashSaleItem.objects.get().sold == 2
    assert StockRecord.objects.get(sku=hot_sku).quantity == 98


@pytest.mark.parametrize("mode", [GateMode.DATABASE, GateMode.REDIS])
@pytest.mark.django_db
def test_more_than_the_limit_or_more_than_is_left_is_refused(
    clock, hot_sku, shopper, other_shopper, point, mode
):
    item = make_sale(sku=hot_sku, mode=mode, quota=3, per_user_limit=2)
    with pytest.raises(flash.FlashSaleRefused) as refused:
        buy(user=shopper, item=item, point=point, quantity=3)
    assert refused.value.message == "本场秒杀每人限购 2 件"
    _nothing_written(item)
    buy(user=shopper, item=item, point=point, quantity=2)
    with pytest.raises(flash.FlashSaleRefused) as refused:
        buy(user=other_shopper, item=item, point=point, quantity=2)
    assert refused.value.message == "本场秒杀仅剩 1 件"
    buy(user=other_shopper, item=item, point=point, quantity=1)
    third = User.objects.create(username="carol", phone="+8613800000003")
    with pytest.raises(flash.FlashSaleRefused) as refused:
        buy(user=third, item=item, point=point)
    assert refused.value.message == "已抢光，本场秒杀已无库存"
    assert FlashSaleItem.objects.get().sold == 3
    assert Order.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_database_mode_race_sells_the_quota_exactly(clock, hot_sku, point):
    item = make_sale(sku=hot_sku, mode=GateMode.DATABASE, quota=10)
    users = User.objects.bulk_create(
        [User(username=f"racer{i}", phone=f"+86136{i:08d}") for i in range(30)]
    )
    # Ten of them press twice at the same moment.
    attempts = [*users, *users[:10]]
    start = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def press(user):
        try:
            start.wait()
            buy(user=user, item=item, point=point, at=NOON_ISH)
            result = "ok"
        except flash.FlashSaleRefused as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=press, args=(u,)) for u in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 10
    assert set(outcomes) <= {"ok", "sold_out", "already_bought"}
    assert Order.objects.count() == 10
    assert FlashPurchase.objects.values("user_id").distinct().count() == 10
    assert FlashSaleItem.objects.get().sold == 10
    assert StockRecord.objects.get(sku=hot_sku).quantity == 90


@pytest.mark.parametrize("mode", [GateMode.DATABASE, GateMode.REDIS])
@pytest.mark.django_db
def test_a_cancelled_unpaid_order_gives_its_unit_back(
    clock,
    hot_sku,
    shopper,
    other_shopper,
    point,
    mode,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.ORDER_CANCELLED_HOOKS = [
        *settings.ORDER_CANCELLED_HOOKS,
        "marketing.services.flash.on_order_cancelled",
    ]
    item = make_sale(sku=hot_sku, mode=mode, quota=1)
    with django_capture_on_commit_callbacks(execute=True):
        order = buy(user=shopper, item=item, point=point)
    with django_capture_on_commit_callbacks(execute=True):
        assert cancel_unpaid_order(order=order, actor=shopper)
    assert FlashPurchase.objects.count() == 0
    assert FlashSaleItem.objects.get().sold == 0
    if mode == GateMode.REDIS:
        assert gate.snapshot(item_id=item.pk).left == 1
    # The unit is for sale again, to anyone, the first shopper included.
    buy(user=other_shopper, item=item, point=point)
    assert FlashSaleItem.objects.get().sold == 1


@pytest.mark.django_db
def test_flash_rules_price_running_items_only(clock, hot_sku, shopper, point):
    later_sku = SkuFactory(product__name="荔枝", price="19.90")
    make_sale(sku=hot_sku, mode=GateMode.DATABASE)
    make_sale(
        sku=later_sku,
        mode=GateMode.DATABASE,
        starts_at=NOON_ISH + timedelta(hours=5),
        ends_at=NOON_ISH + timedelta(hours=6),
        name="晚8点场",
    )
    rules = flash.flash_rules(user=shopper, sku_ids=[hot_sku.pk, later_sku.pk], at=NOON_ISH)
    priced = price_lines(
        [Item(hot_sku.pk, 1, Decimal("39.90")), Item(later_sku.pk, 1, Decimal("19.90"))],
        rules=rules,
    )
    assert [line.unit_price for line in priced.lines] == [Decimal("1.99"), Decimal("19.90")]
    assert priced.discount("flash_sale") == Decimal("37.91")
    assert flash.flash_rules(user=shopper, sku_ids=[later_sku.pk], at=NOON_ISH) == []
    # With admissions nothing is read, and only admitted items are priced.
    assert flash.flash_rules(user=shopper, sku_ids=[hot_sku.pk], admissions=[]) == []
