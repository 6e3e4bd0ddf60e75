"""Operators' admin for every marketing model. Actions call services; statuses,
counters and the points ledger are never edited by hand.

Flash sales and referrals (M2) have their own classes in admin_flash.py,
imported at the end; any marketing model still unregistered after that gets a
read-only page, so every model has one.
"""

from __future__ import annotations

import importlib
import importlib.util
import uuid

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .admin_flash import stats_link
from .models import (
    Coupon,
    CouponIssueJob,
    CouponKind,
    CouponTemplate,
    PointsAccount,
    PointsEntry,
    PointsKind,
    Promotion,
    PromotionTier,
    ValidityKind,
)
from .services import coupons as coupon_services
from .services import points as points_services
from .services import promotions as promotion_services


class CouponTemplateForm(forms.ModelForm):
    """What each kind and validity needs, said in words (the rules would
    otherwise price a fixed coupon without an amount as nothing)."""

    class Meta:
        model = CouponTemplate
        fields = (
            "name",
            "kind",
            "channel",
            "is_active",
            "is_stackable",
            "amount",
            "percent_off",
            "max_discount",
            "threshold",
            "scope",
            "categories",
            "products",
            "validity",
            "valid_from",
            "valid_until",
            "valid_days",
            "per_user_limit",
            "total_quantity",
        )

    def clean(self):
        data = super().clean()
        kind, validity = data.get("kind"), data.get("validity")
        if kind in {CouponKind.FIXED, CouponKind.NO_THRESHOLD} and not data.get("amount"):
            self.add_error("amount", _("Enter the amount off."))
        if kind == CouponKind.PERCENT and not data.get("percent_off"):
            self.add_error("percent_off", _("Enter the percent off."))
        if kind == CouponKind.NO_THRESHOLD and data.get("threshold"):
            self.add_error("threshold", _("A no-threshold coupon has no minimum spend."))
        if validity == ValidityKind.DAYS_AFTER_ISSUE and not data.get("valid_days"):
            self.add_error("valid_days", _("Enter for how many days a coupon is valid."))
        if validity == ValidityKind.FIXED_DATES:
            start, end = data.get("valid_from"), data.get("valid_until")
            if not start or not end:
                self.add_error("valid_until", _("Enter both dates."))
            elif end <= start:
                self.add_error("valid_until", _("The end must come after the start."))
        return data


@admin.register(CouponTemplate)
class CouponTemplateAdmin(admin.ModelAdmin):
    form = CouponTemplateForm
    list_display = (
        "name",
        "kind",
        "channel",
        "amount",
        "percent_off",
        "threshold",
        "scope",
        "issued",
        "total_quantity",
        "is_stackable",
        "is_active",
        "statistics",
    )
    list_filter = ("channel", "kind", "scope", "is_active", "is_stackable")
    search_fields = ("name",)
    autocomplete_fields = ("categories", "products")
    readonly_fields = ("issued", "created_at")
    actions = ("activate", "deactivate")
    fieldsets = (
        (None, {"fields": ("name", "kind", "channel", "is_active", "is_stackable")}),
        (_("Value"), {"fields": ("amount", "percent_off", "max_discount", "threshold")}),
        (_("Applies to"), {"fields": ("scope", "categories", "products")}),
        (
            _("Validity and quantity"),
            {
                "fields": (
                    "validity",
                    "valid_from",
                    "valid_until",
                    "valid_days",
                    "per_user_limit",
                    "total_quantity",
                    "issued",
                    "created_at",
                )
            },
        ),
    )

    @admin.display(description=_("statistics"))
    def statistics(self, obj):
        return stats_link(f"coupon-{obj.pk}")

    @admin.action(description=_("Activate the selected templates"))
    def activate(self, request, queryset):
        n = sum(coupon_services.set_template_active(template=t, is_active=True) for t in queryset)
        self.message_user(request, _("%(n)d activated.") % {"n": n}, messages.SUCCESS)

    @admin.action(description=_("Stop issuing the selected templates"))
    def deactivate(self, request, queryset):
        n = sum(coupon_services.set_template_active(template=t, is_active=False) for t in queryset)
        self.message_user(request, _("%(n)d stopped.") % {"n": n}, messages.SUCCESS)


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "template",
        "user",
        "status",
        "channel",
        "valid_until",
        "order",
        "discount",
    )
    list_filter = ("status", "channel", "template")
    search_fields = ("code", "user__phone", "user__nickname", "template__name")
    list_select_related = ("template", "user", "order")
    readonly_fields = [f.name for f in Coupon._meta.fields]
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False  # coupons are issued by services (claim, jobs, rewards)

    @admin.action(description=_("Revoke the selected unused coupons"))
    def revoke(self, request, queryset):
        n = sum(coupon_services.revoke_coupon(coupon=c, note="admin") for c in queryset)
        self.message_user(request, _("%(n)d revoked.") % {"n": n}, messages.SUCCESS)


