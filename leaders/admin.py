"""Operators review applications, leaders, points and address changes here.

Every action calls a service; the admin never changes a status itself.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import services
from .admin_widgets import OpeningHoursField, opening_hours_table
from .forms import RejectForm
from .models import (
    AddressChange,
    BindingEvent,
    Community,
    Leader,
    LeaderApplication,
    PickupPoint,
    PickupPointPause,
    PickupPointPhoto,
    ShopperBinding,
)
from .point_cache import PointCacheAdmin


def _run_each(modeladmin, request, queryset, action, done_message) -> None:
    """Call `action(obj)` for each selected row; report successes and refusals."""
    done = 0
    for obj in queryset.order_by("pk"):
        try:
            action(obj)
        except (ValidationError, ValueError) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            modeladmin.message_user(request, f"{obj}: {text}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message(done), messages.SUCCESS)


def _reject_with_reason(modeladmin, request, queryset, reject, title):
    """An intermediate page asks for the reason, then rejects every selected row."""
    if "apply" in request.POST:
        form = RejectForm(request.POST)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            _run_each(
                modeladmin,
                request,
                queryset,
                lambda obj: reject(obj, reason),
                lambda n: ngettext("Rejected %(n)d item.", "Rejected %(n)d items.", n) % {"n": n},
            )
            return None
    else:
        form = RejectForm()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "objects": queryset,
        "action": request.POST.get("action"),
        "opts": modeladmin.model._meta,
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, "leaders/admin/reject.html", context)


def _open_on_pending(request):
    """Arriving from elsewhere (the admin index, a bookmark): show the pending rows."""
    coming_from_list = request.path in request.META.get("HTTP_REFERER", "")
    if request.method == "GET" and not request.GET and not coming_from_list:
        return redirect(f"{request.path}?status__exact=pending")
    return None


@admin.register(Community)
class CommunityAdmin(PointCacheAdmin, admin.ModelAdmin):
    list_display = ("name", "district", "city", "warehouse", "is_active")
    list_filter = ("city", "district", "warehouse", "is_active")
    search_fields = ("name", "district")


@admin.register(LeaderApplication)
class LeaderApplicationAdmin(admin.ModelAdmin):
    list_display = (
        "real_name",
        "point_name",
        "community",
        "kind",
        "status",
        "created_at",
        "reviewed_by",
    )
    list_filter = ("status", "kind", "community__district", "community", "created_at")
    search_fields = ("real_name", "phone", "point_name", "address", "user__nickname")
    list_select_related = ("community", "reviewed_by")
    date_hierarchy = "created_at"
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = (
        "user",
        "status",
        "real_name",
        "phone",
        "community",
        "kind",
        "point_name",
        "address",
        "latitude",
        "longitude",
        "hours",
        "photo_preview",
        "reject_reason",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    )
    exclude = ("storefront_photo", "opening_hours")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("opening hours"))
    def hours(self, obj):
        return opening_hours_table(obj.opening_hours)

    @admin.display(description=_("Storefront photo"))
    def photo_preview(self, obj):
        if not obj.storefront_photo:
            return "-"
        # Private storage has no public URL: the checked view serves it.
        return format_html(
            '<a href="{0}"><img src="{0}" style="max-width:320px;border-radius:8px"></a>',
            reverse("leaders:application_photo", args=[obj.pk]),
        )

    @admin.action(description=_("Approve selected applications"), permissions=["change"])
    def approve_selected(self, request, queryset):
        _run_each(
            self,
            request,
            queryset,
            lambda app: services.approve_application(application=app, reviewed_by=request.user),
            lambda n: (
                ngettext("Approved %(n)d application.", "Approved %(n)d applications.", n)
                % {"n": n}
            ),
        )

    @admin.action(description=_("Reject selected applications…"), permissions=["change"])
    def reject_selected(self, request, queryset):
        return _reject_with_reason(
            self,
            request,
            queryset,
            lambda app, reason: services.reject_application(
                application=app, reviewed_by=request.user, reason=reason
            ),
            gettext("Reject applications"),
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def changelist_view(self, request, extra_context=None):
        # The queue opens on what waits for review; "All" from the list stays all.
        return _open_on_pending(request) or super().changelist_view(request, extra_context)


class _ReadOnlyInline(admin.TabularInline):
    """Shown to operators, changed only by the leader (their pages call the services)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PhotoInline(_ReadOnlyInline):
    model = PickupPointPhoto
    fields = ("preview", "created_at")
    readonly_fields = fields

    @admin.display(description=_("photo"))
    def preview(self, obj):
        if not obj or not obj.image:
            return "—"
        return format_html(
            '<a href="{0}"><img src="{0}" width="120" style="border-radius:4px" alt=""></a>',
            obj.image.url,
        )


