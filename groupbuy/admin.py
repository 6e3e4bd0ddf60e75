"""Operators' 拼团 screens: campaigns with their numbers, groups with members,
a manual close with a reason. Every change goes through groupbuy.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import selectors, services
from .models import Campaign, CommunityDeal, Group, GroupMember, GroupStatus


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "title",
            "kind",
            "sku",
            "group_price",
            "is_active",
            "group_size",
            "time_limit_hours",
            "auto_complete",
            "auto_complete_min_percent",
            "starts_at",
            "ends_at",
            "stock_total",
            "hold_per_day",
            "per_order_limit",
            "per_shopper_limit",
            "allow_many_open",
            "scope",
            "threshold_quantity",
        ]

    def _post_clean(self):
        super()._post_clean()
        # The business rules live in the service; shown here next to their fields.
        try:
            services.check_campaign(campaign=self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "title",
        "kind",
        "group_price",
        "group_size",
        "starts_at",
        "ends_at",
        "stock_taken",
        "stock_total",
        "groups_opened",
        "groups_succeeded",
        "groups_failed",
        "is_active",
    ]
    list_filter = ["kind", "is_active", "scope"]
    search_fields = ["title", "code", "sku__product__name"]
    raw_id_fields = ["sku"]
    readonly_fields = ["code", "stock_taken", "stats"]
    fieldsets = [
        (None, {"fields": ["title", "kind", "sku", "group_price", "is_active", "code"]}),
        (
            gettext_lazy("Groups"),
            {
                "fields": [
                    "group_size",
                    "time_limit_hours",
                    "auto_complete",
                    "auto_complete_min_percent",
                ]
            },
        ),
        (
            gettext_lazy("Time, stock and limits"),
            {
                "fields": [
                    "starts_at",
                    "ends_at",
                    "stock_total",
                    "hold_per_day",
                    "stock_taken",
                    "per_order_limit",
                    "per_shopper_limit",
                    "allow_many_open",
                    "scope",
                ]
            },
        ),
        (gettext_lazy("Community threshold"), {"fields": ["threshold_quantity"]}),
        (gettext_lazy("Numbers"), {"fields": ["stats"]}),
    ]

    def get_queryset(self, request):
        public = Q(groups__status__in=selectors.PUBLIC_STATUSES)
        return (
            super()
            .get_queryset(request)
            .select_related("sku__product")
            .annotate(
                n_opened=Count("groups", filter=public),
                n_succeeded=Count("groups", filter=Q(groups__status=GroupStatus.SUCCEEDED)),
                n_failed=Count("groups", filter=Q(groups__status=GroupStatus.FAILED)),
            )
        )

    @admin.display(description=gettext_lazy("opened"), ordering="n_opened")
    def groups_opened(self, obj):
        return obj.n_opened

    @admin.display(description=gettext_lazy("succeeded"), ordering="n_succeeded")
    def groups_succeeded(self, obj):
        return obj.n_succeeded

    @admin.display(description=gettext_lazy("failed"), ordering="n_failed")
    def groups_failed(self, obj):
        return obj.n_failed

    @admin.display(description=gettext_lazy("Campaign numbers"))
    def stats(self, obj):
        if not obj.pk:
            return "-"
        s = selectors.campaign_stats(campaign=obj)
        rate = "-" if s.success_rate is None else f"{s.success_rate}%"
        fill = (
            "-"
            if s.average_fill_minutes is None
            else _("%(m)d min") % {"m": s.average_fill_minutes}
        )
        return _(
            "Groups opened %(opened)d · succeeded %(succeeded)d (auto-completed %(auto)d) · "
            "failed %(failed)d · open now %(open)d · success rate %(rate)s · average time to "
            "fill %(fill)s · paid members %(members)d · GMV ¥%(gmv)s · refunds ¥%(refunds)s"
        ) % {
            "opened": s.opened,
            "succeeded": s.succeeded,
            "auto": s.auto_completed,
            "failed": s.failed,
            "open": s.open_now,
            "rate": rate,
            "fill": fill,
            "members": s.members,
            "gmv": s.gmv,
            "refunds": s.refunds,
        }

    def save_model(self, request, obj, form, change):
        services.save_campaign(campaign=obj, actor=request.user)


class MemberInline(admin.TabularInline):
    model = GroupMember
    extra = 0
    can_delete = False
    fields = ["user", "order", "quantity", "is_opener", "status", "joined_at", "paid_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class CloseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "campaign",
        "status",
        "paid_count",
        "seats_taken",
        "size",
        "pickup_point",
        "opened_at",
        "deadline",
        "is_auto_completed",
    ]
    list_filter = ["status", "is_auto_completed", "campaign"]
    search_fields = ["code", "opener__nickname", "opener__phone"]
    list_select_related = ["campaign", "pickup_point"]
    inlines = [MemberInline]
    actions = ["close_with_reason"]
    readonly_fields = [f.name for f in Group._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Close the selected groups (refund every member)"))
    def close_with_reason(self, request, queryset):
        form = CloseForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return render(
                request,
                "groupbuy/admin_close.html",
                {
                    **self.admin_site.each_context(request),
                    "groups": queryset,
                    "form": form,
                    "action": "close_with_reason",
                    "title": _("Close groups"),
                },
            )
        closed = 0
        for group in queryset.order_by("pk"):
            try:
                services.close_group(
                    group=group, reason=form.cleaned_data["reason"], actor=request.user
                )
                closed += 1
            except services.GroupbuyError as exc:
                messages.warning(request, f"{group.code}: {exc.message}")
        messages.success(request, _("%(n)d groups closed.") % {"n": closed})
        return None


@admin.register(CommunityDeal)
class CommunityDealAdmin(admin.ModelAdmin):
    list_display = ["campaign", "community", "paid_quantity", "status", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["campaign", "community"]
    readonly_fields = ["campaign", "community", "paid_quantity", "status", "closed_at", "code"]

    def has_add_permission(self, request):
        return False
