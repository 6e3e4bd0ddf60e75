"""Logistics: routes from a warehouse to pickup points, the nightly cutoff wave,
purchase orders and receiving, delivery runs and their stops, drivers.

State changes live in logistics/services/; the transition tables of every
status are here, next to the field they guard, and checked by
`tuangou.statemachine.guard`.

The wave tables (WaveLine, WaveDemand, PickItem, PackItem, WaveLabel) are
written set-based by the wave service (INSERT … SELECT … GROUP BY): they are
snapshots of one night, so their foreign keys to orders are plain columns
where a constraint would only slow a million-row insert (db_constraint=False).
On the three big ones (WaveLine, PackItem, WaveLabel) the wave key is plain
too (the ORM still cascades a wave's deletion), and they carry only the
indexes their readers use, all led by the wave: every extra index cost
seconds per million lines in the cutoff benchmark (logistics/README.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.private_files import PrivateName, private_storage

# The project's one status guard (re-exported: services import it from here).
from tuangou.statemachine import IllegalTransition, guard  # noqa: F401

# --- fleet and routes -----------------------------------------------------------------


class Vehicle(models.Model):
    """A van of a warehouse: what it can carry and whether it keeps the cold chain."""

    warehouse = models.ForeignKey(
        "catalog.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="vehicles",
    )
    plate = models.CharField(_("plate number"), max_length=16, unique=True)
    capacity_kg = models.PositiveIntegerField(_("capacity (kg)"))
    capacity_crates = models.PositiveIntegerField(_("capacity (crates)"))
    is_cold_chain = models.BooleanField(_("cold chain"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        ordering = ["warehouse", "plate"]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity_kg__gte=1) & Q(capacity_crates__gte=1),
                name="logistics_vehicle_capacity_positive",
            )
        ]

    def __str__(self) -> str:
        return self.plate


class Driver(models.Model):
    """A 配送员: a user with the drivers role, attached to one warehouse."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="driver",
    )
    warehouse = models.ForeignKey(
        "catalog.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="drivers",
    )
    name = models.CharField(_("name"), max_length=30)
    phone = models.CharField(_("phone"), max_length=20)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("driver")
        verbose_name_plural = _("drivers")
        ordering = ["warehouse", "name"]

    def __str__(self) -> str:
        return self.name


