"""Logistics in the Django admin: the fleet and routes operators edit, and the waves,
runs, purchase orders and stock the services write (read-only here, changed only
through actions that call those services).

- Routes: stops inline (ordered, pickup points by autocomplete). A pickup point
  is on one route at a time: adding one that is on another route is refused
  with a sentence naming that route; move it by changing the stop's route
  (route stops list) or by removing it there first.
- Waves: read-only, with their problems, links to the warehouse page and the
  documents, and the action 重新生成波次 (the wave task, after commit).
- Purchase orders: lines inline (editable while a draft), actions 发送给供应商 /
  取消 through logistics.services.purchasing; receiving is on the purchasing page.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import IntegrityError
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from catalog.models import StorageClass
from tuangou.money import ZERO, format_yuan
from tuangou.outbox import publish_on_commit
from tuangou.statemachine import IllegalTransition

from .documents import data as document_data
from .models import (
    DeliveryRun,
    Driver,
    InventoryItem,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseStatus,
    Route,
    RouteStop,
    RunStatus,
    RunStop,
    ShortageCut,
    UncollectedDisposal,
    Vehicle,
    Wave,
    WaveDemand,
    WaveStatus,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by services: looked at here, never edited, added or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _kg(grams: int) -> str:
    return f"{document_data.kilograms(grams)}"


# --- fleet and routes -------------------------------------------------------------------


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = (
        "plate",
        "warehouse",
        "capacity_kg",
        "capacity_crates",
        "is_cold_chain",
        "is_active",
    )
    list_filter = ("warehouse", "is_cold_chain", "is_active")
    search_fields = ("plate",)
    list_select_related = ("warehouse",)


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ("name", "phone", "warehouse", "user", "is_active")
    list_filter = ("warehouse", "is_active")
    search_fields = ("name", "phone", "user__phone", "user__nickname")
    autocomplete_fields = ("user",)
    list_select_related = ("warehouse", "user")


def point_route_conflict(*, pickup_point, route, stop_id: int | None = None) -> str | None:
    """The sentence for a pickup point already on another route (None when it is free).
    `stop_id`: the stop being edited (moving it to another route is not a conflict)."""
    if pickup_point is None:
        return None
    other = (
        RouteStop.objects.filter(pickup_point=pickup_point)
        .exclude(pk=stop_id)
        .exclude(route_id=getattr(route, "pk", None))
        .select_related("route")
        .first()
    )
    if other is None:
        return None
    return gettext(
        "Pickup point %(point)s is already on route %(route)s: a point is on one route at "
        "a time. Remove it from that route first, or change its route in the route stops list."
    ) % {"point": pickup_point.name, "route": str(other.route)}


class RouteStopForm(forms.ModelForm):
    """A stop: the point must not be on another route (the unique constraint, said clearly)."""

    class Meta:
        model = RouteStop
        fields = ("route", "pickup_point", "position")

    def validate_unique(self):
        # The one-route rule is checked in clean() with a sentence that names the
        # other route; Django's generic "already exists" would say less.
        exclude = self._get_validation_exclusions()
        exclude.add("pickup_point")
        try:
            self.instance.validate_unique(exclude=exclude)
        except forms.ValidationError as exc:
            self._update_errors(exc)

    def clean(self):
        cleaned = super().clean()
        route = cleaned.get("route") or getattr(self.instance, "route", None)
        point = cleaned.get("pickup_point")
        conflict = point_route_conflict(pickup_point=point, route=route, stop_id=self.instance.pk)
        if conflict:
            self.add_error("pickup_point", conflict)
        elif point is not None and route is not None and point.warehouse_id != route.warehouse_id:
            self.add_error(
                "pickup_point",
                gettext("Pickup point %(point)s is served by another warehouse.")
                % {"point": point.name},
            )
        return cleaned


class OneRoutePerPointMixin:
    """Two operators putting the same point on two routes at the same moment both pass
    the form check; the unique constraint stops the second. Say so, not a 500."""

    def _one_route_per_point(self, request, view):
        try:
            return view()
        except IntegrityError as exc:
            if "logistics_routestop_pickup_point" not in str(exc):
                raise
            self.message_user(
                request,
                gettext(
                    "Someone else just put one of these pickup points on a route: nothing "
                    "was saved. Check the route stops and try again."
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._one_route_per_point(
            request,
            lambda: super(OneRoutePerPointMixin, self).changeform_view(
                request, object_id, form_url, extra_context
            ),
        )

    def changelist_view(self, request, extra_context=None):
        return self._one_route_per_point(
            request,
            lambda: super(OneRoutePerPointMixin, self).changelist_view(request, extra_context),
        )


class RouteStopInline(admin.TabularInline):
    model = RouteStop
    form = RouteStopForm
    fields = ("position", "pickup_point")
    autocomplete_fields = ("pickup_point",)
    ordering = ("position", "pk")
    extra = 1


@admin.register(Route)
class RouteAdmin(OneRoutePerPointMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "warehouse",
        "vehicle",
        "default_driver",
        "departure_time",
        "stop_count",
        "cost_per_run",
        "is_active",
    )
    list_filter = ("warehouse", "is_active", ("vehicle", admin.EmptyFieldListFilter))
    search_fields = ("code", "name", "stops__pickup_point__name")
    autocomplete_fields = ("vehicle", "default_driver")
    list_select_related = ("warehouse", "vehicle", "default_driver")
    inlines = [RouteStopInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_stops=Count("stops", distinct=True))

    @admin.display(description=_("stops"), ordering="_stops")
    def stop_count(self, obj: Route) -> int:
        return obj._stops

    def get_search_results(self, request, queryset, search_term):
        queryset, _dups = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False


@admin.register(RouteStop)
class RouteStopAdmin(OneRoutePerPointMixin, admin.ModelAdmin):
    """Every stop in one list: change a stop's route here to move its pickup point."""

    form = RouteStopForm
    list_display = ("pickup_point", "route", "position", "warehouse")
    list_editable = ("route", "position")
    list_filter = ("route__warehouse", "route")
    search_fields = ("pickup_point__name", "pickup_point__address", "route__code", "route__name")
    autocomplete_fields = ("route", "pickup_point")
    list_select_related = ("route", "route__warehouse", "pickup_point")
    ordering = ("route__code", "position", "pk")

    @admin.display(description=_("warehouse"), ordering="route__warehouse")
    def warehouse(self, obj: RouteStop) -> str:
        return str(obj.route.warehouse)


