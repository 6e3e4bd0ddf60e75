"""Demo logistics: vans, drivers and two routes per warehouse; the cutoff waves of the
last week with their documents, purchase orders in every state and the runs driven
through the real services; stock on the warehouse floor.

Runs after the orders demo (settings.LOCAL_APPS order), whose deliveries it
follows: the vans leave at 06:00 and reach each point before the leaders sign at
08:30. Everything is dated no later than now: a run whose morning has not come
yet stays planned, a stop not yet reached stays pending. Idempotent: a second
seed finds the routes and leaves the driven runs alone.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db.models import Count
from django.utils import timezone

from catalog.models import Sku, Warehouse
from leaders.models import PickupPoint
from tuangou.accounts.models import User
from tuangou.accounts.roles import DRIVERS, WAREHOUSE, sync_roles
from tuangou.timeutils import local_datetime, local_today

from .models import (
    DeliveryRun,
    Driver,
    InventoryItem,
    PurchaseOrder,
    Route,
    RouteStop,
    RunStatus,
    StopException,
    Vehicle,
    Wave,
)

SEED = 12
WAVE_DAYS = 7  # the delivery days of the last week that have a wave
DEPART_AT = time(6, 0)
SIGNED_BY = time(8, 30)  # the orders demo signs for the goods then
DEMO_PASSWORD = "tuangou-demo"  # noqa: S105 - printed in the README for the demo

# Where the vans leave from.
WAREHOUSE_COORDINATES = {
    "长沙岳麓中心仓": (Decimal("28.214500"), Decimal("112.871600")),
    "株洲天元中心仓": (Decimal("27.826300"), Decimal("113.083200")),
}

DRIVERS_DEMO = [
    # username, phone, name, warehouse (None = the default)
    ("driver", "+8613900000003", "陈建国", None),  # the accounts demo's 司机老陈
    ("driver2", "+8613900000004", "周小军", None),
    ("driver3", "+8613900000005", "黄师傅", "株洲天元中心仓"),
]
STAFF_DEMO = ("warehouse", "+8613900000006", "cangku@demo.tuangou.cn", "仓管小吴")


def seed(*, stdout) -> None:
    sync_roles()
    _warehouse_staff()
    warehouses = list(Warehouse.objects.filter(is_active=True).order_by("pk"))
    for warehouse in warehouses:
        lat_lng = WAREHOUSE_COORDINATES.get(warehouse.name)
        if lat_lng and warehouse.latitude is None:
            warehouse.latitude, warehouse.longitude = lat_lng
            warehouse.save(update_fields=["latitude", "longitude"])
    drivers = _drivers()
    routes = [route for warehouse in warehouses for route in _routes(warehouse, drivers)]
    _stock_on_hand()
    if Wave.objects.exists():
        stdout.write(f"    logistics: {len(routes)} routes; waves exist, nothing more to do")
        return
    Week(stdout=stdout).run(warehouses)


def _warehouse_staff() -> None:
    username, phone, email, nickname = STAFF_DEMO
    user, _ = User.objects.update_or_create(
        username=username,
        defaults={
            "phone": phone,
            "phone_verified": True,
            "email": email,
            "nickname": nickname,
            "is_staff": True,
        },
    )
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    user.groups.set([Group.objects.get(name=WAREHOUSE)])


def _drivers() -> dict[int, list[Driver]]:
    """Drivers per warehouse id."""
    default = Warehouse.objects.filter(is_default=True).first()
    by_warehouse: dict[int, list[Driver]] = {}
    group = Group.objects.get(name=DRIVERS)
    for username, phone, name, warehouse_name in DRIVERS_DEMO:
        warehouse = (
            Warehouse.objects.filter(name=warehouse_name).first() if warehouse_name else default
        )
        if warehouse is None:
            continue
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"phone": phone, "phone_verified": True, "nickname": name},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(group)
        driver, _ = Driver.objects.update_or_create(
            user=user, defaults={"warehouse": warehouse, "name": name, "phone": phone[-11:]}
        )
        by_warehouse.setdefault(warehouse.pk, []).append(driver)
    return by_warehouse


def _routes(warehouse: Warehouse, drivers: dict[int, list[Driver]]) -> list[Route]:
    """Two routes per warehouse, its active points split between them west to east."""
    city = warehouse.city
    prefix = "CS" if city == "长沙" else "ZZ"
    routes = []
    own_drivers = drivers.get(warehouse.pk, [])
    for index, (name, plate, cold) in enumerate(
        [
            (f"{city}西线", f"湘A·D{warehouse.pk}01", True),
            (f"{city}东线", f"湘A·D{warehouse.pk}02", False),
        ]
    ):
        vehicle, _ = Vehicle.objects.get_or_create(
            plate=plate,
            defaults={
                "warehouse": warehouse,
                "capacity_kg": 1500 if cold else 2000,
                "capacity_crates": 90 if cold else 140,
                "is_cold_chain": cold,
            },
        )
        route, _ = Route.objects.get_or_create(
            code=f"{prefix}{warehouse.pk}-{index + 1:02d}",
            defaults={
                "warehouse": warehouse,
                "name": name,
                "vehicle": vehicle,
                "default_driver": own_drivers[index % len(own_drivers)] if own_drivers else None,
                "departure_time": DEPART_AT,
                "cost_per_run": Decimal("260.00") if cold else Decimal("200.00"),
            },
        )
        routes.append(route)
    points = list(
        PickupPoint.objects.filter(warehouse=warehouse, route_stop__isnull=True)
        .order_by("longitude", "pk")
        .only("pk")
    )
    if points:
        half = (len(points) + 1) // 2
        for route, chunk in ((routes[0], points[:half]), (routes[1], points[half:])):
            start = route.stops.count()
            RouteStop.objects.bulk_create(
                RouteStop(route=route, pickup_point=p, position=start + i + 1)
                for i, p in enumerate(chunk)
            )
    return routes


def _stock_on_hand() -> None:
    """Some goods already on the warehouse floor: purchase orders order less of them."""
    default = Warehouse.objects.filter(is_default=True).first()
    if default is None or InventoryItem.objects.exists():
        return
    skus = list(Sku.objects.filter(is_active=True).order_by("pk")[:12:3])
    InventoryItem.objects.bulk_create(
        InventoryItem(warehouse=default, sku=sku, on_hand=6 + 4 * n) for n, sku in enumerate(skus)
    )


class Week:
    """The last week's cutoff waves, purchase orders and runs, as they happened."""

    def __init__(self, *, stdout):
        self.stdout = stdout
        self.rng = random.Random(SEED)
        self.now = timezone.now()
        self.today = local_today()

    def run(self, warehouses: list[Warehouse]) -> None:
        from .services.wave import run_wave

        cutoff_passed = lambda w: local_datetime(self.today, w.cutoff_time) <= self.now  # noqa: E731
        waves = []
        for warehouse in warehouses:
            last = self.today + timedelta(days=1 if cutoff_passed(warehouse) else 0)
            for offset in range(WAVE_DAYS - 1, -1, -1):
                day = last - timedelta(days=offset)
                wave = run_wave(warehouse=warehouse, delivery_date=day)
                self._backdate_wave(wave, warehouse)
                waves.append(wave)
        for wave in waves:
            self._purchasing(wave)
        for wave in waves:
            for run in wave.runs.select_related("route", "driver").order_by("pk"):
                self._drive(run)
        runs = dict(DeliveryRun.objects.values_list("status").annotate(n=Count("pk")))
        purchase = dict(PurchaseOrder.objects.values_list("status").annotate(n=Count("pk")))
        self.stdout.write(
            f"    logistics: {len(waves)} waves, runs "
            + ", ".join(f"{k} {v}" for k, v in sorted(runs.items()))
            + "; purchase orders "
            + ", ".join(f"{k} {v}" for k, v in sorted(purchase.items()))
        )

    def _backdate_wave(self, wave: Wave, warehouse: Warehouse) -> None:
        """The wave ran at the evening cutoff before its delivery day."""
        start = local_datetime(wave.delivery_date - timedelta(days=1), warehouse.cutoff_time)
        start = min(start, self.now - timedelta(minutes=2))
        Wave.objects.filter(pk=wave.pk).update(
            started_at=start,
            closed_at=start,
            finished_at=start + timedelta(seconds=40),
        )

    # --- purchasing -----------------------------------------------------------------

    def _purchasing(self, wave: Wave) -> None:
        """Past days' orders arrived in full; the latest day shows every state."""
        from .services.purchasing import (
            cancel_purchase_order,
            receive_purchase_order,
            send_purchase_order,
        )

        orders = list(
            PurchaseOrder.objects.filter(wave=wave).prefetch_related("lines").order_by("pk")
        )
        latest = wave.delivery_date >= self.today
        sent_at = local_datetime(wave.delivery_date - timedelta(days=1), time(23, 20))
        received_at = local_datetime(wave.delivery_date, time(3, 30))
        for index, po in enumerate(orders):
            state = index % 5 if latest else 0
            if state == 4:
                cancel_purchase_order(purchase_order=po, reason="供应商缺货，改从其他渠道采购")
                continue
            if state == 3:
                continue  # still a draft: the buyer has not sent it
            self._cost_prices(po)
            send_purchase_order(purchase_order=po)
            PurchaseOrder.objects.filter(pk=po.pk).update(sent_at=min(sent_at, self.now))
            if state == 2 or received_at > self.now:
                continue  # sent, goods not in yet
            lines = list(po.lines.order_by("pk"))
            if state == 1 and len(lines) > 1:
                lines = lines[: len(lines) // 2]  # the rest comes on a second truck
            receive_purchase_order(
                purchase_order=po,
                received={line.pk: line.quantity for line in lines},
                actor=None,
            )
            PurchaseOrder.objects.filter(pk=po.pk, received_at__isnull=False).update(
                received_at=received_at
            )

    def _cost_prices(self, po: PurchaseOrder) -> None:
        """A demo SKU without a cost price gets 70% of its price (sending needs one)."""
        from .models import PurchaseOrderLine

        for line in po.lines.select_related("sku").filter(unit_cost=0):
            sku = line.sku
            if sku.cost_price is None:
                sku.cost_price = (sku.price * Decimal("0.7")).quantize(Decimal("0.01"))
                sku.save(update_fields=["cost_price"])
            PurchaseOrderLine.objects.filter(pk=line.pk).update(unit_cost=sku.cost_price)

    # --- driving --------------------------------------------------------------------

    def _drive(self, run: DeliveryRun) -> None:
        """Depart at about 06:00, reach each point in turn before 08:30, hand over.

        Only what has happened by now: a morning not yet come leaves the run
        planned, a stop not yet reached pending. A damaged crate once a week.
        """
        from .services.runs import (
            arrive_at_stop,
            depart_run,
            hand_over_stop,
            report_stop_exception,
        )

        if run.status != RunStatus.PLANNED or run.driver is None:
            return
        stops = list(run.stops.select_related("pickup_point").order_by("position"))
        if not stops:
            return
        departure = local_datetime(run.delivery_date, DEPART_AT) + timedelta(
            minutes=self.rng.randint(0, 12)
        )
        if departure > self.now:
            return
        depart_run(run=run, driver=run.driver, now=departure)
        signed_by = local_datetime(run.delivery_date, SIGNED_BY)
        gap = (signed_by - departure - timedelta(minutes=10)) / (len(stops) + 1)
        moment = departure
        for stop in stops:
            moment = moment + gap + timedelta(minutes=self.rng.randint(-6, 4))
            if moment > self.now:
                return
            arrive_at_stop(stop=stop, driver=run.driver, now=moment)
            handover = moment + timedelta(minutes=self.rng.randint(4, 9))
            if handover > self.now:
                return
            if self.rng.random() < 0.12:
                report_stop_exception(
                    stop=stop,
                    driver=run.driver,
                    kind=StopException.DAMAGED,
                    note="一箱鸡蛋外箱压坏，已请团长清点",
                    now=handover - timedelta(minutes=1),
                )
            hand_over_stop(stop=stop, driver=run.driver, note="", now=handover)
            moment = handover


def demo_day_moments(day: date) -> tuple[datetime, datetime]:
    """When the demo's vans leave and the leaders sign on `day` (for tests)."""
    return local_datetime(day, DEPART_AT), local_datetime(day, SIGNED_BY)
