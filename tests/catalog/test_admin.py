"""Operators' admin: products with SKUs and pictures, shelf actions, tomorrow's stock."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Product, ProductImage, Sku, StockLedger, StockReason, StockRecord
from tests.admin_html import text
from tests.catalog.conftest import TOMORROW
from tests.catalog.factories import CategoryFactory, SkuFactory, SupplierFactory, set_stock
from tests.catalog.test_images import files_under, picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, operator):
    client.force_login(operator)
    return client


def product_form(category, supplier, upload, **overrides):
    data = {
        "name": "西红柿",
        "subtitle": "自然熟",
        "category": category.pk,
        "supplier": supplier.pk,
        "position": 0,
        "unit": "份",
        "origin": "湖南",
        "storage_class": "ambient",
        "shelf_life_days": 5,
        "tags": "产地直采,当季",
        "description": '<p>沙瓤<script>alert("x")</script></p>',
        "skus-TOTAL_FORMS": 1,
        "skus-INITIAL_FORMS": 0,
        "skus-0-spec": "500g/份",
        "skus-0-price": "3.99",
        "skus-0-market_price": "5.80",
        "skus-0-daily_quota": 100,
        "skus-0-position": 0,
        "skus-0-case_pack": 1,
        "skus-0-min_order_quantity": 1,
        "skus-0-is_active": "on",
        "images-TOTAL_FORMS": 1,
        "images-INITIAL_FORMS": 0,
        "images-0-upload": upload,
        "images-0-alt": "西红柿",
        "images-0-position": 0,
    }
    data.update(overrides)
    return data


def test_an_operator_adds_a_product_with_an_sku_and_a_picture(staff_client, settings):
    category, supplier = CategoryFactory(), SupplierFactory()
    response = staff_client.post(
        reverse("admin:catalog_product_add"), product_form(category, supplier, picture())
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(name="西红柿")
    assert product.description == "<p>沙瓤</p>"
    assert product.tags == ["产地直采", "当季"]
    assert [(s.spec, str(s.price)) for s in product.skus.all()] == [("500g/份", "3.99")]
    [image] = product.images.all()
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 7
    assert image.alt == "西红柿"


def test_a_non_image_upload_in_the_admin_is_refused_and_nothing_is_saved(staff_client, settings):
    category, supplier = CategoryFactory(), SupplierFactory()
    upload = SimpleUploadedFile("price-list.xlsx", b"PK\x03\x04 spreadsheet")
    response = staff_client.post(
        reverse("admin:catalog_product_add"), product_form(category, supplier, upload)
    )
    assert response.status_code == 200
    assert "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。" in response.content.decode()
    assert not Product.objects.exists()
    assert not Sku.objects.exists()
    assert not ProductImage.objects.exists()
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_the_product_list_has_thumbnails_filters_and_search(staff_client):
    from catalog.services import add_product_image

    sku = SkuFactory(product__name="土鸡蛋")
    SkuFactory(product__name="黄瓜")
    add_product_image(product=sku.product, upload=picture())
    url = reverse("admin:catalog_product_changelist")
    html = staff_client.get(url, {"q": "鸡蛋"}).content.decode()
    assert "土鸡蛋" in html
    assert "黄瓜" not in html
    assert "/list.jpg" in html
    for query in ({"is_on_shelf__exact": "1"}, {"storage_class__exact": "chilled"}):
        assert staff_client.get(url, query).status_code == 200


def test_bulk_actions_put_products_on_and_off_the_shelf(clock, staff_client, warehouse):
    on = SkuFactory(product__is_on_shelf=True, daily_quota=30)
    off = SkuFactory(product__is_on_shelf=False, daily_quota=30)
    url = reverse("admin:catalog_product_changelist")
    staff_client.post(
        url, {"action": "take_off_shelf", "_selected_action": [on.product_id, off.product_id]}
    )
    assert list(Product.objects.filter(is_on_shelf=True)) == []
    staff_client.post(url, {"action": "put_on_shelf", "_selected_action": [off.product_id]})
    off.product.refresh_from_db()
    assert off.product.is_on_shelf is True
    assert StockRecord.objects.get(sku=off, delivery_date=TOMORROW).quantity == 30


def test_the_stock_view_lists_tomorrow_and_saves_a_quick_edit_with_a_reason(
    clock, staff_client, warehouse, operator
):
    sku = SkuFactory(product__name="西红柿", daily_quota=100)
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=100)
    unopened = SkuFactory(product__name="新品黄瓜", spec="1根", daily_quota=40)
    url = reverse("admin:catalog_stockrecord_day")
    html = staff_client.get(url).content.decode()
    # product, spec, daily quota, sold, available (an SKU without stock yet says so)
    assert _stock_rows(html) == {
        sku.code: ["西红柿", "500g/份", "100", "0", "100"],
        unopened.code: ["新品黄瓜", "1根", "40", "0", "0 (未开售)"],
    }
    response = staff_client.post(
        url,
        {
            "sku": sku.pk,
            "warehouse": warehouse.pk,
            "delivery_date": TOMORROW.isoformat(),
            "quantity": 60,
            "note": "基地减产",
        },
        follow=True,
    )
    assert "剩余可售 60 份" in response.content.decode()
    assert StockRecord.objects.get(sku=sku).quantity == 60
    entry = StockLedger.objects.get(reason=StockReason.ADJUST, actor=operator)
    assert (entry.delta, entry.note) == (-40, "基地减产")
    assert _stock_rows(staff_client.get(url).content.decode())[sku.code] == [
        "西红柿",
        "500g/份",
        "100",
        "0",
        "60",
    ]
    assert not StockRecord.objects.filter(sku=unopened).exists()


def _stock_rows(html: str) -> dict[str, list[str]]:
    """The stock view's rows by SKU code: the text of each cell but the form."""
    found = {}
    for code, row in re.findall(r'<tr data-sku="([^"]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)[:5]
        found[code] = [text(c) for c in cells]
    return found


@pytest.mark.parametrize(
    ("quantity", "note"), [(-5, "原因"), (60, ""), ("很多", "原因"), (10**9, "原因")]
)
def test_a_bad_quick_edit_changes_nothing(clock, staff_client, warehouse, operator, quantity, note):
    sku = SkuFactory()
    set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=100)
    response = staff_client.post(
        reverse("admin:catalog_stockrecord_day"),
        {
            "sku": sku.pk,
            "warehouse": warehouse.pk,
            "delivery_date": TOMORROW.isoformat(),
            "quantity": quantity,
            "note": note,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert StockRecord.objects.get(sku=sku).quantity == 100
    assert not StockLedger.objects.filter(actor=operator).exists()


def test_the_stock_ledger_and_rows_are_read_only(clock, staff_client, warehouse):
    sku = SkuFactory()
    record = set_stock(sku=sku, warehouse=warehouse, delivery_date=TOMORROW, quantity=5)
    entry = StockLedger.objects.get()
    assert staff_client.get(reverse("admin:catalog_stockledger_add")).status_code == 403
    assert staff_client.get(reverse("admin:catalog_stockrecord_add")).status_code == 403
    page = staff_client.get(reverse("admin:catalog_stockledger_change", args=[entry.pk]))
    assert page.status_code == 200
    assert 'name="delta"' not in page.content.decode()
    staff_client.post(
        reverse("admin:catalog_stockrecord_change", args=[record.pk]), {"quantity": 1}
    )
    assert StockRecord.objects.get(pk=record.pk).quantity == 5
    assert staff_client.get(reverse("admin:catalog_stockledger_changelist")).status_code == 200


def test_a_shopper_cannot_open_the_stock_view(client, shopper, warehouse):
    client.force_login(shopper)
    response = client.get(reverse("admin:catalog_stockrecord_day"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_finance_staff_without_catalog_rights_cannot_edit_stock(client, finance, warehouse):
    client.force_login(finance)
    assert client.get(reverse("admin:catalog_stockrecord_day")).status_code == 403


def change_form(product, *new_skus, **overrides):
    """The product's change form as the admin posts it, with extra SKU rows."""
    existing = list(product.skus.order_by("pk"))
    data = {
        "name": product.name,
        "subtitle": product.subtitle,
        "category": product.category_id,
        "supplier": product.supplier_id or "",
        "position": product.position,
        "unit": product.unit,
        "origin": product.origin,
        "storage_class": product.storage_class,
        "shelf_life_days": product.shelf_life_days or "",
        "tags": ",".join(product.tags),
        "description": product.description,
        "skus-TOTAL_FORMS": len(existing) + len(new_skus),
        "skus-INITIAL_FORMS": len(existing),
        "images-TOTAL_FORMS": 0,
        "images-INITIAL_FORMS": 0,
    }
    rows = [
        {
            "id": sku.pk,
            "product": product.pk,
            "spec": sku.spec,
            "price": sku.price,
            "market_price": sku.market_price or "",
            "daily_quota": sku.daily_quota,
            "position": sku.position,
            "case_pack": sku.case_pack,
            "min_order_quantity": sku.min_order_quantity,
            "bin_location": sku.bin_location,
            **({"is_active": "on"} if sku.is_active else {}),
        }
        for sku in existing
    ] + [
        {"product": product.pk, "position": 9, "case_pack": 1, "min_order_quantity": 1, **row}
        for row in new_skus
    ]
    for n, row in enumerate(rows):
        data.update({f"skus-{n}-{key}": value for key, value in row.items()})
    data.update(overrides)
    return data


def test_the_shelf_state_is_read_only_on_the_product_form(clock, staff_client, warehouse):
    sku = SkuFactory(product__is_on_shelf=False, daily_quota=30)
    url = reverse("admin:catalog_product_change", args=[sku.product_id])
    page = staff_client.get(url).content.decode()
    assert 'name="is_on_shelf"' not in page
    response = staff_client.post(url, change_form(sku.product, is_on_shelf="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    sku.product.refresh_from_db()
    assert sku.product.is_on_shelf is False
    assert not StockRecord.objects.filter(sku=sku).exists()


def test_a_new_sku_on_an_on_shelf_product_gets_its_coming_days_stock_at_once(
    clock, staff_client, warehouse
):
    old = SkuFactory(product__is_on_shelf=True, daily_quota=30)
    set_stock(sku=old, warehouse=warehouse, delivery_date=TOMORROW, quantity=4)
    url = reverse("admin:catalog_product_change", args=[old.product_id])
    new_row = {"spec": "1kg/份", "price": "6.99", "daily_quota": 40, "is_active": "on"}
    response = staff_client.post(url, change_form(old.product, new_row))
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Sku.objects.get(product=old.product, spec="1kg/份")
    rows = StockRecord.objects.filter(sku=new).order_by("delivery_date")
    assert [(r.delivery_date, r.quantity) for r in rows] == [
        (TOMORROW, 40),
        (date(2026, 11, 27), 40),
    ]
    assert sorted(StockLedger.objects.filter(sku=new).values_list("reason", "delta")) == [
        (StockReason.ROLL_FORWARD, 40),
        (StockReason.ROLL_FORWARD, 40),
    ]
    # The other SKU's day, changed by an operator, is left alone.
    assert StockRecord.objects.get(sku=old, delivery_date=TOMORROW).quantity == 4


def test_a_switched_on_sku_is_opened_but_an_off_shelf_or_inactive_one_is_not(
    clock, staff_client, warehouse
):
    off_shelf = SkuFactory(product__is_on_shelf=False, daily_quota=30)
    url = reverse("admin:catalog_product_change", args=[off_shelf.product_id])
    row = {"spec": "1kg/份", "price": "6.99", "daily_quota": 40, "is_active": "on"}
    assert staff_client.post(url, change_form(off_shelf.product, row)).status_code == 302
    assert not StockRecord.objects.filter(sku__product=off_shelf.product).exists()

    on_shelf = SkuFactory(product__is_on_shelf=True, daily_quota=30, is_active=False)
    url = reverse("admin:catalog_product_change", args=[on_shelf.product_id])
    inactive = {"spec": "2kg/份", "price": "12.99", "daily_quota": 40}
    assert staff_client.post(url, change_form(on_shelf.product, inactive)).status_code == 302
    assert not StockRecord.objects.filter(sku__product=on_shelf.product).exists()

    # The operator ticks "active" on the old row (the first one).
    switched_on = change_form(on_shelf.product, **{"skus-0-is_active": "on"})
    assert staff_client.post(url, switched_on).status_code == 302
    assert StockRecord.objects.get(sku=on_shelf, delivery_date=TOMORROW).quantity == 30
    assert not StockRecord.objects.filter(sku__spec="2kg/份").exists()


def test_skus_cannot_be_deleted_from_the_product_form(staff_client, warehouse):
    sku = SkuFactory()
    url = reverse("admin:catalog_product_change", args=[sku.product_id])
    assert 'name="skus-0-DELETE"' not in staff_client.get(url).content.decode()
    response = staff_client.post(url, change_form(sku.product, **{"skus-0-DELETE": "on"}))
    assert response.status_code == 302
    assert Sku.objects.filter(pk=sku.pk).exists()