# --- waves ------------------------------------------------------------------------------


def _doc_link(wave: Wave, kind: str, fmt: str, label: str, **params) -> tuple[str, str]:
    url = reverse("logistics:wave_document", args=[wave.pk, kind, fmt])
    if params:
        url += "?" + urlencode(params)
    return url, label


def wave_document_links(wave: Wave) -> list[tuple[str, str]]:
    """(url, label) of every document of a finished wave, for the admin and the page."""
    if wave.status != WaveStatus.DONE:
        return []
    picking = pgettext("warehouse", "Picking list")
    links = [_doc_link(wave, "picking", "pdf", f"{picking} PDF")]
    for storage in document_data.storage_classes(wave=wave):
        label = _storage_label(storage)
        links.append(_doc_link(wave, "picking", "pdf", f"{picking} · {label}", storage=storage))
    links.append(_doc_link(wave, "picking", "xlsx", f"{picking} Excel"))
    links.append(
        _doc_link(wave, "packing", "xlsx", f"{pgettext('warehouse', 'Packing list')} Excel")
    )
    for run in wave.runs.select_related("route").order_by("route__code"):
        code = run.route.code
        links += [
            _doc_link(
                wave,
                "packing",
                "pdf",
                f"{code} {pgettext('warehouse', 'Packing list')}",
                route=run.route_id,
            ),
            _doc_link(
                wave,
                "labels",
                "pdf",
                f"{code} {pgettext('warehouse', 'Bag labels')}",
                route=run.route_id,
            ),
            _doc_link(
                wave, "runsheet", "pdf", f"{code} {pgettext('warehouse', 'Run sheet')}", run=run.pk
            ),
        ]
    return links


def _storage_label(value: str) -> str:
    return str(StorageClass(value).label) if value in StorageClass.values else value


class WaveDemandInline(ReadOnlyInline):
    """What the warehouse must have by morning, per SKU (a few hundred rows)."""

    model = WaveDemand
    fields = ("sku", "storage", "quantity", "weight_kg")
    readonly_fields = fields
    ordering = ("storage_class", "sku__product__name")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sku__product")

    @admin.display(description=_("storage"))
    def storage(self, obj: WaveDemand) -> str:
        return _storage_label(obj.storage_class)

    @admin.display(description=_("weight (kg)"))
    def weight_kg(self, obj: WaveDemand) -> str:
        return _kg(obj.weight_grams)