class Route(models.Model):
    """A fixed delivery route of a warehouse: an ordered list of pickup points."""

    warehouse = models.ForeignKey(
        "catalog.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="routes",
    )
    code = models.CharField(_("route code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    # A route without a vehicle cannot go out: the wave lists it as a problem.
    vehicle = models.ForeignKey(
        Vehicle,
        verbose_name=_("vehicle"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routes",
    )
    default_driver = models.ForeignKey(
        Driver,
        verbose_name=_("default driver"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routes",
    )
    departure_time = models.TimeField(_("planned departure"))
    # What one run of this route costs (van, fuel, driver): cost per order.
    cost_per_run = models.DecimalField(
        _("cost per run (¥)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        ordering = ["warehouse", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RouteStop(models.Model):
    """A pickup point on a route. A point is on one route at a time (unique)."""

    route = models.ForeignKey(
        Route, verbose_name=_("route"), on_delete=models.CASCADE, related_name="stops"
    )
    pickup_point = models.OneToOneField(
        "leaders.PickupPoint",
        verbose_name=_("pickup point"),
        on_delete=models.CASCADE,
        related_name="route_stop",
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("route stop")
        verbose_name_plural = _("route stops")
        ordering = ["route", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.route.code} #{self.position}"


# --- warehouse stock on hand ----------------------------------------------------------


class InventoryItem(models.Model):
    """Physical stock on the warehouse floor (not the shoppers' sellable stock)."""

    warehouse = models.ForeignKey(
        "catalog.Warehouse", verbose_name=_("warehouse"), on_delete=models.CASCADE
    )
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.CASCADE)
    on_hand = models.IntegerField(_("on hand"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("inventory item")
        verbose_name_plural = _("inventory")
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "sku"], name="logistics_inventory_unique"),
            models.CheckConstraint(
                condition=Q(on_hand__gte=0), name="logistics_inventory_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id}@{self.warehouse_id}: {self.on_hand}"


# --- the cutoff wave ------------------------------------------------------------------


class WaveStatus(models.TextChoices):
    RUNNING = "running", pgettext_lazy("wave status", "Running")  # a worker is writing it
    DONE = "done", pgettext_lazy("wave status", "Done")  # documents ready
    FAILED = "failed", pgettext_lazy("wave status", "Failed")  # see error; may be rerun


WAVE_TRANSITIONS = {
    WaveStatus.RUNNING: {WaveStatus.DONE, WaveStatus.FAILED},
    WaveStatus.DONE: {WaveStatus.RUNNING},  # a rerun rebuilds the same documents
    WaveStatus.FAILED: {WaveStatus.RUNNING},
}


class Wave(models.Model):
    """One warehouse's cutoff for one delivery date (unique): the frozen demand."""

    warehouse = models.ForeignKey(
        "catalog.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="waves",
    )
    delivery_date = models.DateField(_("delivery date"))
    status = models.CharField(
        _("status"), max_length=10, choices=WaveStatus.choices, default=WaveStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Orders confirmed up to this moment are in the wave; later ones roll to the next day.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    line_count = models.PositiveIntegerField(_("order lines"), default=0)
    unit_count = models.PositiveIntegerField(_("units"), default=0)
    # Pickup points with orders that are on no route (and routes without a vehicle).
    problems = models.JSONField(_("problems"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    # When the 06:00 dispatch took the goods packed for points on no route
    # off the warehouse's stock (once: compare-and-set; the wave is then
    # locked like one whose run has left).
    unrouted_issued_at = models.DateTimeField(_("goods on no route left at"), null=True, blank=True)

    class Meta:
        verbose_name = _("cutoff wave")
        verbose_name_plural = _("cutoff waves")
        ordering = ["-delivery_date", "warehouse"]
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "delivery_date"], name="logistics_wave_one_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.warehouse} {self.delivery_date:%Y-%m-%d}"


class WaveLine(models.Model):
    """One order line frozen into a wave (a snapshot: plain ids, no constraints)."""

    wave = models.ForeignKey(
        Wave,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="lines",
    )
    order_line = models.ForeignKey(
        "orders.OrderLine",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    route = models.ForeignKey(
        Route,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    sku = models.ForeignKey(
        "catalog.Sku",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("wave line")
        verbose_name_plural = _("wave lines")
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "order_line"], name="logistics_waveline_once_per_wave"
            )
        ]
        indexes = [
            models.Index(fields=["wave", "pickup_point", "user"]),
            models.Index(fields=["wave", "sku"], name="logistics_waveline_wave_sku"),
        ]

    def __str__(self) -> str:
        return f"{self.wave_id}: {self.sku_id} × {self.quantity}"


class WaveDemand(models.Model):
    """Demand per SKU in a wave: what the warehouse must have by morning."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="demand")
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.PROTECT)
    storage_class = models.CharField(_("storage"), max_length=10)
    quantity = models.PositiveIntegerField(_("quantity"))
    weight_grams = models.PositiveBigIntegerField(_("weight (g)"), default=0)

    class Meta:
        verbose_name = _("demand")
        verbose_name_plural = _("demand")
        constraints = [
            models.UniqueConstraint(fields=["wave", "sku"], name="logistics_demand_one_per_sku")
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} × {self.quantity}"


class PickItem(models.Model):
    """A line of a picking list (one list per storage class), sorted for walking."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="pick_items")
    storage_class = models.CharField(_("storage"), max_length=10)
    sequence = models.PositiveIntegerField(_("walk order"))
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.PROTECT)
    bin_location = models.CharField(_("bin"), max_length=20, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    picked_quantity = models.PositiveIntegerField(_("picked"), null=True, blank=True)

    class Meta:
        verbose_name = _("pick item")
        verbose_name_plural = _("pick items")
        ordering = ["wave", "storage_class", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "storage_class", "sku"], name="logistics_pick_one_per_sku"
            )
        ]

    def __str__(self) -> str:
        return f"{self.storage_class} #{self.sequence}"


class PackItem(models.Model):
    """A line of a packing list: units of one SKU for one pickup point of a route."""

    wave = models.ForeignKey(
        Wave,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="pack_items",
    )
    route = models.ForeignKey(
        Route,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    sku = models.ForeignKey(
        "catalog.Sku",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    is_packed = models.BooleanField(_("packed"), default=False)

    class Meta:
        verbose_name = _("pack item")
        verbose_name_plural = _("pack items")
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "pickup_point", "sku"], name="logistics_pack_one_per_point_sku"
            )
        ]
        indexes = [models.Index(fields=["wave", "route", "pickup_point"])]

    def __str__(self) -> str:
        return f"{self.pickup_point_id}: {self.sku_id} × {self.quantity}"


class WaveLabel(models.Model):
    """One bag label: a shopper's goods at one pickup point for the wave's day."""

    wave = models.ForeignKey(
        Wave,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="labels",
    )
    route = models.ForeignKey(
        Route,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    pickup_code = models.CharField(_("pickup code"), max_length=8)
    masked_phone = models.CharField(_("phone"), max_length=20, blank=True)
    line_count = models.PositiveIntegerField(_("lines"))
    unit_count = models.PositiveIntegerField(_("units"))

    class Meta:
        verbose_name = _("bag label")
        verbose_name_plural = _("bag labels")
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "pickup_point", "user"], name="logistics_label_one_per_shopper"
            )
        ]
        indexes = [models.Index(fields=["wave", "route", "pickup_point"])]

    def __str__(self) -> str:
        return f"{self.pickup_point_id}/{self.pickup_code}"


# --- delivery runs --------------------------------------------------------------------


class RunStatus(models.TextChoices):
    PLANNED = "planned", pgettext_lazy("run status", "Planned")  # made by the wave
    DEPARTED = "departed", pgettext_lazy("run status", "On the road")  # left the warehouse
    FINISHED = "finished", pgettext_lazy("run status", "Finished")  # every stop handed over
    CANCELLED = "cancelled", pgettext_lazy("run status", "Cancelled")  # nothing to deliver


RUN_TRANSITIONS = {
    RunStatus.PLANNED: {RunStatus.DEPARTED, RunStatus.CANCELLED},
    RunStatus.DEPARTED: {RunStatus.FINISHED},
}


class DeliveryRun(models.Model):
    """One route driven on one delivery date, made by the wave."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="runs")
    route = models.ForeignKey(
        Route, verbose_name=_("route"), on_delete=models.PROTECT, related_name="runs"
    )
    delivery_date = models.DateField(_("delivery date"))
    vehicle = models.ForeignKey(
        Vehicle,
        verbose_name=_("vehicle"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="runs",
    )
    driver = models.ForeignKey(
        Driver,
        verbose_name=_("driver"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="runs",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.PLANNED
    )
    planned_departure = models.DateTimeField(_("planned departure"))
    departed_at = models.DateTimeField(_("departed at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    crates = models.PositiveIntegerField(_("crates"), default=0)
    weight_grams = models.PositiveBigIntegerField(_("weight (g)"), default=0)
    planned_distance_km = models.DecimalField(
        _("planned distance (km)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    actual_distance_km = models.DecimalField(
        _("actual distance (km)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    # Set when a solver ordered the stops ("vroom", or "" for the route's own order).
    optimised_by = models.CharField(_("optimised by"), max_length=20, blank=True)
    # Why the stops kept the route's order (no coordinates, no feasible plan, …).
    plan_note = models.CharField(_("planning note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("delivery run")
        verbose_name_plural = _("delivery runs")
        ordering = ["-delivery_date", "route"]
        constraints = [
            models.UniqueConstraint(
                fields=["route", "delivery_date"], name="logistics_run_one_per_route_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.route.code} {self.delivery_date:%m-%d}"


class StopStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("stop status", "Pending")  # not reached yet
    ARRIVED = "arrived", pgettext_lazy("stop status", "Arrived")  # the van is at the point
    HANDED_OVER = "handed_over", pgettext_lazy("stop status", "Handed over")  # goods left
    FAILED = "failed", pgettext_lazy("stop status", "Not delivered")  # an exception stopped it


STOP_TRANSITIONS = {
    StopStatus.PENDING: {StopStatus.ARRIVED, StopStatus.FAILED},
    StopStatus.ARRIVED: {StopStatus.HANDED_OVER, StopStatus.FAILED},
}


class StopException(models.TextChoices):
    POINT_CLOSED = "point_closed", _("Pickup point closed")  # 自提点关门
    LEADER_ABSENT = "leader_absent", _("Leader not there")  # 团长不在
    DAMAGED = "damaged", _("Goods damaged")  # 货物破损
    OTHER = "other", _("Other")


class RunStop(models.Model):
    """A pickup point in a run, in driving order, with what is unloaded there."""

    run = models.ForeignKey(DeliveryRun, on_delete=models.CASCADE, related_name="stops")
    pickup_point = models.ForeignKey(
        "leaders.PickupPoint",
        verbose_name=_("pickup point"),
        on_delete=models.PROTECT,
        related_name="run_stops",
    )
    position = models.PositiveIntegerField(_("position"))
    status = models.CharField(
        _("status"), max_length=12, choices=StopStatus.choices, default=StopStatus.PENDING
    )
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    crates = models.PositiveIntegerField(_("crates"), default=0)
    weight_grams = models.PositiveBigIntegerField(_("weight (g)"), default=0)
    planned_arrival = models.DateTimeField(_("planned arrival"), null=True, blank=True)
    # The point's pickup time on the day: arriving after it is late.
    due_at = models.DateTimeField(_("due by"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    handed_over_at = models.DateTimeField(_("handed over at"), null=True, blank=True)
    exception = models.CharField(
        _("exception"), max_length=16, choices=StopException.choices, blank=True
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    photo = models.ImageField(
        _("photo"),
        storage=private_storage,
        upload_to=PrivateName("handover"),
        blank=True,
    )

    class Meta:
        verbose_name = _("run stop")
        verbose_name_plural = _("run stops")
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "pickup_point"], name="logistics_stop_once"),
        ]

    def __str__(self) -> str:
        return f"{self.run} #{self.position}"


# --- purchasing -----------------------------------------------------------------------


class PurchaseStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("purchase status", "Draft")  # made by the wave, editable
    SENT = "sent", pgettext_lazy("purchase status", "Sent")  # the supplier has it
    PARTLY_RECEIVED = "partly_received", pgettext_lazy("purchase status", "Partly received")
    RECEIVED = "received", pgettext_lazy("purchase status", "Received")  # closed
    CANCELLED = "cancelled", pgettext_lazy("purchase status", "Cancelled")


PURCHASE_TRANSITIONS = {
    PurchaseStatus.DRAFT: {PurchaseStatus.SENT, PurchaseStatus.CANCELLED},
    PurchaseStatus.SENT: {
        PurchaseStatus.PARTLY_RECEIVED,
        PurchaseStatus.RECEIVED,
        PurchaseStatus.CANCELLED,
    },
    PurchaseStatus.PARTLY_RECEIVED: {PurchaseStatus.RECEIVED},
}


class PurchaseOrder(models.Model):
    """集中采购: what one supplier delivers to one warehouse for one delivery date."""

    number = models.CharField(_("purchase order number"), max_length=24, unique=True)
    supplier = models.ForeignKey(
        "catalog.Supplier",
        verbose_name=_("supplier"),
        on_delete=models.PROTECT,
        related_name="purchase_orders",
    )
    warehouse = models.ForeignKey(
        "catalog.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="purchase_orders",
    )
    delivery_date = models.DateField(_("delivery date"))
    wave = models.ForeignKey(
        Wave,
        verbose_name=_("cutoff wave"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="purchase_orders",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PurchaseStatus.choices, default=PurchaseStatus.DRAFT
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        ordering = ["-delivery_date", "supplier"]
        constraints = [
            # The wave writes one PO per supplier and day; reruns update it.
            models.UniqueConstraint(
                fields=["supplier", "warehouse", "delivery_date"],
                condition=~Q(status="cancelled"),
                name="logistics_po_one_open_per_supplier_day",
            )
        ]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    """One SKU on a purchase order: demand, what was ordered, what really arrived."""

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.PROTECT)
    demand = models.PositiveIntegerField(_("demand"))
    on_hand = models.PositiveIntegerField(_("on hand or inbound"), default=0)
    quantity = models.PositiveIntegerField(_("ordered"))  # rounded to case pack and MOQ
    unit_cost = models.DecimalField(_("unit cost (¥)"), max_digits=10, decimal_places=2)
    received_quantity = models.PositiveIntegerField(_("received"), null=True, blank=True)

    class Meta:
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        ordering = ["purchase_order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "sku"], name="logistics_po_line_once")
        ]

    def __str__(self) -> str:
        return f"{self.purchase_order_id}: {self.sku_id} × {self.quantity}"


class ShortageCut(models.Model):
    """Units of a SKU cut from the day's orders after a short delivery (exactly once)."""

    purchase_order_line = models.OneToOneField(
        PurchaseOrderLine,
        verbose_name=_("purchase order line"),
        on_delete=models.PROTECT,
        related_name="cut",
    )
    units = models.PositiveIntegerField(_("units cut"))
    refunds = models.ManyToManyField("orders.Refund", verbose_name=_("refunds"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("shortage cut")
        verbose_name_plural = _("shortage cuts")

    def __str__(self) -> str:
        return f"{self.purchase_order_line_id}: -{self.units}"


# --- uncollected goods ----------------------------------------------------------------


class UncollectedDisposal(models.Model):
    """What happened to an order line nobody collected (refund or return), once per line."""

    class Action(models.TextChoices):
        REFUNDED = "refunded", _("Refunded")  # perishables: money back, goods written off
        RETURNED = "returned", _("Returned to the warehouse")  # shelf-stable goods

    order_line = models.OneToOneField(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="uncollected_disposal"
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    quantity = models.PositiveIntegerField(_("quantity"))
    refund = models.ForeignKey(
        "orders.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Returned goods are still at the point: the leader is told once to set
    # them aside, and the driver of the next run to the point takes them back
    # when handing over there (the stop that collected them, once).
    leader_told_at = models.DateTimeField(_("leader told at"), null=True, blank=True)
    collected_stop = models.ForeignKey(
        RunStop,
        verbose_name=_("collected at stop"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="collected_returns",
    )
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)

    class Meta:
        verbose_name = _("uncollected disposal")
        verbose_name_plural = _("uncollected disposals")

    def __str__(self) -> str:
        return f"{self.order_line_id}: {self.action}"
