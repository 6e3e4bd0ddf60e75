"""Purchasing with the real cutoff wave: run_wave drafts the purchase orders; a short
delivery shrinks the documents exactly as a rerun of the wave then rebuilds them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from logistics.models import (
    DeliveryRun,
    InventoryItem,
    PackItem,
    PickItem,
    PurchaseOrder,
    PurchaseStatus,
    RunStop,
    ShortageCut,
    WaveDemand,
    WaveLabel,
    WaveLine,
)
from logistics.services.purchasing import (
    issue_run_stock,
    purchase_plan,
    receive_purchase_order,
    send_purchase_order,
)
from logistics.services.wave import run_wave
from orders.models import Refund
from tests.catalog.factories import SkuFactory, SupplierFactory, set_stock
from tests.clock import TOMORROW

from .conftest import paid_order

pytestmark = pytest.mark.django_db


def _documents(wave):
    """What the night's documents say, table by table."""
    wave.refresh_from_db()
    return {
        "counts": (wave.order_count, wave.line_count, wave.unit_count),
        "lines": sorted(
            WaveLine.objects.filter(wave=wave).values_list("order_line_id", "quantity")
        ),
        "demand": sorted(
            WaveDemand.objects.filter(wave=wave).values_list("sku_id", "quantity", "weight_grams")
        ),
        "picks": sorted(PickItem.objects.filter(wave=wave).values_list("sku_id", "quantity")),
        "packs": sorted(
            PackItem.objects.filter(wave=wave).values_list("pickup_point_id", "sku_id", "quantity")
        ),
        "labels": sorted(
            WaveLabel.objects.filter(wave=wave).values_list(
                "pickup_point_id", "user_id", "line_count", "unit_count"
            )
        ),
        "stops": sorted(
            RunStop.objects.filter(run__wave=wave).values_list(
                "run__route_id", "pickup_point_id", "order_count", "crates", "weight_grams"
            )
        ),
        "runs": sorted(
            DeliveryRun.objects.filter(wave=wave).values_list("route_id", "crates", "weight_grams")
        ),
    }


def test_the_wave_drafts_purchase_orders_and_a_short_delivery_matches_a_rerun(
    clock, route, point, other_pickup_point, shopper, other_shopper, operator
):
    farm = SupplierFactory(name="望城蔬菜基地")
    cabbage = SkuFactory(
        product__name="白菜", product__supplier=farm, spec="1颗", price=Decimal("2.50"),
        cost_price=Decimal("1.10"), case_pack=6, min_order_quantity=1, weight_grams=800,
    )  # fmt: skip
    set_stock(sku=cabbage, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=50)
    paid_order(shopper, point, (cabbage, 4))
    clock.shift(timedelta(minutes=5))
    paid_order(other_shopper, other_pickup_point, (cabbage, 3))
    clock.shift(timedelta(minutes=5))
    last = paid_order(shopper, point, (cabbage, 2))

    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)

    [po] = PurchaseOrder.objects.filter(wave=wave)
    assert (po.supplier, po.status) == (farm, PurchaseStatus.DRAFT)
    assert list(po.lines.values_list("sku_id", "demand", "on_hand", "quantity")) == [
        (cabbage.pk, 9, 0, 12)
    ]
    # A rerun keeps the same draft.
    run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    assert list(PurchaseOrder.objects.values_list("pk", "number")) == [(po.pk, po.number)]

    send_purchase_order(purchase_order=po, actor=operator)
    result = receive_purchase_order(
        purchase_order=po, received={po.lines.get().pk: 7}, actor=operator
    )

    [cut] = result.cuts
    assert cut.cut.units == 2 and [c.order_id for c in cut.lines] == [last.pk]
    assert ShortageCut.objects.count() == 1 and Refund.objects.count() == 1
    after_cut = _documents(wave)
    assert [q for _sku, q, _w in after_cut["demand"]] == [7]
    assert after_cut["demand"][0][2] == 7 * 800
    assert sum(q for _p, _s, q in after_cut["packs"]) == 7
    # 张阿姨's point: 2 orders → 1 left (the last was cut whole), 4 × 800 g; 李先生's: 3.
    assert after_cut["stops"] == [
        (route.pk, point.pk, 1, 1, 3200),
        (route.pk, other_pickup_point.pk, 1, 1, 2400),
    ]
    assert after_cut["runs"] == [(route.pk, 2, 5600)]
    assert after_cut["counts"] == (2, 2, 7)  # the last order and its line are gone
    # The wave run again from the orders (quantity − refunded) says the same.
    run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    assert _documents(wave) == {
        **after_cut,
        # A rerun drops the emptied line rather than keeping it at 0 (and its label line).
        "lines": [row for row in after_cut["lines"] if row[1]],
    }
    # The received order is untouched, and nothing more is needed.
    po.refresh_from_db()
    assert po.status == PurchaseStatus.RECEIVED
    assert PurchaseOrder.objects.count() == 1
    assert purchase_plan(wave=wave).problems == []
    assert InventoryItem.objects.get(sku=cabbage).on_hand == 7


def test_a_runs_goods_leaving_come_off_the_stock_on_hand(
    clock, route, point, other_pickup_point, shopper, other_shopper
):
    carrot = SkuFactory(product__name="胡萝卜", cost_price=Decimal("0.85"))
    cabbage = SkuFactory(product__name="白菜", cost_price=Decimal("1.10"))
    for sku in (carrot, cabbage):
        set_stock(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW, quantity=50)
    paid_order(shopper, point, (carrot, 3), (cabbage, 1))
    paid_order(other_shopper, other_pickup_point, (carrot, 2))
    InventoryItem.objects.create(warehouse=point.warehouse, sku=carrot, on_hand=20)
    wave = run_wave(warehouse=point.warehouse, delivery_date=TOMORROW)
    run = DeliveryRun.objects.get(wave=wave)

    assert issue_run_stock(run=run) == 5

    assert dict(InventoryItem.objects.values_list("sku_id", "on_hand")) == {carrot.pk: 15}
