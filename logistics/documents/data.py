"""What the wave's documents print, read from the wave tables (never from raw orders).

Each reader yields small rows in printing order and keeps memory bounded by
its scope: picking lists and packing lists stream from one ordered query;
labels are read one pickup point at a time (a city's labels are never in
memory together: a label file is per point or per route).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, OuterRef, Subquery

from tuangou.accounts.phone import format_phone

from ..models import DeliveryRun, PackItem, PickItem, RunStop, Wave, WaveLabel, WaveLine

STORAGE_WALK_ORDER = ("ambient", "chilled", "frozen")


def kilograms(grams: int) -> Decimal:
    """Grams as kilograms to 0.1 kg (half up), as printed on packing lists and run sheets."""
    return (Decimal(grams or 0) / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- picking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PickRow:
    item_id: int
    storage_class: str
    sequence: int
    bin_location: str
    product: str
    spec: str
    unit: str
    quantity: int
    picked_quantity: int | None


def storage_classes(*, wave: Wave) -> list[str]:
    """The storage classes that have a picking list in this wave, in walking order."""
    present = set(wave.pick_items.values_list("storage_class", flat=True).distinct())
    ordered = [s for s in STORAGE_WALK_ORDER if s in present]
    return ordered + sorted(present - set(ordered))


def picking_rows(*, wave: Wave, storage_class: str | None = None) -> Iterator[PickRow]:
    """Picking list lines in walking order (storage class, then PickItem.sequence)."""
    qs = PickItem.objects.filter(wave=wave)
    if storage_class:
        qs = qs.filter(storage_class=storage_class)
    walk = {s: i for i, s in enumerate(STORAGE_WALK_ORDER)}
    rows = qs.order_by("storage_class", "sequence", "pk").values_list(
        "pk",
        "storage_class",
        "sequence",
        "bin_location",
        "sku__product__name",
        "sku__spec",
        "sku__product__unit",
        "quantity",
        "picked_quantity",
    )
    if storage_class:
        for row in rows.iterator(chunk_size=2000):
            yield PickRow(*row)
        return
    # A whole wave: the three lists one after the other, ambient first.
    for cls in sorted(storage_classes(wave=wave), key=lambda s: walk.get(s, 99)):
        for row in rows.filter(storage_class=cls).iterator(chunk_size=2000):
            yield PickRow(*row)


# --- packing ----------------------------------------------------------------------------


@dataclass
class PackLine:
    item_id: int
    product: str
    spec: str
    unit: str
    quantity: int
    weight_grams: int
    is_packed: bool


@dataclass
class PackPoint:
    route_code: str
    route_name: str
    position: int | None
    point_id: int
    point_name: str
    address: str
    lines: list[PackLine] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def weight_kg(self) -> Decimal:
        return kilograms(sum(line.weight_grams for line in self.lines))

    @property
    def packed(self) -> int:
        return sum(1 for line in self.lines if line.is_packed)


def _stop_position(wave: Wave):
    """The point's place in the wave's run of its route (the driving order)."""
    return Subquery(
        RunStop.objects.filter(run__wave=wave, pickup_point=OuterRef("pickup_point")).values(
            "position"
        )[:1]
    )


def packing_points(
    *, wave: Wave, route_id: int | None = None, point_id: int | None = None
) -> Iterator[PackPoint]:
    """Packing lists point by point, routes by code, points in driving order."""
    qs = PackItem.objects.filter(wave=wave)
    if route_id is not None:
        qs = qs.filter(route_id=route_id)
    if point_id is not None:
        qs = qs.filter(pickup_point_id=point_id)
    rows = (
        qs.annotate(position=_stop_position(wave))
        .order_by(
            F("route__code").asc(nulls_last=True),
            F("position").asc(nulls_last=True),
            "pickup_point_id",
            "sku__bin_location",
            "sku_id",
        )
        .values_list(
            "pk",
            "route__code",
            "route__name",
            "position",
            "pickup_point_id",
            "pickup_point__name",
            "pickup_point__address",
            "sku__product__name",
            "sku__spec",
            "sku__product__unit",
            "quantity",
            "sku__weight_grams",
            "is_packed",
        )
    )
    current: PackPoint | None = None
    for (
        pk,
        route_code,
        route_name,
        position,
        pid,
        name,
        address,
        product,
        spec,
        unit,
        quantity,
        weight,
        is_packed,
    ) in rows.iterator(chunk_size=2000):
        if current is None or current.point_id != pid:
            if current is not None:
                yield current
            current = PackPoint(
                route_code=route_code or "",
                route_name=route_name or "",
                position=position,
                point_id=pid,
                point_name=name,
                address=address,
            )
        current.lines.append(
            PackLine(pk, product, spec, unit, quantity, (weight or 0) * quantity, is_packed)
        )
    if current is not None:
        yield current


# --- bag labels -------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelLine:
    product: str
    spec: str
    quantity: int


@dataclass
class Label:
    point_name: str
    point_address: str
    route_code: str
    position: int | None
    pickup_code: str
    masked_phone: str
    line_count: int
    unit_count: int
    lines: list[LabelLine]


def label_points(
    *, wave: Wave, route_id: int | None = None, point_id: int | None = None
) -> list[tuple[int, int | None]]:
    """(point id, driving position) of the points that have labels in this scope, in order."""
    qs = WaveLabel.objects.filter(wave=wave)
    if route_id is not None:
        qs = qs.filter(route_id=route_id)
    if point_id is not None:
        qs = qs.filter(pickup_point_id=point_id)
    points = (
        qs.values("pickup_point_id")
        .distinct()
        .annotate(position=_stop_position(wave))
        .values_list("pickup_point_id", "position")
    )
    return sorted(points, key=lambda p: (p[1] is None, p[1] or 0, p[0]))


def label_count(*, wave: Wave, route_id: int | None = None, point_id: int | None = None) -> int:
    qs = WaveLabel.objects.filter(wave=wave)
    if route_id is not None:
        qs = qs.filter(route_id=route_id)
    if point_id is not None:
        qs = qs.filter(pickup_point_id=point_id)
    return qs.count()


def labels(*, wave: Wave, route_id: int | None = None, point_id: int | None = None):
    """Bag labels in loading order: point by point (two queries each), shoppers by code.

    The lines come from WaveLine (the frozen quantities) joined to the order
    lines for the product name and spec the shopper bought.
    """
    for pid, position in label_points(wave=wave, route_id=route_id, point_id=point_id):
        heads = list(
            WaveLabel.objects.filter(wave=wave, pickup_point_id=pid)
            .order_by("pickup_code", "user_id")
            .values_list(
                "user_id",
                "pickup_code",
                "masked_phone",
                "line_count",
                "unit_count",
                "route__code",
                "pickup_point__name",
                "pickup_point__address",
            )
        )
        by_user: dict[int, list[LabelLine]] = {}
        for user_id, product, spec, quantity in (
            WaveLine.objects.filter(wave=wave, pickup_point_id=pid)
            .order_by("user_id", "order_line_id")
            .values_list("user_id", "order_line__product_name", "order_line__spec", "quantity")
            .iterator(chunk_size=2000)
        ):
            by_user.setdefault(user_id, []).append(LabelLine(product, spec, quantity))
        for user_id, code, phone, line_count, unit_count, route_code, name, address in heads:
            yield Label(
                point_name=name,
                point_address=address,
                route_code=route_code or "",
                position=position,
                pickup_code=code,
                masked_phone=phone,
                line_count=line_count,
                unit_count=unit_count,
                lines=by_user.get(user_id, []),
            )


# --- run sheets -------------------------------------------------------------------------


@dataclass(frozen=True)
class StopRow:
    position: int
    point_name: str
    address: str
    contact: str
    phone: str
    order_count: int
    crates: int
    weight_kg: Decimal
    planned_arrival: datetime | None
    due_at: datetime | None
    returns: str = ""  # uncollected goods to carry back (带回未取件), "" when none


def run_stops(*, run: DeliveryRun) -> list[StopRow]:
    """A run's stops in driving order, with the leader to hand over to and the
    uncollected goods to take back there (uncollected.returns_for_run)."""
    from ..services.uncollected import returns_for_run, returns_text

    returns = returns_for_run(run=run)
    rows = (
        RunStop.objects.filter(run=run)
        .order_by("position", "pk")
        .values_list(
            "position",
            "pickup_point__name",
            "pickup_point__address",
            "pickup_point__leader__real_name",
            "pickup_point__leader__phone",
            "order_count",
            "crates",
            "weight_grams",
            "planned_arrival",
            "due_at",
            "pickup_point_id",
        )
    )
    return [
        StopRow(
            pos,
            name,
            address,
            contact or "",
            format_phone(phone or ""),
            orders,
            crates,
            kilograms(w),
            p,
            d,
            returns_text(returns.get(point_id, [])),
        )
        for pos, name, address, contact, phone, orders, crates, w, p, d, point_id in rows
    ]


# --- the floor page's progress ----------------------------------------------------------


@dataclass(frozen=True)
class PickProgress:
    storage_class: str
    lines: int
    picked: int
    units: int

    @property
    def percent(self) -> int:
        return round(100 * self.picked / self.lines) if self.lines else 0


@dataclass(frozen=True)
class PackProgress:
    route_id: int | None
    route_code: str
    route_name: str
    points: int
    lines: int
    packed: int
    units: int

    @property
    def percent(self) -> int:
        return round(100 * self.packed / self.lines) if self.lines else 0


def picking_progress(*, wave: Wave) -> list[PickProgress]:
    """Lines and ticked lines per storage class (one GROUP BY)."""
    from django.db.models import Count, Q, Sum

    rows = (
        PickItem.objects.filter(wave=wave)
        .values("storage_class")
        .annotate(
            lines=Count("pk"),
            picked=Count("pk", filter=Q(picked_quantity__isnull=False)),
            units=Sum("quantity"),
        )
    )
    found = {r["storage_class"]: r for r in rows}
    order = [s for s in STORAGE_WALK_ORDER if s in found] + sorted(
        set(found) - set(STORAGE_WALK_ORDER)
    )
    return [
        PickProgress(s, found[s]["lines"], found[s]["picked"], found[s]["units"] or 0)
        for s in order
    ]


def packing_progress(*, wave: Wave) -> list[PackProgress]:
    """Points, lines and ticked lines per route (one GROUP BY); unrouted points last."""
    from django.db.models import Count, Q, Sum

    rows = (
        PackItem.objects.filter(wave=wave)
        .values("route_id", "route__code", "route__name")
        .annotate(
            points=Count("pickup_point_id", distinct=True),
            lines=Count("pk"),
            packed=Count("pk", filter=Q(is_packed=True)),
            units=Sum("quantity"),
        )
        .order_by(F("route__code").asc(nulls_last=True))
    )
    return [
        PackProgress(
            r["route_id"],
            r["route__code"] or "",
            r["route__name"] or "",
            r["points"],
            r["lines"],
            r["packed"],
            r["units"] or 0,
        )
        for r in rows
    ]


def pack_points(*, wave: Wave, route_id: int | None) -> list[PackPoint]:
    """The packing lists of one route (or of the unrouted points, route_id None) for ticking."""
    if route_id is None:
        qs_points = PackItem.objects.filter(wave=wave, route__isnull=True).values_list(
            "pickup_point_id", flat=True
        )
        found: list[PackPoint] = []
        for pid in sorted(set(qs_points)):
            found.extend(packing_points(wave=wave, point_id=pid))
        return found
    return list(packing_points(wave=wave, route_id=route_id))
