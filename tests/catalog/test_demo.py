"""seed_demo's catalog part: a real-looking shop, idempotent and quick the second time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image

from catalog import demo
from catalog.models import Category, Product, ProductImage, Sku, StockRecord, Warehouse
from catalog.selectors import stock_ledger_mismatches

pytestmark = pytest.mark.django_db


def counts():
    return [
        m.objects.count() for m in (Warehouse, Category, Product, Sku, ProductImage, StockRecord)
    ]


def test_the_demo_shop_is_seeded_once_and_pictures_are_not_redrawn(clock, settings, client):
    demo.seed(stdout=io.StringIO())
    first = counts()
    media = Path(settings.MEDIA_ROOT)
    files = {p: p.stat().st_mtime_ns for p in media.rglob("*") if p.is_file()}
    demo.seed(stdout=io.StringIO())
    assert counts() == first
    assert {p: p.stat().st_mtime_ns for p in media.rglob("*") if p.is_file()} == files
    assert first[:2] == [2, 23]  # 8 top categories, 15 below them
    assert first[2] == len(demo.PRODUCTS) >= 30
    assert first[4] == len(demo.PRODUCTS)
    assert Warehouse.objects.get(is_default=True).city == "长沙"
    assert Category.objects.filter(parent__isnull=True).count() == 8
    assert stock_ledger_mismatches() == []

    with Image.open(
        media / f"catalog/products/{ProductImage.objects.first().key}/detail.webp"
    ) as im:
        assert im.size == (600, 600)
    html = client.get(reverse("catalog:home")).content.decode()
    assert "西红柿" in html
    search = client.get(reverse("catalog:search"), {"q": "鸡蛋"}).content.decode()
    assert "土鸡蛋" in search
    assert "新鲜鸡蛋" in search
    cherry = client.get(reverse("catalog:product", args=["cherry"])).content.decode()
    assert "已售罄" in cherry