class PauseInline(_ReadOnlyInline):
    model = PickupPointPause
    fields = ("day", "reason", "created_at", "shoppers_told_at")
    readonly_fields = fields


class PointInline(admin.TabularInline):
    model = PickupPoint
    fields = ("name", "community", "address", "status")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Leader)
class LeaderAdmin(PointCacheAdmin, admin.ModelAdmin):
    list_display = ("real_name", "phone", "kind", "status", "commission_rate", "joined_at")
    list_filter = ("status", "kind", "points__community")
    search_fields = ("real_name", "phone", "user__nickname", "share_code")
    readonly_fields = ("user", "application", "share_code", "status", "joined_at")
    inlines = [PointInline]
    actions = ["suspend_selected", "reactivate_selected"]

    def has_add_permission(self, request) -> bool:
        # Leaders are made by approving an application.
        return False

    @admin.action(description=_("Suspend selected leaders"), permissions=["change"])
    def suspend_selected(self, request, queryset):
        _run_each(
            self,
            request,
            queryset,
            lambda leader: services.suspend_leader(leader=leader),
            lambda n: ngettext("Suspended %(n)d leader.", "Suspended %(n)d leaders.", n) % {"n": n},
        )

    @admin.action(description=_("Reactivate selected leaders"), permissions=["change"])
    def reactivate_selected(self, request, queryset):
        _run_each(
            self,
            request,
            queryset,
            lambda leader: services.reactivate_leader(leader=leader),
            lambda n: (
                ngettext("Reactivated %(n)d leader.", "Reactivated %(n)d leaders.", n) % {"n": n}
            ),
        )


class PickupPointAdminForm(forms.ModelForm):
    opening_hours = OpeningHoursField(label=_("opening hours"))

    class Meta:
        model = PickupPoint
        fields = ("name", "opening_hours", "daily_capacity")