@admin.register(CouponIssueJob)
class CouponIssueJobAdmin(admin.ModelAdmin):
    list_display = (
        "template",
        "segment",
        "status",
        "total",
        "done",
        "issued",
        "created_at",
        "progress",
    )
    list_filter = ("status", "segment")
    search_fields = ("template__name",)
    list_select_related = ("template",)
    readonly_fields = [f.name for f in CouponIssueJob._meta.fields]
    actions = ("cancel",)

    def add_view(self, request, form_url="", extra_context=None):
        # Jobs start on the operators' page, which shows the progress bar.
        from django.shortcuts import redirect

        return redirect("marketing:issue_jobs")

    @admin.display(description=_("progress page"))
    def progress(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("marketing:issue_job", args=[obj.pk]), _("Open")
        )

    @admin.action(description=_("Cancel the selected jobs"))
    def cancel(self, request, queryset):
        n = sum(coupon_services.cancel_issue_job(job=j) for j in queryset)
        self.message_user(request, _("%(n)d cancelled.") % {"n": n}, messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "title": _("Coupon issue jobs")}
        return super().changelist_view(request, extra_context)


@admin.register(PointsAccount)
class PointsAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "balance", "updated_at")
    search_fields = ("user__phone", "user__nickname", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("user", "balance", "updated_at")

    def has_add_permission(self, request):
        return False


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    """The ledger, append-only: "add" is an operator's adjustment through the service."""

    list_display = ("user", "kind", "delta", "balance_after", "order", "note", "created_at")
    list_filter = ("kind",)
    search_fields = ("user__phone", "user__nickname", "key", "note")
    list_select_related = ("user", "order")
    autocomplete_fields = ("user",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "delta", "note")
        return (
            "user",
            "kind",
            "delta",
            "balance_after",
            "order",
            "key",
            "expires_at",
            "note",
            "created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            entry = points_services.adjust_points(
                user=obj.user,
                delta=obj.delta,
                note=obj.note or str(_("Adjusted by %(who)s") % {"who": request.user}),
                key=f"admin:{uuid.uuid4().hex}",
            )
        except points_services.NotEnoughPoints as exc:
            self.message_user(request, exc.message, messages.ERROR)
            obj.pk = None
            return
        obj.pk = entry.pk
        obj.kind = PointsKind.ADJUSTED

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class PromotionTierInline(admin.TabularInline):
    model = PromotionTier
    extra = 1


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "starts_at",
        "ends_at",
        "scope",
        "tiers_text",
        "is_active",
        "statistics",
    )
    list_filter = ("is_active", "scope")
    search_fields = ("name",)
    autocomplete_fields = ("categories", "products")
    inlines = (PromotionTierInline,)
    actions = ("activate", "deactivate")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        promotion_services.forget_promotions()  # checkouts see the change at once

    @admin.display(description=_("tiers"))
    def tiers_text(self, obj):
        return "，".join(str(t) for t in obj.tiers.all())

    @admin.display(description=_("statistics"))
    def statistics(self, obj):
        return stats_link(f"promotion-{obj.pk}")

    @admin.action(description=_("Activate the selected promotions"))
    def activate(self, request, queryset):
        n = sum(
            promotion_services.set_promotion_active(promotion=p, is_active=True) for p in queryset
        )
        self.message_user(request, _("%(n)d activated.") % {"n": n}, messages.SUCCESS)

    @admin.action(description=_("Stop the selected promotions"))
    def deactivate(self, request, queryset):
        n = sum(
            promotion_services.set_promotion_active(promotion=p, is_active=False) for p in queryset
        )
        self.message_user(request, _("%(n)d stopped.") % {"n": n}, messages.SUCCESS)


# Flash sales and referrals (M2), when their admin module is there.
if importlib.util.find_spec(f"{__package__}.admin_flash") is not None:
    importlib.import_module(f"{__package__}.admin_flash")


class ReadOnlyAdmin(admin.ModelAdmin):
    """A plain list for a model without its own admin class."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for _model in apps.get_app_config("marketing").get_models():
    if not admin.site.is_registered(_model):
        admin.site.register(_model, ReadOnlyAdmin)
