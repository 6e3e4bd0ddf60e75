"""Catalog factories, shared with other apps' tests.

from tests.catalog.factories import ProductFactory, SkuFactory, WarehouseFactory, set_stock
sku = SkuFactory(price=Decimal("3.90"))          # on-shelf product, active SKU
set_stock(sku=sku, warehouse=wh, delivery_date=day, quantity=50)
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import factory

from catalog.models import (
    Category,
    Product,
    Sku,
    StockLedger,
    StockReason,
    StockRecord,
    StorageClass,
    Supplier,
    Warehouse,
)


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse

    name = factory.Sequence(lambda n: f"中心仓{n}")
    city = "长沙"
    address = factory.Sequence(lambda n: f"岳麓区物流园{n}号")
    cutoff_time = time(23, 0)
    pickup_time = time(10, 0)
    is_default = False
    is_active = True


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"分类{n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    icon = "蔬"
    position = factory.Sequence(int)
    parent = None


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"供应商{n}")
    contact = "王经理"
    phone = "13700000000"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"product-{n}")
    name = factory.Sequence(lambda n: f"商品{n}")
    subtitle = "新鲜直供"
    category = factory.SubFactory(CategoryFactory)
    supplier = factory.SubFactory(SupplierFactory)
    unit = "份"
    storage_class = StorageClass.AMBIENT
    is_on_shelf = True
    position = factory.Sequence(int)


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"sku-{n}")
    spec = "500g/份"
    price = Decimal("9.90")
    market_price = Decimal("12.80")
    cost_price = Decimal("7.00")
    daily_quota = 100
    is_active = True


def set_stock(*, sku: Sku, warehouse: Warehouse, delivery_date: date, quantity: int) -> StockRecord:
    """Give an SKU `quantity` to sell that day, with the ledger entry that explains it.

    Test set-up only (no operator, no reason check, past days allowed); real
    changes go through catalog.services.set_stock_quantity.
    """
    record, _created = StockRecord.objects.get_or_create(
        sku=sku, warehouse=warehouse, delivery_date=delivery_date
    )
    delta = quantity - record.quantity
    if delta:
        StockLedger.objects.create(
            sku=sku,
            warehouse=warehouse,
            delivery_date=delivery_date,
            delta=delta,
            reason=StockReason.ADJUST,
            note="test set-up",
        )
        record.quantity = quantity
        record.save(update_fields=["quantity", "updated_at"])
    return record
