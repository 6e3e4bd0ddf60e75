"""The purchasing pages: who may see and press what, the list and a purchase order,
receiving from the phone with clear messages on bad input, and the supplier's copy."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from openpyxl import load_workbook

from logistics.models import InventoryItem, PurchaseOrder, PurchaseStatus, ShortageCut
from logistics.services.purchasing import draft_purchase_orders, send_purchase_order
from orders.models import Refund
from tests.catalog.factories import SkuFactory, SupplierFactory, set_stock
from tests.clock import TOMORROW
from tuangou.accounts.roles import WAREHOUSE, sync_roles

from .conftest import DriverFactory, paid_order
from .purchasing_support import freeze_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def keeper(make_user):
    """仓库小陈: staff in the warehouse and purchasing role."""
    user = make_user("chen", "+8613900000201", "仓库小陈", is_staff=True)
    sync_roles()
    user.groups.add(Group.objects.get(name=WAREHOUSE))
    return user


@pytest.fixture
def viewer(make_user):
    """Staff who may look at purchase orders but not change them."""
    user = make_user("vivi", "+8613900000202", "只读", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="logistics", codename="view_purchaseorder")
    )
    return user


@pytest.fixture
def farm():
    return SupplierFactory(name="望城蔬菜基地", contact="刘经理", phone="13700001234")


@pytest.fixture
def cabbage(point, farm):
    sku = SkuFactory(
        product__name="白菜", product__supplier=farm, spec="1颗", price=Decimal("2.50"),
        cost_price=Decimal("1.10"), case_pack=6, min_order_quantity=1, barcode="6901234567890",
    )  # fmt: skip
    set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=100)
    return sku


@pytest.fixture
def draft(clock, point, other_pickup_point, shopper, other_shopper, cabbage):
    """白菜 5 + 4 ordered (the second order last): one case short of 12 → 12 ordered."""
    paid_order(shopper, point, (cabbage, 5))
    clock.shift(timedelta(minutes=5))
    paid_order(other_shopper, other_pickup_point, (cabbage, 4))
    wave = freeze_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    [po] = draft_purchase_orders(wave=wave)
    return po


@pytest.fixture
def sent(draft):
    return send_purchase_order(purchase_order=draft)


def _urls(po):
    return {
        "list": ("get", reverse("logistics:purchase_orders")),
        "detail": ("get", reverse("logistics:purchase_order", args=[po.number])),
        "csv": ("get", reverse("logistics:purchase_order_export", args=[po.number, "csv"])),
        "send": ("post", reverse("logistics:purchase_order_send", args=[po.number])),
        "cancel": ("post", reverse("logistics:purchase_order_cancel", args=[po.number])),
        "receive": ("post", reverse("logistics:purchase_order_receive", args=[po.number])),
        "redraft": ("post", reverse("logistics:purchase_orders_redraft", args=[po.wave_id])),
    }


# --- who ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_staff_login(client, draft):
    for method, url in _urls(draft).values():
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next=")
    assert PurchaseOrder.objects.get().status == PurchaseStatus.DRAFT


def test_shoppers_leaders_drivers_and_finance_get_403(client, draft, shopper, leader_user, finance):
    driver = DriverFactory().user
    for user in (shopper, leader_user, driver, finance):
        client.force_login(user)
        for name, (method, url) in _urls(draft).items():
            response = getattr(client, method)(url)
            assert response.status_code == 403, (user, name)
    assert PurchaseOrder.objects.get().status == PurchaseStatus.DRAFT


def test_a_viewer_sees_the_pages_but_cannot_press_the_buttons(client, sent, viewer):
    client.force_login(viewer)
    detail = client.get(reverse("logistics:purchase_order", args=[sent.number]))
    assert detail.status_code == 200
    assert 'data-action="receive"' not in detail.content.decode()
    for name in ("send", "cancel", "receive", "redraft"):
        _method, url = _urls(sent)[name]
        assert client.post(url, {"reason": "x"}).status_code == 403, name
    sent.refresh_from_db()
    assert sent.status == PurchaseStatus.SENT


def test_operators_may_work_on_purchase_orders_too(client, draft, operator):
    client.force_login(operator)
    response = client.post(_urls(draft)["send"][1])
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == PurchaseStatus.SENT


def test_an_unknown_number_is_a_404(client, keeper, draft):
    client.force_login(keeper)
    assert client.get(reverse("logistics:purchase_order", args=["PO000"])).status_code == 404
    assert (
        client.get(
            reverse("logistics:purchase_order_export", args=[draft.number, "doc"])
        ).status_code
        == 404
    )


# --- the list -------------------------------------------------------------------------


def test_the_list_shows_tomorrows_purchase_orders_and_what_to_do_by_hand(
    client, keeper, draft, point, shopper
):
    loose = SkuFactory(product__name="散装大米", product__supplier=None, spec="5kg")
    set_stock(sku=loose, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=10)
    paid_order(shopper, point, (loose, 2))
    freeze_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    client.force_login(keeper)

    page = client.get(reverse("logistics:purchase_orders"))

    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-po="{draft.number}"' in html
    assert "望城蔬菜基地" in html and "¥13.20" in html and "1 行" in html
    assert "散装大米 5kg 没有供应商：2 件无法下采购单。" in html
    assert "草稿" in html


def test_the_list_filters_by_status_and_date(client, keeper, draft):
    client.force_login(keeper)
    url = reverse("logistics:purchase_orders")
    assert draft.number in client.get(url, {"status": "draft"}).content.decode()
    assert draft.number not in client.get(url, {"status": "sent"}).content.decode()
    other_day = (TOMORROW + timedelta(days=1)).isoformat()
    assert draft.number not in client.get(url, {"date": other_day}).content.decode()
    assert draft.number in client.get(url, {"date": ""}).content.decode()  # every day


def test_bad_filters_get_a_clear_message_not_a_500(client, keeper, draft):
    client.force_login(keeper)
    url = reverse("logistics:purchase_orders")
    html = client.get(url, {"date": "2026-13-45"}).content.decode()
    assert "请输入日期，例如 2026-11-26。" in html and draft.number not in html
    html = client.get(url, {"status": "lost"}).content.decode()
    assert "请从列表中选择状态。" in html
    html = client.get(url, {"supplier": "abc"}).content.decode()
    assert "请从列表中选择供应商。" in html


# --- a purchase order -----------------------------------------------------------------


def test_the_detail_shows_each_line_and_the_buttons(client, keeper, draft, cabbage):
    client.force_login(keeper)
    html = client.get(reverse("logistics:purchase_order", args=[draft.number])).content.decode()
    assert "白菜 1颗" in html
    assert "<b>9</b>" in html  # demand
    assert '<b data-ordered>12</b> <small class="muted">(2 箱)</small>' in html
    assert "¥1.10" in html and "¥13.20" in html
    assert 'data-action="send"' in html and 'data-action="cancel"' in html
    assert 'data-action="receive"' not in html  # a draft is not received
    assert "刘经理" in html


def test_send_and_cancel_buttons_move_the_order_and_say_so(client, keeper, draft):
    client.force_login(keeper)
    response = client.post(_urls(draft)["send"][1], follow=True)
    assert f"采购单 {draft.number} 已发送。" in response.content.decode()
    response = client.post(_urls(draft)["cancel"][1], {"reason": "供应商停产"}, follow=True)
    assert f"采购单 {draft.number} 已取消。" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.note) == (PurchaseStatus.CANCELLED, "供应商停产")
    # Sending a cancelled order: the guard's sentence, nothing changes.
    response = client.post(_urls(draft)["send"][1], follow=True)
    assert "采购单：不能从“已取消”变为“已发送”。" in response.content.decode()
    assert PurchaseOrder.objects.get(pk=draft.pk).status == PurchaseStatus.CANCELLED


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "到货数量不能为负数。"),
        ("abc", "请输入整数件数。"),
        ("2.5", "请输入整数件数。"),
        ("13", "最多只订购了 12 件。"),
        ("", "请至少填写一行的到货数量。"),
    ],
)
def test_bad_receiving_input_is_shown_on_the_page_and_nothing_is_written(
    client, keeper, sent, value, message
):
    client.force_login(keeper)
    line = sent.lines.get()
    response = client.post(_urls(sent)["receive"][1], {f"line_{line.pk}": value})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert f'value="{value}"' in html  # what was typed stays in the box
    line.refresh_from_db()
    sent.refresh_from_db()
    assert (line.received_quantity, sent.status) == (None, PurchaseStatus.SENT)
    assert not InventoryItem.objects.exists() and not Refund.objects.exists()


def test_receiving_a_short_delivery_shows_the_cuts_and_refunds(
    client, keeper, sent, cabbage, django_capture_on_commit_callbacks
):
    client.force_login(keeper)
    line = sent.lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_urls(sent)["receive"][1], {f"line_{line.pk}": "7"})
    assert response.status_code == 302
    page = client.get(response["Location"])
    html = page.content.decode()
    # 9 wanted, 7 arrived: 2 cut from the last order (李先生's 4 → 2), ¥5.00 back.
    assert "已收货 7 件。到货不足：从 1 个订单中砍掉 2 件，已退款 ¥5.00。" in html
    assert 'id="cuts"' in html and "白菜 1颗: −2" in html
    [refund] = Refund.objects.all()
    assert f'data-refund="{refund.out_refund_no}"' in html and "¥5.00" in html
    assert "砍单 2 件" in html
    assert ShortageCut.objects.get().units == 2
    sent.refresh_from_db()
    assert sent.status == PurchaseStatus.RECEIVED

    # The same form sent again (a double click): nothing changes.
    again = client.post(_urls(sent)["receive"][1], {f"line_{line.pk}": "7"}, follow=True)
    assert "这张采购单已全部收货。" in again.content.decode()
    assert Refund.objects.count() == 1 and ShortageCut.objects.count() == 1
    assert InventoryItem.objects.get(sku=cabbage).on_hand == 7


def test_the_redraft_button_refreshes_the_waves_drafts(client, keeper, draft, point):
    client.force_login(keeper)
    InventoryItem.objects.create(warehouse=point.warehouse, sku=draft.lines.get().sku, on_hand=9)
    response = client.post(_urls(draft)["redraft"][1], follow=True)
    assert "2026-11-26 的 0 张采购单草稿已更新。" in response.content.decode()
    assert not PurchaseOrder.objects.exists()  # stock covers everything: the draft went


# --- the supplier's copy --------------------------------------------------------------


def test_the_supplier_gets_a_csv_without_demand_or_stock(client, keeper, sent):
    client.force_login(keeper)
    response = client.get(_urls(sent)["csv"][1])
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="{sent.number}.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["采购单", sent.number],
        ["供应商", "望城蔬菜基地"],
        ["送货地址", f"{sent.warehouse.name} {sent.warehouse.address}"],
        ["配送日期", "2026-11-26"],
        ["状态", "已发送"],
        [],
        ["商品", "规格", "条码", "每箱件数", "箱数", "件数", "单价（元）", "金额（元）"],
        ["白菜", "1颗", "6901234567890", "6", "2", "12", "1.10", "13.20"],
        ["合计", "", "", "", "", "12", "", "13.20"],
    ]


def test_the_supplier_gets_an_excel_sheet(client, keeper, sent):
    client.force_login(keeper)
    url = reverse("logistics:purchase_order_export", args=[sent.number, "xlsx"])
    response = client.get(url)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:2] == ["采购单", sent.number]
    assert rows[6] == [
        "商品",
        "规格",
        "条码",
        "每箱件数",
        "箱数",
        "件数",
        "单价（元）",
        "金额（元）",
    ]
    assert rows[7] == ["白菜", "1颗", "6901234567890", 6, 2, 12, 1.1, 13.2]
    assert rows[8] == ["合计", None, None, None, None, 12, None, 13.2]


def test_the_pages_run_the_same_number_of_queries_for_one_line_or_many(
    client, keeper, sent, point, farm, shopper
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(keeper)
    detail = reverse("logistics:purchase_order", args=[sent.number])
    listing = reverse("logistics:purchase_orders")

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    count(detail)  # the first request warms the session and permission caches
    one = (count(detail), count(listing))
    for i in range(4):
        sku = SkuFactory(product__name=f"菜{i}", product__supplier=farm)
        sent.lines.create(sku=sku, demand=1, quantity=1, unit_cost=Decimal("1.00"))
        other = PurchaseOrder.objects.create(
            number=f"PO-X{i}", supplier=SupplierFactory(), warehouse=point.warehouse,
            delivery_date=TOMORROW,
        )  # fmt: skip
        other.lines.create(sku=sku, demand=1, quantity=1, unit_cost=Decimal("1.00"))
    assert (count(detail), count(listing)) == one


def test_after_midnight_the_list_opens_on_today_while_its_goods_are_received(
    client, keeper, sent, clock
):
    from tests.clock import at

    client.force_login(keeper)
    clock.move_to(at(3, 0, day=TOMORROW))  # the delivery day, 03:00: receiving time
    html = client.get(reverse("logistics:purchase_orders")).content.decode()
    assert sent.number in html and 'value="2026-11-26"' in html
    PurchaseOrder.objects.filter(pk=sent.pk).update(status=PurchaseStatus.RECEIVED)
    html = client.get(reverse("logistics:purchase_orders")).content.decode()
    assert sent.number not in html and 'value="2026-11-27"' in html


def test_the_supplier_gets_a_pdf_in_chinese(client, keeper, sent):
    import subprocess

    client.force_login(keeper)
    url = reverse("logistics:purchase_order_export", args=[sent.number, "pdf"])
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=response.content, capture_output=True, check=True
    ).stdout.decode()
    assert f"采购单 {sent.number}" in text
    assert "望城蔬菜基地 · 刘经理 · 13700001234" in text
    assert "白菜" in text and "6901234567890" in text and "13.20" in text
    assert "供应商签字" in text
    assert "需求" not in text  # demand and stock stay inside


def test_a_name_that_looks_like_a_formula_is_quoted_in_the_exports(client, keeper, sent, cabbage):
    from catalog.models import Product

    Product.objects.filter(pk=cabbage.product_id).update(name="=HYPERLINK(1)")
    client.force_login(keeper)
    csv_text = client.get(_urls(sent)["csv"][1]).content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in csv_text
    url = reverse("logistics:purchase_order_export", args=[sent.number, "xlsx"])
    sheet = load_workbook(io.BytesIO(client.get(url).content)).active
    assert sheet["A8"].value == "'=HYPERLINK(1)"
