"""Receiving on the warehouse phone (iPhone 13, zh-CN): a wrong number is explained
on the page and nothing is recorded; the right numbers record the delivery, cut
the shortage and show the refunds. The page never scrolls sideways."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from logistics.models import PurchaseStatus, ShortageCut
from logistics.services.purchasing import draft_purchase_orders, send_purchase_order
from orders.models import Refund
from tests.catalog.factories import SkuFactory, SupplierFactory, set_stock
from tests.clock import TOMORROW
from tests.leaders.browsers import new_phone
from tuangou.accounts.roles import WAREHOUSE, sync_roles

from .conftest import paid_order
from .purchasing_support import freeze_wave


@pytest.mark.browser
@pytest.mark.ticking
@pytest.mark.django_db(transaction=True)
def test_receiving_a_short_delivery_on_the_warehouse_phone(
    clock, browser, browser_context_args, live_server, settings, make_user, point,
    other_pickup_point, shopper, other_shopper,
):  # fmt: skip
    settings.SITE_URL = live_server.url
    keeper = make_user("chen", "+8613900000201", "仓库小陈", is_staff=True)
    sync_roles()
    keeper.groups.add(Group.objects.get(name=WAREHOUSE))
    farm = SupplierFactory(name="望城蔬菜基地")
    cabbage = SkuFactory(
        product__name="白菜", product__supplier=farm, spec="1颗", price=Decimal("2.50"),
        cost_price=Decimal("1.10"), case_pack=1,
    )  # fmt: skip
    milk = SkuFactory(
        product__name="鲜牛奶", product__supplier=farm, spec="950ml", price=Decimal("13.90"),
        cost_price=Decimal("9.60"), case_pack=1,
    )  # fmt: skip
    for sku in (cabbage, milk):
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=50)
    paid_order(shopper, point, (cabbage, 4), (milk, 1))
    clock.shift(timedelta(minutes=5))
    late = paid_order(other_shopper, other_pickup_point, (cabbage, 3))
    [po] = draft_purchase_orders(
        wave=freeze_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    )
    po = send_purchase_order(purchase_order=po)
    cabbage_line, milk_line = po.lines.get(sku=cabbage), po.lines.get(sku=milk)

    context, phone = new_phone(browser, browser_context_args, live_server, keeper)
    phone.goto(f"{live_server.url}/delivery/purchasing/")
    phone.click(f"[data-po='{po.number}'] a")
    phone.wait_for_selector("[data-action=receive]")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    # More than ordered: the reason is on the page, nothing is recorded.
    phone.fill(f"input[name=line_{cabbage_line.pk}]", "8")
    phone.fill(f"input[name=line_{milk_line.pk}]", "1")
    phone.click("[data-action=receive]")
    phone.wait_for_selector("[data-error]")
    assert "最多只订购了 7 件。" in phone.inner_text(f"[data-line='{cabbage_line.pk}']")
    cabbage_line.refresh_from_db()
    assert cabbage_line.received_quantity is None

    # 5 of 7 cabbages arrived: the later order loses 2.
    phone.fill(f"input[name=line_{cabbage_line.pk}]", "5")
    phone.click("[data-action=receive]")
    phone.wait_for_selector("#cuts")
    assert "到货不足：从 1 个订单中砍掉 2 件，已退款 ¥5.00。" in phone.inner_text(".messages")
    assert phone.locator("[data-status]").first.inner_text() == "已到货"
    assert "白菜 1颗: −2" in phone.inner_text("#cuts")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert ShortageCut.objects.get().units == 2
    assert [(r.order_id, r.amount) for r in Refund.objects.all()] == [(late.pk, Decimal("5.00"))]
    po.refresh_from_db()
    assert po.status == PurchaseStatus.RECEIVED
    context.close()
