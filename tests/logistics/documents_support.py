"""A small wave for the document and warehouse page tests: three shoppers at the two
points of route R01, four SKUs in the three storage classes, frozen by the real
cutoff wave (run_wave), and readers for PDFs."""

from __future__ import annotations

import io
import subprocess

import pytest
from pypdf import PdfReader

from catalog.models import StorageClass
from logistics.services.wave import run_wave
from tests.catalog.factories import SkuFactory, set_stock
from tests.orders.conftest import TOMORROW

from .conftest import paid_order


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    """pdftotext's layout text (keeps table rows on one line)."""
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


@pytest.fixture
def wave_skus(point, sku, egg_sku):
    """Bins make the walk: eggs (A-01) before tomatoes (B-02); milk chilled, dumplings frozen."""
    sku.bin_location, sku.weight_grams = "B-02", 500
    sku.save(update_fields=["bin_location", "weight_grams"])
    egg_sku.bin_location, egg_sku.weight_grams = "A-01", 600
    egg_sku.save(update_fields=["bin_location", "weight_grams"])
    milk = SkuFactory(
        product__name="鲜牛奶",
        product__storage_class=StorageClass.CHILLED,
        spec="1L/瓶",
        bin_location="C-01",
        weight_grams=1050,
    )
    dumplings = SkuFactory(
        product__name="速冻水饺",
        product__storage_class=StorageClass.FROZEN,
        spec="1kg/袋",
        bin_location="F-07",
        weight_grams=1000,
    )
    for s in (milk, dumplings):
        set_stock(sku=s, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=30)
    return {"tomato": sku, "egg": egg_sku, "milk": milk, "dumpling": dumplings}


@pytest.fixture
def carol(make_user):
    return make_user("carol", "+8613800000003", "王奶奶")


@pytest.fixture
def wave(clock, route, point, other_pickup_point, shopper, other_shopper, carol, wave_skus):
    """alice: tomato 2 + egg 1, then milk 3; bob: tomato 1 + dumplings 2 (both at the
    first stop); carol: egg 2 + milk 1 at the second stop."""
    s = wave_skus
    paid_order(shopper, point, (s["tomato"], 2), (s["egg"], 1))
    paid_order(shopper, point, (s["milk"], 3))
    paid_order(other_shopper, point, (s["tomato"], 1), (s["dumpling"], 2))
    paid_order(carol, other_pickup_point, (s["egg"], 2), (s["milk"], 1))
    return run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
