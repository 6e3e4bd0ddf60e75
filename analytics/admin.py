"""Analytics in the Django admin: report jobs and the daily facts, read-only.

Jobs are started on the report jobs page (analytics:jobs) and facts are
written by the fact builders only; the admin shows them and, for jobs, can
cancel through the service (never by changing a row).
"""

from __future__ import annotations

from django.apps import apps
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


def _fact_admin(model) -> type[admin.ModelAdmin]:
    """A read-only list of one fact table: its day (or month), then its first columns."""
    names = [f.name for f in model._meta.concrete_fields if f.name != "id"]
    when = next((n for n in ("day", "month") if n in names), None)
    columns = [f.attname for f in model._meta.concrete_fields if f.name not in {"id", when}][:9]
    attrs: dict = {
        "list_display": (*([when] if when else []), *columns),
        "show_full_result_count": False,  # facts are big: no COUNT(*) of the whole table
    }
    if when:
        attrs.update(list_filter=(when,), date_hierarchy=when, ordering=(f"-{when}",))
    return type(f"{model.__name__}Admin", (ReadOnlyAdmin,), attrs)


# Every fact table (analytics.models.Fact), read-only: written by analytics.facts only.
for _model in apps.get_app_config("analytics").get_models():
    if issubclass(_model, m.Fact) and not admin.site.is_registered(_model):
        admin.site.register(_model, _fact_admin(_model))