class WaveRunInline(ReadOnlyInline):
    model = DeliveryRun
    fields = ("route", "status", "driver", "vehicle", "crates", "planned_departure")
    readonly_fields = fields
    show_change_link = True
    ordering = ("route__code",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("route", "driver", "vehicle")


class WavePurchaseOrderInline(ReadOnlyInline):
    model = PurchaseOrder
    fields = ("number", "supplier", "status", "sent_at", "received_at")
    readonly_fields = fields
    show_change_link = True
    ordering = ("supplier__name",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supplier")


@admin.register(Wave)
class WaveAdmin(ReadOnlyAdmin):
    list_display = (
        "delivery_date",
        "warehouse",
        "status",
        "progress_percent",
        "order_count",
        "line_count",
        "unit_count",
        "problem_count",
        "finished_at",
    )
    list_filter = ("status", "warehouse", "delivery_date")
    search_fields = ("warehouse__name", "warehouse__city")
    date_hierarchy = "delivery_date"
    list_select_related = ("warehouse",)
    actions = ["rerun_waves"]
    inlines = [WaveRunInline, WavePurchaseOrderInline, WaveDemandInline]
    fields = (
        "warehouse",
        "delivery_date",
        "status",
        "progress_percent",
        "started_at",
        "closed_at",
        "finished_at",
        "unrouted_issued_at",
        "started_by",
        "order_count",
        "line_count",
        "unit_count",
        "problem_list",
        "error",
        "warehouse_page",
        "documents",
    )
    readonly_fields = fields

    def has_change_permission(self, request, obj=None) -> bool:
        # The change page is a read-only view; the action needs change_wave.
        return request.user.has_perm("logistics.change_wave") if obj is None else False

    @admin.display(description=_("progress (%)"), ordering="progress")
    def progress_percent(self, obj: Wave) -> str:
        return f"{obj.progress}%"

    @admin.display(description=_("problems"))
    def problem_count(self, obj: Wave) -> int:
        return len(obj.problems or [])

    @admin.display(description=_("problems"))
    def problem_list(self, obj: Wave) -> str:
        from .views.warehouse import describe_problem

        problems = [describe_problem(p) for p in obj.problems or []]
        if not problems:
            return "—"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in problems))
        )

    @admin.display(description=_("warehouse page"))
    def warehouse_page(self, obj: Wave) -> str:
        url = (
            reverse("logistics:warehouse_day")
            + "?"
            + urlencode({"warehouse": obj.warehouse_id, "date": obj.delivery_date.isoformat()})
        )
        return format_html('<a href="{}">{}</a>', url, gettext("Open the warehouse day"))

    @admin.display(description=_("documents"))
    def documents(self, obj: Wave) -> str:
        links = wave_document_links(obj)
        if not links:
            return gettext("The documents are ready when the wave is done.")
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a></li>', links)
        )

    @admin.action(
        description=pgettext_lazy("admin action", "Rerun the wave"), permissions=["change"]
    )
    def rerun_waves(self, request, queryset):
        """重新生成波次: the wave task rebuilds each selected wave on a worker (after commit).
        A wave that is running, or whose runs have left, is skipped with the reason."""
        from .tasks import run_wave_task

        started = 0
        for wave in queryset.select_related("warehouse").order_by("pk"):
            if wave.status == WaveStatus.RUNNING:
                self.message_user(
                    request,
                    gettext("%(wave)s is running already; wait for it to finish.") % {"wave": wave},
                    messages.WARNING,
                )
                continue
            if wave.unrouted_issued_at or wave.runs.exclude(status=RunStatus.PLANNED).exists():
                self.message_user(
                    request,
                    gettext("%(wave)s cannot be rebuilt: a delivery run has left the warehouse.")
                    % {"wave": wave},
                    messages.ERROR,
                )
                continue
            warehouse_id, day = wave.warehouse_id, wave.delivery_date.isoformat()
            publish_on_commit(run_wave_task, warehouse_id, day)
            started += 1
        if started:
            self.message_user(
                request,
                ngettext("%(n)d wave is being rebuilt.", "%(n)d waves are being rebuilt.", started)
                % {"n": started},
                messages.SUCCESS,
            )


# --- delivery runs ----------------------------------------------------------------------


class RunStopInline(ReadOnlyInline):
    model = RunStop
    fields = (
        "position",
        "pickup_point",
        "status",
        "order_count",
        "crates",
        "weight_kg",
        "planned_arrival",
        "due_at",
        "arrived_at",
        "handed_over_at",
        "exception",
        "note",
        "photo_link",
    )
    readonly_fields = fields
    ordering = ("position",)

    @admin.display(description=_("weight (kg)"))
    def weight_kg(self, obj: RunStop) -> str:
        return _kg(obj.weight_grams)

    @admin.display(description=_("photo"))
    def photo_link(self, obj: RunStop) -> str:
        # The photo is private: linked through its checked view, never a media URL.
        if not obj.photo:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("logistics:stop_photo", args=[obj.pk]), gettext("View")
        )


