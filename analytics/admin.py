"""Analytics in the Django admin: report jobs and the daily facts, read-only.

Jobs are started on the report jobs page (analytics:jobs) and facts are
written by the fact builders only; the admin shows them and, for jobs, can
cancel through the service (never by changing a row).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tuangou.statemachine import IllegalTransition

from . import models as m
from .jobs import cancel_report_job


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(m.ReportJob)
class ReportJobAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "kind",
        "file_format",
        "status",
        "progress",
        "row_count",
        "requested_by",
        "created_at",
        "expires_at",
        "page",
    )
    list_filter = ("status", "kind", "file_format")
    search_fields = ("code", "requested_by__username", "requested_by__phone")
    list_select_related = ("requested_by",)
    readonly_fields = [f.name for f in m.ReportJob._meta.fields if f.name != "file"]
    exclude = ("file",)  # private: downloaded from the job's page by its requester
    date_hierarchy = "created_at"
    actions = ("cancel",)

    @admin.display(description=_("job page"))
    def page(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("analytics:job", args=[obj.code]), _("Open")
        )

    @admin.action(description=_("Cancel the selected jobs"), permissions=["view"])
    def cancel(self, request, queryset):
        done = 0
        for job in queryset:
            try:
                cancel_report_job(job=job, user=request.user)
            except (IllegalTransition, PermissionDenied):
                continue  # finished already, or someone else's (superusers may)
            done += 1
        self.message_user(request, _("%(n)d cancelled.") % {"n": done}, messages.SUCCESS)


def _fact_admin(model, *, dims: tuple[str, ...], numbers: tuple[str, ...], date_field: str = "day"):
    attrs = {
        "list_display": (date_field, *dims, *numbers),
        "list_filter": (date_field,),
        "date_hierarchy": date_field,
        "ordering": (f"-{date_field}",),
        "show_full_result_count": False,
    }
    admin.site.register(model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), attrs))


_fact_admin(
    m.SalesFact, dims=("sku_id", "pickup_point_id"), numbers=("orders", "units", "gmv", "refunds")
)
_fact_admin(m.OrderDayFact, dims=("pickup_point_id",), numbers=("orders", "gmv", "paid", "refunds"))
_fact_admin(
    m.LeaderDayFact, dims=("leader_id",), numbers=("orders", "gmv", "new_shoppers", "picked_up")
)
_fact_admin(m.ShopperMonthFact, dims=("user_id",), numbers=("orders", "spend"), date_field="month")
_fact_admin(m.BasketPairFact, dims=("product_a_id", "product_b_id"), numbers=("orders",))
_fact_admin(m.ProductDayFact, dims=("product_id",), numbers=("orders",))
_fact_admin(
    m.GroupBuyDayFact, dims=("campaign_id",), numbers=("started", "filled", "failed", "gmv")
)
_fact_admin(m.DeliveryRunFact, dims=("run_id", "route_id"), numbers=("stops", "on_time", "late"))
