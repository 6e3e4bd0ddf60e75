"""Purchasing test helpers: a small cutoff wave written with the ORM, and order placing.

`freeze_wave` stands in for the wave service where the purchasing tests need
exact, hand-checked rows: from the day's confirmed (and in-delivery) lines of
one warehouse it writes WaveLine, WaveDemand, PickItem, PackItem and
WaveLabel, the tables purchasing reads and shrinks. Plain Python, small data.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.utils import timezone

from logistics.models import (
    PackItem,
    PickItem,
    Wave,
    WaveDemand,
    WaveLabel,
    WaveLine,
    WaveStatus,
)
from orders.models import OrderLine, OrderStatus


def freeze_wave(*, warehouse, delivery_date: date) -> Wave:
    """A DONE wave of the day's orders (rebuilt from scratch when called again)."""
    wave, _created = Wave.objects.update_or_create(
        warehouse=warehouse,
        delivery_date=delivery_date,
        defaults={"status": WaveStatus.DONE, "progress": 100, "closed_at": timezone.now()},
    )
    for related in ("lines", "demand", "pick_items", "pack_items", "labels"):
        getattr(wave, related).all().delete()
    lines = list(
        OrderLine.objects.filter(
            order__warehouse=warehouse,
            order__delivery_date=delivery_date,
            order__status__in=[OrderStatus.CONFIRMED, OrderStatus.IN_DELIVERY],
        )
        .select_related("order", "sku__product")
        .order_by("pk")
    )
    demand: dict[int, list] = {}
    packs: dict[tuple[int, int], int] = defaultdict(int)
    labels: dict[tuple[int, int], list[int]] = {}
    wave_lines = []
    for line in lines:
        quantity = line.quantity - line.refunded_quantity
        if quantity <= 0:
            continue
        order = line.order
        wave_lines.append(
            WaveLine(
                wave=wave,
                order_line_id=line.pk,
                order_id=order.pk,
                user_id=order.user_id,
                pickup_point_id=order.pickup_point_id,
                sku_id=line.sku_id,
                quantity=quantity,
            )
        )
        row = demand.setdefault(line.sku_id, [line.sku, 0])
        row[1] += quantity
        packs[(order.pickup_point_id, line.sku_id)] += quantity
        label = labels.setdefault((order.pickup_point_id, order.user_id), [0, 0])
        label[0] += 1
        label[1] += quantity
    WaveLine.objects.bulk_create(wave_lines)
    WaveDemand.objects.bulk_create(
        [
            WaveDemand(
                wave=wave,
                sku_id=sku_id,
                storage_class=sku.product.storage_class,
                quantity=quantity,
                weight_grams=quantity * (sku.weight_grams or 0),
            )
            for sku_id, (sku, quantity) in sorted(demand.items())
        ]
    )
    PickItem.objects.bulk_create(
        [
            PickItem(
                wave=wave,
                storage_class=sku.product.storage_class,
                sequence=i,
                sku_id=sku_id,
                bin_location=sku.bin_location,
                quantity=quantity,
            )
            for i, (sku_id, (sku, quantity)) in enumerate(sorted(demand.items()), start=1)
        ]
    )
    PackItem.objects.bulk_create(
        [
            PackItem(wave=wave, pickup_point_id=point_id, sku_id=sku_id, quantity=quantity)
            for (point_id, sku_id), quantity in sorted(packs.items())
        ]
    )
    WaveLabel.objects.bulk_create(
        [
            WaveLabel(
                wave=wave,
                pickup_point_id=point_id,
                user_id=user_id,
                pickup_code="000000",
                line_count=count,
                unit_count=units,
            )
            for (point_id, user_id), (count, units) in sorted(labels.items())
        ]
    )
    Wave.objects.filter(pk=wave.pk).update(
        order_count=len({w.order_id for w in wave_lines}),
        line_count=len(wave_lines),
        unit_count=sum(w.quantity for w in wave_lines),
    )
    wave.refresh_from_db()
    return wave