class DeliveryRunForm(forms.ModelForm):
    """Only who drives and in what may change, and only before the run leaves."""

    class Meta:
        model = DeliveryRun
        fields = ("driver", "vehicle")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.instance.status != RunStatus.PLANNED and self.changed_data:
            raise forms.ValidationError(
                gettext("This run has left the warehouse: its driver and vehicle are final.")
            )
        warehouse_id = self.instance.route.warehouse_id if self.instance.pk else None
        for name in ("driver", "vehicle"):
            value = cleaned.get(name)
            if value is not None and warehouse_id and value.warehouse_id != warehouse_id:
                self.add_error(name, gettext("Choose one of this warehouse's."))
        return cleaned


@admin.register(DeliveryRun)
class DeliveryRunAdmin(admin.ModelAdmin):
    form = DeliveryRunForm
    list_display = (
        "route",
        "delivery_date",
        "status",
        "driver",
        "vehicle",
        "stop_count",
        "crates",
        "weight_kg",
        "planned_departure",
        "departed_at",
        "finished_at",
    )
    list_filter = ("status", "delivery_date", "route__warehouse", "route", "driver")
    search_fields = ("route__code", "route__name", "driver__name", "vehicle__plate")
    date_hierarchy = "delivery_date"
    list_select_related = ("route", "driver", "vehicle")
    autocomplete_fields = ("driver", "vehicle")
    readonly_fields = (
        "wave_link",
        "route",
        "delivery_date",
        "status",
        "planned_departure",
        "departed_at",
        "finished_at",
        "crates",
        "weight_kg",
        "planned_distance_km",
        "actual_distance_km",
        "optimised_by",
        "run_sheet",
    )
    fields = ("driver", "vehicle", *readonly_fields)
    inlines = [RunStopInline]

    def has_add_permission(self, request) -> bool:
        return False  # the wave makes runs

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != RunStatus.PLANNED:
            return ("driver", "vehicle", *self.readonly_fields)
        return self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_stops=Count("stops"))

    @admin.display(description=_("stops"), ordering="_stops")
    def stop_count(self, obj: DeliveryRun) -> int:
        return obj._stops

    @admin.display(description=_("weight (kg)"), ordering="weight_grams")
    def weight_kg(self, obj: DeliveryRun) -> str:
        return _kg(obj.weight_grams)

    @admin.display(description=_("cutoff wave"))
    def wave_link(self, obj: DeliveryRun) -> str:
        url = reverse("admin:logistics_wave_change", args=[obj.wave_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.wave))

    @admin.display(description=_("run sheet"))
    def run_sheet(self, obj: DeliveryRun) -> str:
        url = reverse("logistics:wave_document", args=[obj.wave_id, "runsheet", "pdf"])
        return format_html('<a href="{}?run={}">PDF</a>', url, obj.pk)


# --- purchasing -------------------------------------------------------------------------


