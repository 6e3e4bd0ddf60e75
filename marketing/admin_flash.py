"""Admin of 限时秒杀 and 老带新 (imported by marketing/admin.py).

Saving a session arms its Redis gate through the service (save_flash_sale);
actions call services; purchases and referrals are read-only records (their
state changes come from checkout, completion and refunds).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import FlashPurchase, FlashSale, FlashSaleItem, InviteCode, Referral
from .services import flash as flash_services


def stats_link(anchor: str) -> str:
    return format_html(
        '<a href="{}#{}">{}</a>', reverse("marketing:stats"), anchor, gettext("Statistics")
    )


class FlashSaleItemInline(admin.TabularInline):
    model = FlashSaleItem
    extra = 1
    raw_id_fields = ["sku"]
    fields = ["sku", "price", "quota", "sold", "per_user_limit", "position"]
    readonly_fields = ["sold"]


@admin.register(FlashSale)
class FlashSaleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "starts_at",
        "ends_at",
        "gate_mode",
        "is_active",
        "units",
        "buyers",
        "stats",
    ]
    list_filter = ["gate_mode", "is_active", "starts_at"]
    search_fields = ["name", "items__sku__product__name"]
    date_hierarchy = "starts_at"
    inlines = [FlashSaleItemInline]
    actions = ["reconcile_gate"]

    def get_queryset(self, request):
        units = (
            FlashSaleItem.objects.filter(sale=OuterRef("pk"))
            .order_by()
            .values("sale")
            .annotate(q=Sum("quota"), s=Sum("sold"))
        )
        buyers = (
            FlashPurchase.objects.filter(item__sale=OuterRef("pk"))
            .order_by()
            .values("item__sale")
            .annotate(n=Count("user_id", distinct=True))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_quota=Coalesce(Subquery(units.values("q"), output_field=IntegerField()), 0),
                n_sold=Coalesce(Subquery(units.values("s"), output_field=IntegerField()), 0),
                n_buyers=Coalesce(Subquery(buyers, output_field=IntegerField()), 0),
            )
        )

    @admin.display(description=_("sold / quota"))
    def units(self, obj):
        return f"{obj.n_sold} / {obj.n_quota}"

    @admin.display(description=_("buyers"), ordering="n_buyers")
    def buyers(self, obj):
        return obj.n_buyers

    @admin.display(description=_("statistics"))
    def stats(self, obj):
        return stats_link(f"flash_sale-{obj.pk}")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The items exist now: arm (or disarm) the Redis gate and refresh the board.
        flash_services.save_flash_sale(sale=form.instance)

    @admin.action(description=_("Reconcile the Redis gate with the database"))
    def reconcile_gate(self, request, queryset):
        repaired = checked = 0
        items = FlashSaleItem.objects.select_related("sale").filter(
            sale__in=queryset, sale__gate_mode="redis"
        )
        try:
            for item in items.order_by("pk"):
                checked += 1
                repaired += flash_services.reconcile_item(item=item).drifted
        except flash_services.gate.GateUnavailable:
            self.message_user(
                request, gettext("Redis cannot be reached; try again later."), messages.ERROR
            )
            return
        self.message_user(
            request,
            gettext("%(checked)d items checked, %(repaired)d repaired.")
            % {"checked": checked, "repaired": repaired},
        )


@admin.register(FlashPurchase)
class FlashPurchaseAdmin(admin.ModelAdmin):
    list_display = ["item", "user", "order", "quantity", "created_at"]
    list_filter = ["item__sale"]
    search_fields = ["user__phone", "user__nickname", "order__number", "item__sale__name"]
    list_select_related = ["item__sale", "user", "order"]
    readonly_fields = ["item", "user", "order", "quantity", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InviteCode)
class InviteCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "user", "invited", "created_at"]
    search_fields = ["code", "user__phone", "user__nickname"]
    list_select_related = ["user"]
    readonly_fields = ["user", "code", "created_at"]

    def get_queryset(self, request):
        invited = (
            Referral.objects.filter(inviter=OuterRef("user"))
            .order_by()
            .values("inviter")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(n_invited=Coalesce(Subquery(invited, output_field=IntegerField()), 0))
        )

    @admin.display(description=_("friends invited"), ordering="n_invited")
    def invited(self, obj):
        return obj.n_invited

    def has_add_permission(self, request):
        return False


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = [
        "inviter",
        "invitee",
        "status",
        "reject_reason",
        "first_order",
        "inviter_coupon",
        "created_at",
        "rewarded_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = [
        "inviter__phone",
        "inviter__nickname",
        "invitee__phone",
        "invitee__nickname",
        "invitee_unionid",
    ]
    list_select_related = ["inviter", "invitee", "first_order", "inviter_coupon"]
    readonly_fields = [
        "inviter",
        "invitee",
        "status",
        "invitee_phone",
        "invitee_unionid",
        "reject_reason",
        "first_order",
        "inviter_coupon",
        "created_at",
        "rewarded_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
