"""Operators' screens. Thin: every change goes through catalog.services."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tuangou.timeutils import local_today

from . import selectors, services, sku_services
from .forms import ProductImageForm, StockChangeForm
from .models import (
    Category,
    Product,
    ProductImage,
    ServicePromise,
    Sku,
    StockLedger,
    StockRecord,
    Supplier,
    Warehouse,
)
from .storefront_cache import StorefrontCacheAdmin


def _thumbnail(image: ProductImage | None, size: int = 60):
    if image is None:
        return "—"
    return format_html(
        '<img src="{}" width="{}" height="{}" style="object-fit:cover;border-radius:4px" alt="">',
        image.list_jpg,
        size,
        size,
    )


@admin.register(Warehouse)
class WarehouseAdmin(StorefrontCacheAdmin, admin.ModelAdmin):
    list_display = [
        "name",
        "city",
        "cutoff_time",
        "pickup_time",
        "latitude",
        "longitude",
        "is_default",
        "is_active",
    ]
    list_filter = ["city", "is_active"]
    search_fields = ["name", "city", "address"]


@admin.register(ServicePromise)
class ServicePromiseAdmin(StorefrontCacheAdmin, admin.ModelAdmin):
    list_display = ["name", "description", "position", "is_active", "where"]
    list_editable = ["position", "is_active"]
    search_fields = ["name", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("categories")

    @admin.display(description=_("categories"))
    def where(self, obj):
        return "、".join(c.name for c in obj.categories.all()) or "—"


@admin.register(Category)
class CategoryAdmin(StorefrontCacheAdmin, admin.ModelAdmin):
    list_display = [
        "name",
        "parent",
        "icon",
        "position",
        "is_active",
        "uncollected_action",
        "promise_names",
    ]
    list_filter = ["is_active", "parent", "promises", "uncollected_action"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["promises"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent").prefetch_related("promises")

    @admin.display(description=_("service promises"))
    def promise_names(self, obj):
        return "、".join(p.name for p in obj.promises.all()) or "—"


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["name", "contact", "phone", "lead_time_days"]
    search_fields = ["name", "contact", "phone"]


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 0
    # Orders, stock and its ledger point at SKUs: switch one off, never delete it.
    can_delete = False
    fields = [
        "spec",
        "price",
        "market_price",
        "cost_price",
        "barcode",
        "weight_grams",
        "bin_location",
        "case_pack",
        "min_order_quantity",
        "per_order_limit",
        "daily_quota",
        "cutoff_time",
        "position",
        "is_active",
    ]


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageForm
    extra = 1
    fields = ["preview", "upload", "alt", "position"]
    readonly_fields = ["preview"]

    @admin.display(description=_("preview"))
    def preview(self, obj):
        return _thumbnail(obj if obj and obj.pk else None, 80)


@admin.register(Product)
class ProductAdmin(StorefrontCacheAdmin, admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "name",
        "category",
        "supplier",
        "storage_class",
        "is_on_shelf",
        "position",
    ]
    list_display_links = ["thumbnail", "name"]
    list_filter = ["category", "supplier", "is_on_shelf", "storage_class", "promises"]
    search_fields = ["name", "subtitle", "code", "skus__barcode", "name_pinyin", "name_initials"]
    list_select_related = ["category", "category__parent", "supplier"]
    # On and off shelf only through the bulk actions (set_on_shelf checks for
    # an active SKU and opens the coming days' stock).
    readonly_fields = ["code", "is_on_shelf", "created_at", "updated_at"]
    inlines = [SkuInline, ProductImageInline]
    filter_horizontal = ["promises"]
    actions = ["put_on_shelf", "take_off_shelf"]
    fieldsets = [
        (None, {"fields": ["name", "subtitle", "category", "supplier", "is_on_shelf", "position"]}),
        (
            _("Details"),
            {
                "fields": [
                    "unit",
                    "origin",
                    "storage_class",
                    "shelf_life_days",
                    "tags",
                    "description",
                ]
            },
        ),
        (
            _("Service promises"),
            {
                "fields": ["promises"],
                "description": _(
                    "Shown on the product page. Leave empty to show the category's promises."
                ),
            },
        ),
        (_("Record"), {"fields": ["code", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("images")

    @admin.display(description=_("picture"))
    def thumbnail(self, obj):
        images = list(obj.images.all())
        return _thumbnail(images[0] if images else None)

    def save_model(self, request, obj, form, change):
        services.save_product(product=obj, actor=request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is Sku:
            return self._save_skus(request, form, formset)
        if formset.model is not ProductImage:
            return super().save_formset(request, form, formset, change)
        # The admin's change message reads these three lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for image_form in formset.forms:
            instance = image_form.instance
            if image_form in formset.deleted_forms:
                if instance.pk:
                    formset.deleted_objects.append(instance)
                    services.delete_product_image(image=instance)
                continue
            if not image_form.has_changed():
                continue
            upload = image_form.cleaned_data.get("upload")
            if upload:
                if instance.pk:
                    services.delete_product_image(image=instance)
                added = services.add_product_image(
                    product=form.instance,
                    upload=upload,
                    alt=image_form.cleaned_data.get("alt", ""),
                    position=image_form.cleaned_data.get("position"),
                )
                formset.new_objects.append(added)
            elif instance.pk:
                formset.changed_objects.append((instance, image_form.changed_data))
                services.update_product_image(
                    image=instance,
                    alt=image_form.cleaned_data.get("alt", ""),
                    position=image_form.cleaned_data.get("position") or 0,
                )

    def _save_skus(self, request, form, formset):
        # Through the service: a new active SKU of an on-shelf product gets its
        # coming days' stock at once.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for sku_form in formset.forms:
            if not sku_form.has_changed():
                continue
            sku = sku_form.save(commit=False)
            is_new = sku.pk is None
            sku.product = form.instance
            sku_services.save_sku(sku=sku, actor=request.user)
            if is_new:
                formset.new_objects.append(sku)
            else:
                formset.changed_objects.append((sku, sku_form.changed_data))

    @admin.action(description=_("Put on shelf"), permissions=["change"])
    def put_on_shelf(self, request, queryset):
        count = services.set_on_shelf(
            product_ids=queryset.values_list("pk", flat=True), is_on_shelf=True, actor=request.user
        )
        self.message_user(
            request,
            ngettext("%(count)d product put on shelf.", "%(count)d products put on shelf.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Take off shelf"), permissions=["change"])
    def take_off_shelf(self, request, queryset):
        count = services.set_on_shelf(
            product_ids=queryset.values_list("pk", flat=True), is_on_shelf=False, actor=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d product taken off shelf.", "%(count)d products taken off shelf.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockRecord)
class StockRecordAdmin(ReadOnlyAdmin):
    """Read-only rows; quantities change on the day view, through the service."""

    list_display = ["sku", "warehouse", "delivery_date", "quantity", "held", "sold", "updated_at"]
    list_filter = ["warehouse", "delivery_date"]
    search_fields = ["sku__product__name", "sku__spec", "sku__code"]
    list_select_related = ["sku__product", "warehouse"]
    date_hierarchy = "delivery_date"
    change_list_template = "catalog/admin/stock_change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.day_view)
        return [path("day/", view, name="catalog_stockrecord_day"), *super().get_urls()]

    def day_view(self, request):
        """Tomorrow's stock (or any coming day) with a quick edit per SKU."""
        if not request.user.has_perm("catalog.change_stockrecord"):
            raise PermissionDenied
        warehouses = list(Warehouse.objects.filter(is_active=True))
        warehouse = next(
            (w for w in warehouses if str(w.pk) == request.GET.get("warehouse")), None
        ) or next((w for w in warehouses if w.is_default), warehouses[0] if warehouses else None)
        try:
            day = date.fromisoformat(request.GET.get("day", ""))
        except ValueError:
            day = local_today() + timedelta(days=1)
        query = urlencode({"warehouse": getattr(warehouse, "pk", ""), "day": day.isoformat()})
        url = f"{reverse('admin:catalog_stockrecord_day')}?{query}"
        if request.method == "POST":
            form = StockChangeForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    record = services.set_stock_quantity(
                        sku=data["sku"],
                        warehouse=data["warehouse"],
                        delivery_date=data["delivery_date"],
                        quantity=data["quantity"],
                        note=data["note"],
                        actor=request.user,
                    )
                except services.CatalogError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(
                        request,
                        _("%(sku)s: %(quantity)d left to sell.")
                        % {"sku": data["sku"], "quantity": record.quantity},
                    )
            else:
                errors = "; ".join(e for errs in form.errors.values() for e in errs)
                messages.error(request, errors)
            return redirect(url)
        rows = selectors.stock_for_day(warehouse=warehouse, delivery_date=day) if warehouse else []
        context = {
            **self.admin_site.each_context(request),
            "title": _("Stock for %(day)s") % {"day": day},
            "opts": self.model._meta,
            "rows": rows,
            "warehouse": warehouse,
            "warehouses": warehouses,
            "day": day,
            "days": [local_today() + timedelta(days=n) for n in (1, 2, 3)],
        }
        return TemplateResponse(request, "catalog/admin/stock_day.html", context)


@admin.register(StockLedger)
class StockLedgerAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "sku",
        "warehouse",
        "delivery_date",
        "delta",
        "reason",
        "reference",
        "note",
        "actor",
    ]
    list_filter = ["reason", "warehouse", "delivery_date"]
    search_fields = ["reference", "note", "sku__product__name", "sku__code"]
    list_select_related = ["sku__product", "warehouse", "actor"]
    date_hierarchy = "created_at"
