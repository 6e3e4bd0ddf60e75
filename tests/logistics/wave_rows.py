"""A cutoff wave's rows written with the ORM, for the document and warehouse page tests.

It stands in for the wave service (logistics/services/wave.py) where a test
needs exact, hand-checked rows: the same tables the service fills, from the
day's confirmed orders of one warehouse, in plain Python (small data only).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.utils import timezone

from catalog.models import Sku
from logistics.models import (
    DeliveryRun,
    PackItem,
    PickItem,
    RouteStop,
    RunStop,
    Wave,
    WaveDemand,
    WaveLabel,
    WaveLine,
    WaveStatus,
)
from orders.models import OrderLine, OrderStatus
from orders.services.pickup import pickup_code_for
from tuangou.accounts.phone import mask_phone
from tuangou.timeutils import local_datetime

STORAGE_ORDER = {"ambient": 0, "chilled": 1, "frozen": 2}


def build_wave(*, warehouse, delivery_date: date, crates_per_stop: int = 2) -> Wave:
    """Freeze the day's confirmed lines of `warehouse` into a DONE wave with every table."""
    wave, _ = Wave.objects.update_or_create(
        warehouse=warehouse,
        delivery_date=delivery_date,
        defaults={"status": WaveStatus.DONE, "progress": 100, "closed_at": timezone.now()},
    )
    for related in ("lines", "demand", "pick_items", "pack_items", "labels", "runs"):
        getattr(wave, related).all().delete()
    stops = {
        s.pickup_point_id: s for s in RouteStop.objects.select_related("route", "route__vehicle")
    }
    lines = list(
        OrderLine.objects.filter(
            order__warehouse=warehouse,
            order__delivery_date=delivery_date,
            order__status=OrderStatus.CONFIRMED,
        )
        .select_related("order", "order__user", "sku__product")
        .order_by("pk")
    )
    demand: dict[int, int] = defaultdict(int)
    packs: dict[tuple[int, int], int] = defaultdict(int)
    shoppers: dict[tuple[int, int], list[OrderLine]] = defaultdict(list)
    for line in lines:
        stop = stops.get(line.order.pickup_point_id)
        WaveLine.objects.create(
            wave=wave,
            order_line=line,
            order=line.order,
            user_id=line.order.user_id,
            pickup_point_id=line.order.pickup_point_id,
            route=stop.route if stop else None,
            sku=line.sku,
            quantity=line.quantity,
        )
        demand[line.sku_id] += line.quantity
        packs[(line.order.pickup_point_id, line.sku_id)] += line.quantity
        shoppers[(line.order.pickup_point_id, line.order.user_id)].append(line)
    skus = Sku.objects.select_related("product").in_bulk(list(demand))
    for sku_id, quantity in demand.items():
        sku = skus[sku_id]
        WaveDemand.objects.create(
            wave=wave,
            sku=sku,
            storage_class=sku.product.storage_class,
            quantity=quantity,
            weight_grams=(sku.weight_grams or 0) * quantity,
        )
    by_walk = sorted(
        demand,
        key=lambda i: (STORAGE_ORDER[skus[i].product.storage_class], skus[i].bin_location, i),
    )
    sequence: dict[str, int] = defaultdict(int)
    for sku_id in by_walk:
        sku = skus[sku_id]
        sequence[sku.product.storage_class] += 1
        PickItem.objects.create(
            wave=wave,
            storage_class=sku.product.storage_class,
            sequence=sequence[sku.product.storage_class],
            sku=sku,
            bin_location=sku.bin_location,
            quantity=demand[sku_id],
        )
    for (point_id, sku_id), quantity in sorted(packs.items()):
        stop = stops.get(point_id)
        PackItem.objects.create(
            wave=wave,
            route=stop.route if stop else None,
            pickup_point_id=point_id,
            sku_id=sku_id,
            quantity=quantity,
        )
    for (point_id, user_id), user_lines in sorted(shoppers.items()):
        stop = stops.get(point_id)
        code = pickup_code_for(
            user_id=user_id, pickup_point_id=point_id, delivery_date=delivery_date
        )
        WaveLabel.objects.create(
            wave=wave,
            route=stop.route if stop else None,
            pickup_point_id=point_id,
            user_id=user_id,
            pickup_code=code.code,
            masked_phone=mask_phone(user_lines[0].order.user.phone or ""),
            line_count=len(user_lines),
            unit_count=sum(line.quantity for line in user_lines),
        )
    routes = sorted({s.route for s in stops.values()}, key=lambda r: r.code)
    for route in routes:
        route_stops = sorted(
            (s for s in stops.values() if s.route_id == route.pk), key=lambda s: s.position
        )
        served = [s for s in route_stops if any(p == s.pickup_point_id for p, _ in packs)]
        if not served:
            continue
        run = DeliveryRun.objects.create(
            wave=wave,
            route=route,
            delivery_date=delivery_date,
            vehicle=route.vehicle,
            driver=route.default_driver,
            planned_departure=local_datetime(delivery_date, route.departure_time),
        )
        for position, stop in enumerate(served, start=1):
            weight = sum(
                (skus[s].weight_grams or 0) * q
                for (p, s), q in packs.items()
                if p == stop.pickup_point_id
            )
            orders = {
                line.order_id
                for (p, _u), ls in shoppers.items()
                if p == stop.pickup_point_id
                for line in ls
            }
            RunStop.objects.create(
                run=run,
                pickup_point_id=stop.pickup_point_id,
                position=position,
                order_count=len(orders),
                crates=crates_per_stop,
                weight_grams=weight,
            )
        run.crates = sum(s.crates for s in run.stops.all())
        run.weight_grams = sum(s.weight_grams for s in run.stops.all())
        run.save(update_fields=["crates", "weight_grams"])
    wave.order_count = len({line.order_id for line in lines})
    wave.line_count = len(lines)
    wave.unit_count = sum(line.quantity for line in lines)
    wave.save(update_fields=["order_count", "line_count", "unit_count"])
    return wave
