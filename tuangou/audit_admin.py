"""The audit trail in the admin: one read-only page per audited model
(tuangou/audit.py), registered from tuangou/accounts/admin.py.

Each event shows when, what kind (created, changed, deleted, baseline), the
object, who (the user the request's context named; empty for tasks and
scripts), and what changed: old → new against the object's previous event.
Nobody adds, changes or deletes an event (the tables refuse it too); who may
read the history of a model is who may view the model itself.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import IntegerField, OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.translation import pgettext, pgettext_lazy

LABELS = {
    "insert": pgettext_lazy("audit", "created"),
    "update": pgettext_lazy("audit", "changed"),
    "delete": pgettext_lazy("audit", "deleted"),
    "baseline": pgettext_lazy("audit", "before the audit trail"),
}


def _tracked_fields(event_model) -> list:
    return [
        f
        for f in event_model._meta.concrete_fields
        if not f.name.startswith("pgh_") and f.name != "id"
    ]


def _show(event, field) -> str:
    value = getattr(event, field.attname)
    return "—" if value is None or value == "" else str(value)


class EventHistoryAdmin(admin.ModelAdmin):
    list_display = ("pgh_created_at", "kind", "object_id", "who", "changes")
    list_filter = ("pgh_label",)
    list_select_related = ("pgh_context",)
    ordering = ("-pgh_id",)
    list_per_page = 50

    # --- read-only, for whoever may view the audited model --------------------

    def _may_view(self, request) -> bool:
        opts = self.model.pgh_tracked_model._meta
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may_view(request)

    def has_module_permission(self, request) -> bool:
        return self._may_view(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        # ?pgh_obj=<pk>: one object's history.
        return lookup in {"pgh_obj", "pgh_obj__id__exact", "pgh_obj_id"} or super().lookup_allowed(
            lookup, value, request
        )

    # --- the columns --------------------------------------------------------------

    def get_queryset(self, request):
        users = get_user_model().objects.filter(
            pk=Cast(KeyTextTransform("user", OuterRef("pgh_context__metadata")), IntegerField())
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                who_name=Subquery(users.values("nickname")[:1]),
                who_username=Subquery(users.values("username")[:1]),
            )
        )

    @admin.display(description=pgettext_lazy("audit", "what"), ordering="pgh_label")
    def kind(self, event) -> str:
        return str(LABELS.get(event.pgh_label, event.pgh_label))

    @admin.display(description=pgettext_lazy("audit", "object"), ordering="pgh_obj_id")
    def object_id(self, event) -> str:
        return f"#{event.pgh_obj_id}"

    @admin.display(description=pgettext_lazy("audit", "who"))
    def who(self, event) -> str:
        name = event.who_name or event.who_username
        if name and event.who_name and event.who_username:
            return f"{event.who_name} ({event.who_username})"
        return name or pgettext("audit", "system")

    @admin.display(description=pgettext_lazy("audit", "changes"))
    def changes(self, event) -> str:
        fields = _tracked_fields(type(event))
        previous = (
            type(event)
            .objects.filter(pgh_obj_id=event.pgh_obj_id, pgh_id__lt=event.pgh_id)
            .order_by("-pgh_id")
            .first()
        )
        if event.pgh_label != "update" or previous is None:
            return "; ".join(f"{f.verbose_name}: {_show(event, f)}" for f in fields)
        changed = [
            f"{f.verbose_name}: {_show(previous, f)} → {_show(event, f)}"
            for f in fields
            if getattr(previous, f.attname) != getattr(event, f.attname)
        ]
        return "; ".join(changed) or "—"


def register(site: admin.AdminSite = admin.site) -> None:
    """Give every audited model's event table its read-only admin page."""
    from catalog.models import Sku, StockRecord
    from leaders.models import CommissionEntry, CommissionRule, Withdrawal
    from orders.models import Refund

    for tracked in (Sku, StockRecord, CommissionRule, CommissionEntry, Withdrawal, Refund):
        for event_model in _event_models(tracked):
            if not site.is_registered(event_model):
                site.register(event_model, EventHistoryAdmin)


def _event_models(tracked) -> list:
    from django.apps import apps

    return [m for m in apps.get_models() if getattr(m, "pgh_tracked_model", None) is tracked]
