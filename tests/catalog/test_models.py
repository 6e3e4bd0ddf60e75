"""Invariants of the catalog data: two category levels, one default warehouse, prices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.models import Category
from tests.catalog.factories import CategoryFactory, SkuFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def test_a_subcategory_of_a_subcategory_is_refused():
    top = CategoryFactory(name="蔬菜")
    child = CategoryFactory(name="叶菜", parent=top)
    grandchild = Category(name="菠菜类", slug="spinach-kind", parent=child)
    with pytest.raises(ValidationError) as caught:
        grandchild.full_clean()
    assert caught.value.message_dict == {"parent": ["上级分类只能选择一级分类。"]}


def test_a_category_with_children_cannot_move_under_another():
    top = CategoryFactory(name="蔬菜")
    CategoryFactory(name="叶菜", parent=top)
    other = CategoryFactory(name="生鲜")
    top.parent = other
    with pytest.raises(ValidationError) as caught:
        top.full_clean()
    assert caught.value.message_dict == {"parent": ["该分类下还有子分类，只能作为一级分类。"]}


def test_a_category_cannot_be_its_own_parent():
    top = CategoryFactory()
    top.parent = top
    with pytest.raises(ValidationError):
        top.full_clean()


def test_there_is_at_most_one_default_warehouse():
    WarehouseFactory(is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        WarehouseFactory(is_default=True)


def test_an_sku_price_must_be_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        SkuFactory(price=Decimal("0.00"))


def test_names_read_well_in_lists():
    sku = SkuFactory(product__name="西红柿", spec="500g/份")
    child = CategoryFactory(name="叶菜", parent=CategoryFactory(name="蔬菜"))
    assert str(sku) == "西红柿 500g/份"
    assert str(child) == "蔬菜 / 叶菜"
