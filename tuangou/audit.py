"""The audit trail on money and stock (issue #15): django-pghistory.

PostgreSQL triggers write an event row for every insert, update and delete
of the audited models, whatever made the change: the admin, a service's
conditional UPDATE with F(), a bulk update or raw SQL. The ORM-level
alternative (django-simple-history) sees only save() and delete(), and this
project changes stock, balances and statuses with conditional UPDATEs.

Who: pghistory's HistoryMiddleware puts the request's user and URL in the
context of every write request; the trigger stores the context with the
event. What: a snapshot of the audited fields after the change (before, for a
delete); the history admin shows old → new against the object's previous
event. When: the transaction's time. Event tables are append-only (a trigger
refuses UPDATE and DELETE).
"""

from __future__ import annotations

import pghistory
import pgtrigger


def audited(
    *,
    model_name: str,
    verbose_name,
    fields: list[str] | None = None,
    insert_condition: str | None = None,
    update_condition: str | None = None,
):
    """pghistory.track with this project's defaults: insert, update (when an
    audited field changes, or when `update_condition` holds) and delete events,
    append-only, into `<app>.<model_name>` (named `verbose_name` in the admin)."""
    update = (
        pghistory.UpdateEvent(condition=pgtrigger.Condition(update_condition))
        if update_condition
        else pghistory.UpdateEvent()
    )
    insert = (
        pghistory.InsertEvent(condition=pgtrigger.Condition(insert_condition))
        if insert_condition
        else pghistory.InsertEvent()
    )
    return pghistory.track(
        insert,
        update,
        pghistory.DeleteEvent(),
        fields=fields,
        model_name=model_name,
        append_only=True,
        meta={"verbose_name": verbose_name, "verbose_name_plural": verbose_name},
    )


def baseline(app_label: str, model_name: str, event_name: str):
    """A migration operation: one 'baseline' event per existing row, so that
    the first audited change of a row made before the trail began still shows
    its old values."""
    from django.db import migrations

    def forward(apps, schema_editor):
        tracked = apps.get_model(app_label, model_name)
        event = apps.get_model(app_label, event_name)
        qn = schema_editor.quote_name
        columns = [
            f.column
            for f in event._meta.concrete_fields
            if not f.name.startswith("pgh_") or f.name == "pgh_obj"
        ]
        columns = [c for c in columns if c != "pgh_obj_id"]
        cols = ", ".join(qn(c) for c in columns)
        # Quoted identifiers from the models' metadata; no value is interpolated.
        event_table, table, pk = (
            qn(event._meta.db_table),
            qn(tracked._meta.db_table),
            qn(tracked._meta.pk.column),
        )
        sql = f"INSERT INTO {event_table} ({cols}, pgh_created_at, pgh_label, pgh_obj_id) "
        sql += f"SELECT {cols}, NOW(), 'baseline', {pk} FROM {table}"  # noqa: S608
        schema_editor.execute(sql)

    return migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)


# Where staff change things: the admin and the staff pages. Only requests under
# these paths ask who the user is (a query when the session's user is not loaded
# yet), so a shopper's request — a 秒杀 refusal answered from Redis alone, the
# checkout's hot path — never pays for the audit trail.
STAFF_PATH_PREFIXES = (
    "/admin/",
    "/delivery/",  # warehouse, purchasing, efficiency (drivers are not staff)
    "/reports/",
    "/leader/finance/",
    "/promo/coupons/jobs/",
    "/promo/stats/",
)


class StaffHistoryMiddleware:
    """pghistory's HistoryMiddleware for staff only: their writes carry their
    user id and the URL into the events. pghistory passes the context by
    prefixing every SQL statement of the request with set_config(); shoppers'
    requests (the checkout's hot path, payment notifications) are left alone
    — what a shopper does is recorded in their orders and refunds anyway."""

    def __init__(self, get_response):
        from pghistory.middleware import HistoryMiddleware

        self.get_response = get_response
        self.with_context = HistoryMiddleware(get_response)

    def __call__(self, request):
        if not request.path.startswith(STAFF_PATH_PREFIXES):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            return self.with_context(request)
        return self.get_response(request)
