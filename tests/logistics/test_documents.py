# ruff: noqa: F811 - pytest fixtures imported from the logistics conftest and support
"""The wave's documents, read back: picking lists, packing lists, bag labels and run
sheets as PDF (text extracted), CSV (parsed) and XLSX (openpyxl), whose numbers equal
the wave tables; labels one page each with the code, the masked phone and the lines."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.conf import settings
from openpyxl import load_workbook

from logistics import documents
from logistics.documents import data
from logistics.documents.build import label_url
from logistics.models import DeliveryRun, PackItem, PickItem, RunStop, WaveLabel, WaveLine
from logistics.services.wave import run_wave
from orders.pickup_selectors import pickup_scan_path
from tests.logistics.conftest import paid_order
from tuangou.accounts.phone import format_phone

from .conftest import (  # noqa: F401 - fixtures
    driver,
    eager_celery,
    egg_sku,
    other_pickup_point,
    point,
    route,
    sku,
)
from .documents_support import carol, pdf_pages, pdf_text, wave, wave_skus  # noqa: F401

pytestmark = pytest.mark.django_db


def csv_rows(document) -> list[list[str]]:
    text = documents.render_csv(document)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(document) -> list[tuple]:
    book = load_workbook(io.BytesIO(documents.render_xlsx(document)), read_only=True)
    return [tuple(row) for row in book.active.iter_rows(values_only=True)]


# --- picking ----------------------------------------------------------------------------


def test_the_picking_list_walks_the_bins_and_its_quantities_are_the_pick_items(wave):
    ambient = list(PickItem.objects.filter(wave=wave, storage_class="ambient").order_by("sequence"))
    assert [(i.sku.product.name, i.bin_location, i.quantity) for i in ambient] == [
        ("土鸡蛋", "A-01", 3),
        ("西红柿", "B-02", 3),
    ]
    doc = documents.picking_document(wave=wave, storage_class="ambient")
    pages = pdf_pages(documents.render_pdf(doc))
    assert len(pages) == 1
    text = pdf_text(documents.render_pdf(doc))
    assert "拣货单 · 常温" in text
    lines = [line.split() for line in text.splitlines() if "A-01" in line or "B-02" in line]
    # Walking order on paper: eggs first; tick box, sequence, bin, product, spec, quantity.
    assert lines == [
        ["☐", "1", "A-01", "土鸡蛋", "10枚/盒", "3", "份"],
        ["☐", "2", "B-02", "西红柿", "500g/份", "3", "份"],
    ]
    total = next(line for line in text.splitlines() if "合计" in line)
    assert total.split()[-1] == str(sum(i.quantity for i in ambient)) == "6"
    assert "鲜牛奶" not in text and "速冻水饺" not in text


def test_the_whole_picking_list_has_one_section_per_storage_class(wave):
    doc = documents.picking_document(wave=wave)
    pages = pdf_pages(documents.render_pdf(doc))
    assert len(pages) == 3
    assert "常温" in pages[0] and "冷藏" in pages[1] and "冷冻" in pages[2]
    assert "鲜牛奶" in pages[1] and "4" in pages[1].split("鲜牛奶", 1)[1]
    assert "速冻水饺" in pages[2]


def test_the_picking_csv_and_xlsx_rows_equal_the_pick_items(wave):
    expected = [
        [
            {"ambient": "常温", "chilled": "冷藏", "frozen": "冷冻"}[i.storage_class],
            i.sequence,
            i.bin_location,
            i.sku.product.name,
            i.sku.spec,
            i.quantity,
        ]
        for i in PickItem.objects.filter(wave=wave)
        .select_related("sku__product")
        .order_by("storage_class", "sequence")
    ]
    doc = documents.picking_document(wave=wave)
    rows = csv_rows(doc)
    assert rows[0] == ["温区", "拣货顺序", "货位", "商品", "规格", "数量", "单位", "已拣"]
    assert [r[:6] for r in rows[1:]] == [[str(v) for v in e] for e in expected]
    sheet = xlsx_rows(doc)
    assert list(sheet[0]) == rows[0]
    # Numbers stay numbers in Excel.
    assert [list(r[:6]) for r in sheet[1:]] == expected
    assert sheet[1][5] == 3


def test_a_picked_tick_shows_on_the_printed_list_and_in_the_csv(wave):
    item = PickItem.objects.get(wave=wave, sku__product__name="鲜牛奶")
    PickItem.objects.filter(pk=item.pk).update(picked_quantity=4)
    doc = documents.picking_document(wave=wave, storage_class="chilled")
    assert "☑" in pdf_text(documents.render_pdf(doc))
    assert csv_rows(doc)[1][-1] == "4"


def test_an_unknown_storage_class_is_refused(wave):
    with pytest.raises(documents.DocumentError) as exc:
        documents.picking_document(wave=wave, storage_class="hot")
    assert exc.value.message == "未知的温区。"


# --- packing ----------------------------------------------------------------------------


def test_the_packing_list_per_route_has_each_point_in_driving_order_with_its_totals(
    wave, route, point, other_pickup_point
):
    doc = documents.packing_document(wave=wave, route_id=route.pk)
    text = pdf_text(documents.render_pdf(doc))
    assert text.index(point.name) < text.index(other_pickup_point.name)
    totals = [line.split() for line in text.splitlines() if "本点合计" in line]
    expected = []
    for p in (point, other_pickup_point):
        items = PackItem.objects.filter(wave=wave, pickup_point=p).select_related("sku")
        units = sum(i.quantity for i in items)
        grams = sum(i.quantity * i.sku.weight_grams for i in items)
        expected.append((units, data.kilograms(grams)))
    # 本点合计 <kg> 公斤 <units>
    assert (
        [(int(t[-1]), Decimal(t[1])) for t in totals]
        == expected
        == [
            (1 + 3 + 3 + 2, Decimal("7.3")),
            (2 + 1, Decimal("2.3")),
        ]
    )


def test_the_packing_rows_are_the_pack_items(wave, route, point):
    rows = csv_rows(documents.packing_document(wave=wave))
    assert rows[0][:7] == ["线路", "站点", "自提点", "地址", "商品", "规格", "数量"]
    got = sorted((r[2], r[4], int(r[6])) for r in rows[1:])
    expected = sorted(
        (i.pickup_point.name, i.sku.product.name, i.quantity)
        for i in PackItem.objects.filter(wave=wave).select_related("pickup_point", "sku__product")
    )
    assert got == expected and len(got) == 6
    assert {r[0] for r in rows[1:]} == {"R01"}
    assert [r[1] for r in rows[1:]] == ["1", "1", "1", "1", "2", "2"]
    # One point only.
    only = csv_rows(documents.packing_document(wave=wave, point_id=point.pk))
    assert {r[2] for r in only[1:]} == {point.name} and len(only) == 5


def test_the_pdfs_embed_the_chinese_font_even_in_the_page_margins(wave, route):
    from pypdf import PdfReader

    for doc in (
        documents.picking_document(wave=wave),
        documents.packing_document(wave=wave, route_id=route.pk),
        documents.labels_document(wave=wave, route_id=route.pk),
    ):
        reader = PdfReader(io.BytesIO(documents.render_pdf(doc)))
        fonts = {
            str(font.get_object()["/BaseFont"])
            for page in reader.pages
            for font in page["/Resources"]["/Font"].values()
        }
        # Noto Sans CJK SC for the text; DejaVu only for the tick boxes (☐ ☑ ✓).
        assert any("Noto-Sans-CJK-SC" in f for f in fonts), fonts
        assert all("Noto-Sans-CJK-SC" in f or "DejaVu" in f for f in fonts), fonts
        if doc.kind == "labels":
            assert all("Noto-Sans-CJK-SC" in f for f in fonts), fonts


def test_labels_read_two_rows_per_point_whatever_the_number_of_shoppers(
    wave, route, point, make_user, wave_skus, django_assert_num_queries
):
    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            documents.render_csv(documents.labels_document(wave=wave, route_id=route.pk))
        return len(ctx.captured_queries)

    before = count_queries()
    # route, label count, the points in order, then labels and lines per point (2 × 2).
    assert before == 7
    for i in range(5):
        extra = make_user(f"extra{i}", f"+86138000001{i:02d}", f"邻居{i}")
        paid_order(extra, point, (wave_skus["tomato"], 1))
    again = run_wave(warehouse=point.warehouse, delivery_date=wave.delivery_date)
    assert again.labels.count() == 8
    assert count_queries() == before


def test_a_whole_city_packing_pdf_is_refused_but_its_csv_is_not(wave):
    doc = documents.packing_document(wave=wave)
    assert doc.pdf_refusal == "请选择线路或自提点：整个城市的单据太长，无法一次打印。"
    assert len(csv_rows(doc)) == 7


# --- labels -----------------------------------------------------------------------------


def test_each_label_is_one_page_with_point_phone_code_qr_and_lines(
    wave, route, point, other_pickup_point, shopper, other_shopper, carol
):
    doc = documents.labels_document(wave=wave, route_id=route.pk)
    pdf = documents.render_pdf(doc)
    pages = pdf_pages(pdf)
    labels = {(lb.user_id): lb for lb in WaveLabel.objects.filter(wave=wave, route=route)}
    assert len(pages) == len(labels) == 3
    # Loading order: the first stop's shoppers (by code), then the second stop's.
    first_stop = sorted(
        (lb for lb in labels.values() if lb.pickup_point_id == point.pk),
        key=lambda lb: lb.pickup_code,
    )
    order = [*first_stop, labels[carol.pk]]
    for page, label in zip(pages, order, strict=True):
        assert label.pickup_code in page
        assert label.masked_phone in page
        assert "*" * 4 in label.masked_phone and label.masked_phone[:3] == "138"
        lines = WaveLine.objects.filter(wave=wave, user_id=label.user_id).select_related(
            "order_line"
        )
        for line in lines:
            assert f"{line.order_line.product_name} {line.order_line.spec} ×{line.quantity}" in (
                page.replace("\n", " ")
            )
        assert f"{label.line_count} 项，共 {label.unit_count} 件" in page
    alice = labels[shopper.pk]
    assert (alice.line_count, alice.unit_count) == (3, 6)
    assert point.name in pages[0] and other_pickup_point.name in pages[2]
    # The page is the small label size (100 × 70 mm in points).
    from pypdf import PdfReader

    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (100, 70)


def test_the_label_qr_code_read_back_from_the_pdf_opens_the_leaders_counter(wave, route):
    """The QR image embedded on each page, read module by module, is the QR code of the
    leader's counter URL with that page's pickup code."""
    import segno
    from pypdf import PdfReader

    pdf = documents.render_pdf(documents.labels_document(wave=wave, route_id=route.pk))
    reader = PdfReader(io.BytesIO(pdf))
    codes = [lb.pickup_code for lb in data.labels(wave=wave, route_id=route.pk)]
    assert len(reader.pages) == len(codes) == 3
    for page, code in zip(reader.pages, codes, strict=True):
        # The image this page draws (the resources are shared between pages).
        [drawn] = re.findall(rb"/(\w+) Do", page.get_contents().get_data())
        [image] = [i for i in page.images if i.name.startswith(drawn.decode() + ".")]
        picture = image.image.convert("L")
        assert code in page.extract_text()
        url = f"{settings.SITE_URL}{pickup_scan_path(code=code)}"
        assert label_url(code) == url and url.endswith(f"?code={code}")
        expected = segno.make(url, error="m")
        size = expected.symbol_size(scale=1, border=2)
        assert picture.size == size
        dark = [
            tuple(picture.getpixel((x, y)) < 128 for x in range(size[0])) for y in range(size[1])
        ]
        assert dark == [tuple(bool(m) for m in row) for row in expected.matrix_iter(border=2)]


def test_a_route_with_too_many_labels_for_one_file_is_printed_per_point(
    wave, route, point, monkeypatch
):
    from logistics.documents import build

    monkeypatch.setattr(build, "LABELS_PER_PDF", 2)
    doc = documents.labels_document(wave=wave, route_id=route.pk)
    assert doc.pdf_refusal.startswith("3 张标签太多")
    assert len(csv_rows(doc)) == 4  # the CSV is still whole
    assert documents.labels_document(wave=wave, point_id=point.pk).pdf_refusal == ""


def test_labels_need_a_route_or_a_point_and_a_point_gets_only_its_own(
    wave, other_pickup_point, carol
):
    with pytest.raises(documents.DocumentError) as exc:
        documents.labels_document(wave=wave)
    assert "线路" in exc.value.message
    rows = csv_rows(documents.labels_document(wave=wave, point_id=other_pickup_point.pk))
    label = WaveLabel.objects.get(wave=wave, user=carol)
    assert rows[1:] == [
        [
            "R01",
            "2",
            other_pickup_point.name,
            label.pickup_code,
            "138****0003",
            "2",
            "3",
            "土鸡蛋 10枚/盒 ×2；鲜牛奶 1L/瓶 ×1",
        ]
    ]


def test_a_name_that_looks_like_a_formula_is_quoted_in_csv_and_xlsx(wave, point):
    type(point).objects.filter(pk=point.pk).update(name="=HYPERLINK(1)", address="@SUM(A1)")
    doc = documents.packing_document(wave=wave, point_id=point.pk)
    rows = csv_rows(doc)
    assert {(r[2], r[3]) for r in rows[1:]} == {("'=HYPERLINK(1)", "'@SUM(A1)")}
    sheet = xlsx_rows(doc)
    assert {(r[2], r[3]) for r in sheet[1:]} == {("'=HYPERLINK(1)", "'@SUM(A1)")}
    assert all(isinstance(r[6], int) for r in sheet[1:])  # numbers untouched


def test_a_route_or_point_of_another_warehouse_is_refused(wave, point):
    from tests.catalog.factories import WarehouseFactory

    from .conftest import RouteFactory

    far = RouteFactory(warehouse=WarehouseFactory(name="长沙二仓"))
    with pytest.raises(documents.DocumentError):
        documents.labels_document(wave=wave, route_id=far.pk)
    with pytest.raises(documents.DocumentError):
        documents.packing_document(wave=wave, point_id=10**9)


# --- run sheets -------------------------------------------------------------------------


def test_the_run_sheet_lists_the_stops_in_order_with_contact_crates_and_weight(
    wave, route, point, other_pickup_point
):
    run = DeliveryRun.objects.get(wave=wave, route=route)
    doc = documents.run_sheet_document(wave=wave, run_id=run.pk)
    text = pdf_text(documents.render_pdf(doc))
    assert "配送单 · R01" in text and run.vehicle.plate in text and "李师傅" in text
    stops = list(RunStop.objects.filter(run=run).order_by("position"))
    assert text.index(point.name) < text.index(other_pickup_point.name)
    rows = csv_rows(doc)
    assert rows[0][:8] == [
        "站点",
        "自提点",
        "地址",
        "联系人",
        "电话",
        "订单",
        "筐数",
        "重量（公斤）",
    ]
    assert [r[:2] + r[5:8] for r in rows[1:]] == [
        [
            str(s.position),
            s.pickup_point.name,
            str(s.order_count),
            str(s.crates),
            str(data.kilograms(s.weight_grams)),
        ]
        for s in stops
    ]
    assert rows[1][3] == point.leader.real_name and rows[1][4] == format_phone(point.leader.phone)
    # A crate per storage class a stop receives: three at the first stop, two at the second.
    assert [r[5:8] for r in rows[1:]] == [["3", "3", "7.3"], ["1", "2", "2.3"]]
    total = next(line for line in text.splitlines() if "合计" in line).split()
    assert total[-3:] == ["4", "5", "9.5"]
    sheet = xlsx_rows(doc)
    assert sheet[1][7] == 7.3  # a number in Excel, not text


def test_a_run_of_another_wave_is_refused(wave):
    with pytest.raises(documents.DocumentError):
        documents.run_sheet_document(wave=wave, run_id=10**9)


# --- a rerun ----------------------------------------------------------------------------


def test_a_rebuilt_wave_gives_the_same_documents(wave, route, point):
    before = [
        documents.render_csv(documents.picking_document(wave=wave)),
        documents.render_csv(documents.packing_document(wave=wave)),
        documents.render_csv(documents.labels_document(wave=wave, route_id=route.pk)),
    ]
    again = run_wave(warehouse=point.warehouse, delivery_date=wave.delivery_date)
    assert again.pk == wave.pk
    after = [
        documents.render_csv(documents.picking_document(wave=again)),
        documents.render_csv(documents.packing_document(wave=again)),
        documents.render_csv(documents.labels_document(wave=again, route_id=route.pk)),
    ]
    assert after == before