class PurchaseOrderLineForm(forms.ModelForm):
    class Meta:
        model = PurchaseOrderLine
        fields = ("quantity", "unit_cost")

    def clean_unit_cost(self):
        cost = self.cleaned_data.get("unit_cost")
        if cost is not None and cost < 0:
            raise forms.ValidationError(gettext("The unit cost cannot be negative."))
        return cost


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    form = PurchaseOrderLineForm
    fields = ("sku", "demand", "on_hand", "quantity", "unit_cost", "received_quantity")
    readonly_fields = ("sku", "demand", "on_hand", "received_quantity")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the wave drafts the lines

    def get_readonly_fields(self, request, obj=None):
        if obj is None or obj.status != PurchaseStatus.DRAFT:
            return self.fields  # sent to the supplier: what was ordered is final
        return self.readonly_fields


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "supplier",
        "warehouse",
        "delivery_date",
        "status",
        "line_total",
        "cost_total",
        "sent_at",
        "received_at",
    )
    list_filter = ("status", "warehouse", "supplier", "delivery_date")
    search_fields = ("number", "supplier__name", "lines__sku__product__name")
    date_hierarchy = "delivery_date"
    list_select_related = ("supplier", "warehouse")
    inlines = [PurchaseOrderLineInline]
    actions = ["send_selected", "cancel_selected"]
    fields = (
        "number",
        "supplier",
        "warehouse",
        "delivery_date",
        "wave",
        "status",
        "note",
        "created_at",
        "sent_at",
        "received_at",
        "receiving",
    )
    readonly_fields = (
        "number",
        "supplier",
        "warehouse",
        "delivery_date",
        "wave",
        "status",
        "created_at",
        "sent_at",
        "received_at",
        "receiving",
    )

    def has_add_permission(self, request) -> bool:
        return False  # the wave drafts purchase orders

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # cancel instead: the history stays

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_lines=Count("lines", distinct=True))

    def get_search_results(self, request, queryset, search_term):
        queryset, _dups = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False

    @admin.display(description=_("lines"), ordering="_lines")
    def line_total(self, obj: PurchaseOrder) -> int:
        return obj._lines

    @admin.display(description=_("cost"))
    def cost_total(self, obj: PurchaseOrder) -> str:
        from django.db.models import DecimalField, ExpressionWrapper, F

        total = obj.lines.aggregate(
            total=Sum(
                ExpressionWrapper(
                    F("quantity") * F("unit_cost"),
                    output_field=DecimalField(max_digits=14, decimal_places=2),
                )
            )
        )["total"]
        return format_yuan(total or ZERO)

    @admin.display(description=_("receiving"))
    def receiving(self, obj: PurchaseOrder) -> str:
        url = reverse("logistics:purchase_order", args=[obj.number])
        return format_html('<a href="{}">{}</a>', url, gettext("Open on the purchasing page"))

    def _apply(self, request, queryset, service, done_text):
        from .services.purchasing import PurchasingError

        done = 0
        for po in queryset.order_by("pk"):
            try:
                service(purchase_order=po, actor=request.user)
            except (PurchasingError, IllegalTransition) as exc:
                self.message_user(request, f"{po.number}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_text(done), messages.SUCCESS)

    @admin.action(
        description=pgettext_lazy("admin action", "Send to the supplier"), permissions=["change"]
    )
    def send_selected(self, request, queryset):
        from .services.purchasing import send_purchase_order

        self._apply(
            request,
            queryset,
            send_purchase_order,
            lambda n: (
                ngettext("%(n)d purchase order sent.", "%(n)d purchase orders sent.", n) % {"n": n}
            ),
        )

    @admin.action(description=pgettext_lazy("admin action", "Cancel"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        from .services.purchasing import cancel_purchase_order

        self._apply(
            request,
            queryset,
            cancel_purchase_order,
            lambda n: (
                ngettext("%(n)d purchase order cancelled.", "%(n)d purchase orders cancelled.", n)
                % {"n": n}
            ),
        )


# --- stock and what the services recorded ---------------------------------------------


@admin.register(InventoryItem)
class InventoryItemAdmin(ReadOnlyAdmin):
    """Stock on the floor changes by receiving and returns (services), never by hand."""

    list_display = ("sku", "warehouse", "on_hand", "updated_at")
    list_filter = ("warehouse",)
    search_fields = ("sku__product__name", "sku__code", "sku__barcode")
    list_select_related = ("sku__product", "warehouse")


@admin.register(ShortageCut)
class ShortageCutAdmin(ReadOnlyAdmin):
    list_display = ("purchase_order", "sku", "units", "refund_count", "created_at")
    list_filter = ("purchase_order_line__purchase_order__warehouse", "created_at")
    search_fields = (
        "purchase_order_line__purchase_order__number",
        "purchase_order_line__sku__product__name",
    )
    list_select_related = (
        "purchase_order_line__purchase_order",
        "purchase_order_line__sku__product",
    )
    fields = ("purchase_order_line", "units", "refunds", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_refunds=Count("refunds"))

    @admin.display(description=_("purchase order"), ordering="purchase_order_line__purchase_order")
    def purchase_order(self, obj: ShortageCut) -> str:
        return obj.purchase_order_line.purchase_order.number

    @admin.display(description=_("SKU"))
    def sku(self, obj: ShortageCut) -> str:
        return str(obj.purchase_order_line.sku)

    @admin.display(description=_("refunds"), ordering="_refunds")
    def refund_count(self, obj: ShortageCut) -> int:
        return obj._refunds


@admin.register(UncollectedDisposal)
class UncollectedDisposalAdmin(ReadOnlyAdmin):
    list_display = (
        "order_number",
        "product",
        "action",
        "quantity",
        "refund",
        "created_at",
        "leader_told_at",
        "collected_at",
    )
    list_filter = ("action", "created_at")
    search_fields = ("order_line__order__number", "order_line__product_name")
    list_select_related = ("order_line__order", "refund")

    @admin.display(description=_("order"), ordering="order_line__order__number")
    def order_number(self, obj: UncollectedDisposal) -> str:
        return obj.order_line.order.number

    @admin.display(description=_("product"))
    def product(self, obj: UncollectedDisposal) -> str:
        return f"{obj.order_line.product_name} {obj.order_line.spec}"
