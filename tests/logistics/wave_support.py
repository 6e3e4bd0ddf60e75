"""The cutoff wave tests' day: route R01 through both personas' points, two
shoppers, two SKUs with weights and bins, four confirmed orders for
tomorrow, one line partly refunded. Made through the real services.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from catalog.models import Sku
from logistics.models import (
    DeliveryRun,
    PackItem,
    PickItem,
    RunStop,
    WaveDemand,
    WaveLabel,
    WaveLine,
)
from orders.models import Order, RefundReason
from orders.services.refunds import refund_lines

from .conftest import paid_order


@dataclass
class Day:
    a: Order  # alice at 幸福里: tomato × 3, eggs × 2
    b: Order  # bob at 幸福里: tomato × 1
    c: Order  # alice at 阳光花园: eggs × 4, one refunded
    d: Order  # bob at 阳光花园: tomato × 2, eggs × 1


@pytest.fixture
def weighed(sku, egg_sku):
    """Tomatoes 500 g in bin B-02-1, eggs 600 g in bin A-01-1 (both room temperature)."""
    Sku.objects.filter(pk=sku.pk).update(weight_grams=500, bin_location="B-02-1")
    Sku.objects.filter(pk=egg_sku.pk).update(weight_grams=600, bin_location="A-01-1")
    sku.refresh_from_db()
    egg_sku.refresh_from_db()
    return sku, egg_sku


@pytest.fixture
def day(clock, route, point, other_pickup_point, shopper, other_shopper, weighed, operator):
    tomato, eggs = weighed
    a = paid_order(shopper, point, (tomato, 3), (eggs, 2))
    b = paid_order(other_shopper, point, (tomato, 1))
    c = paid_order(shopper, other_pickup_point, (eggs, 4))
    d = paid_order(other_shopper, other_pickup_point, (tomato, 2), (eggs, 1))
    refund_lines(
        order=c,
        quantities={c.lines.get().pk: 1},
        reason=RefundReason.OPERATOR,
        actor=operator,
    )
    return Day(a=a, b=b, c=c, d=d)


def wave_rows(wave) -> dict:
    """Every derived row of a wave as plain tuples, ids of snapshots included,
    in a fixed order (for comparing a rerun with the first run)."""
    runs = DeliveryRun.objects.filter(wave=wave).order_by("route_id")
    return {
        "lines": sorted(
            WaveLine.objects.filter(wave=wave).values_list(
                "order_line_id",
                "order_id",
                "user_id",
                "pickup_point_id",
                "route_id",
                "sku_id",
                "quantity",
            )
        ),
        "demand": sorted(
            WaveDemand.objects.filter(wave=wave).values_list(
                "sku_id", "storage_class", "quantity", "weight_grams"
            )
        ),
        "picks": sorted(
            PickItem.objects.filter(wave=wave).values_list(
                "storage_class", "sequence", "sku_id", "bin_location", "quantity"
            )
        ),
        "packs": sorted(
            PackItem.objects.filter(wave=wave).values_list(
                "route_id", "pickup_point_id", "sku_id", "quantity"
            ),
            key=str,
        ),
        "labels": sorted(
            WaveLabel.objects.filter(wave=wave).values_list(
                "route_id",
                "pickup_point_id",
                "user_id",
                "pickup_code",
                "masked_phone",
                "line_count",
                "unit_count",
            ),
            key=str,
        ),
        "runs": list(
            runs.values_list(
                "route_id",
                "delivery_date",
                "vehicle_id",
                "driver_id",
                "status",
                "planned_departure",
                "crates",
                "weight_grams",
            )
        ),
        "stops": list(
            RunStop.objects.filter(run__wave=wave)
            .order_by("run__route_id", "position")
            .values_list(
                "run__route_id",
                "pickup_point_id",
                "position",
                "order_count",
                "crates",
                "weight_grams",
                "due_at",
                "status",
            )
        ),
    }