@admin.register(PickupPoint)
class PickupPointAdmin(PointCacheAdmin, admin.ModelAdmin):
    form = PickupPointAdminForm
    list_display = ("name", "community", "leader", "warehouse", "status", "daily_capacity")
    list_filter = ("status", "community", "community__district", "warehouse", "leader__status")
    search_fields = ("name", "address", "community__name", "leader__real_name")
    list_select_related = ("community", "leader", "warehouse")
    # Leaders set hours, photos and pauses on their pages (an operator may
    # correct the name, the hours and the capacity here, through the same
    # service); an address moves through AddressChange review; the status
    # through the actions below. The community (and the warehouse that serves
    # it) and the leader are fixed.
    fields = (
        "name",
        "leader",
        "community",
        "warehouse",
        "address",
        "latitude",
        "longitude",
        "opening_hours",
        "daily_capacity",
        "status",
        "created_at",
    )
    readonly_fields = (
        "leader",
        "community",
        "warehouse",
        "status",
        "address",
        "latitude",
        "longitude",
        "created_at",
    )
    inlines = [PhotoInline, PauseInline]
    actions = ["approve_selected", "reject_selected", "close_selected", "reopen_selected"]

    def has_add_permission(self, request) -> bool:
        # Points come from an approved application or the leader's own page.
        return False

    def save_model(self, request, obj, form, change):
        # Name and capacity, through the same service as the leader's page.
        services.update_pickup_point(
            point=obj,
            name=obj.name,
            opening_hours=obj.opening_hours,
            daily_capacity=obj.daily_capacity,
        )

    def _bulk(self, request, queryset, action, verb):
        _run_each(
            self,
            request,
            queryset,
            action,
            lambda n: (
                ngettext("%(verb)s %(n)d pickup point.", "%(verb)s %(n)d pickup points.", n)
                % {"n": n, "verb": verb}
            ),
        )

    @admin.action(description=_("Approve selected new pickup points"), permissions=["change"])
    def approve_selected(self, request, queryset):
        self._bulk(
            request, queryset, lambda p: services.approve_pickup_point(point=p), _("Approved")
        )

    @admin.action(description=_("Reject selected new pickup points"), permissions=["change"])
    def reject_selected(self, request, queryset):
        self._bulk(
            request, queryset, lambda p: services.reject_pickup_point(point=p), _("Rejected")
        )

    @admin.action(description=_("Close selected pickup points"), permissions=["change"])
    def close_selected(self, request, queryset):
        self._bulk(request, queryset, lambda p: services.close_pickup_point(point=p), _("Closed"))

    @admin.action(description=_("Reopen selected pickup points"), permissions=["change"])
    def reopen_selected(self, request, queryset):
        self._bulk(
            request, queryset, lambda p: services.reopen_pickup_point(point=p), _("Reopened")
        )


@admin.register(AddressChange)
class AddressChangeAdmin(admin.ModelAdmin):
    list_display = ("point", "current_address", "address", "status", "created_at")
    list_filter = ("status", "point__community", "point__warehouse")
    search_fields = ("address", "point__name", "point__address")
    list_select_related = ("point",)
    readonly_fields = (
        "point",
        "address",
        "latitude",
        "longitude",
        "status",
        "reject_reason",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    )
    actions = ["approve_selected", "reject_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("Current address"))
    def current_address(self, obj):
        return obj.point.address

    @admin.action(description=_("Approve selected address changes"), permissions=["change"])
    def approve_selected(self, request, queryset):
        _run_each(
            self,
            request,
            queryset,
            lambda c: services.approve_address_change(change=c, reviewed_by=request.user),
            lambda n: (
                ngettext("Approved %(n)d address.", "Approved %(n)d addresses.", n) % {"n": n}
            ),
        )

    @admin.action(description=_("Reject selected address changes…"), permissions=["change"])
    def reject_selected(self, request, queryset):
        return _reject_with_reason(
            self,
            request,
            queryset,
            lambda c, reason: services.reject_address_change(
                change=c, reviewed_by=request.user, reason=reason
            ),
            gettext("Reject address changes"),
        )

    def changelist_view(self, request, extra_context=None):
        return _open_on_pending(request) or super().changelist_view(request, extra_context)


@admin.register(ShopperBinding)
class ShopperBindingAdmin(PointCacheAdmin, admin.ModelAdmin):
    list_display = ("user", "pickup_point", "leader", "source", "bound_at", "changed_at")
    list_filter = ("source", "pickup_point__community")
    search_fields = ("user__nickname", "user__phone", "pickup_point__name")
    list_select_related = ("user", "pickup_point", "leader")
    readonly_fields = ("user", "pickup_point", "leader", "source", "bound_at", "changed_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(BindingEvent)
class BindingEventAdmin(admin.ModelAdmin):
    list_display = ("user", "from_point", "to_point", "source", "created_at")
    list_filter = ("source",)
    list_select_related = ("user", "from_point", "to_point")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# Commission (issue #7): rules, ledger, settlements, withdrawals, payouts.
from .commission import admin as _commission_admin  # noqa: E402, F401
