"""Reports read from a replica; everything else stays on the primary.

With DATABASE_REPLICA_URL set, settings add a "replica" alias and this router:

- sends reads of the analytics app's models to the replica;
- sends reads explicitly marked for reports (`tuangou.db.report_reads()`, or
  `.using("replica")` where the caller knows it is a report) there too;
- sends every write to the primary ("default");
- never reads from the replica inside a transaction on the primary: a
  transaction that wrote must see its own rows, and the replica lags.

Without DATABASE_REPLICA_URL there is no "replica" alias and the router
answers "default" for everything, so code that asks for report reads runs
unchanged on one database. In tests the replica is a TEST MIRROR of default:
the same test database under a second connection.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

REPLICA = "replica"
PRIMARY = "default"
# Apps whose models are only ever read for reports and exports.
REPORT_APPS = frozenset({"analytics"})

_state = threading.local()


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def in_report_reads() -> bool:
    return getattr(_state, "depth", 0) > 0


@contextmanager
def report_reads():
    """Within this block, reads the router decides go to the replica (if any).

    For reports and exports that read other apps' models (orders per day,
    commission totals): they tolerate a second of lag, and a long report
    query then never competes with checkouts on the primary.
    """
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1


def _primary_in_transaction() -> bool:
    # A transaction (atomic block) open on the primary: the replica would not
    # show what it wrote, so reads stay beside the writes.
    return connections[PRIMARY].in_atomic_block


def read_alias(app_label: str) -> str:
    """The alias a read of a model of `app_label` goes to, right now."""
    if not replica_configured() or _primary_in_transaction():
        return PRIMARY
    if app_label in REPORT_APPS or in_report_reads():
        return REPLICA
    return PRIMARY


class ReplicaRouter:
    """DATABASE_ROUTERS entry; see the module docstring."""

    def db_for_read(self, model, **hints):
        alias = read_alias(model._meta.app_label)
        if alias == PRIMARY and not _primary_in_transaction():
            # No opinion: Django then reads a related object from the database
            # its instance came from (hints["instance"]), else from default.
            return None
        return alias

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases hold the same data (one replicates the other).
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # Migrations run on the primary only; the replica follows by replication.
        return db == PRIMARY


def for_report(queryset):
    """`queryset` on the replica when one is configured and no write is pending.

    The explicit form of `report_reads()` for one queryset of any app.
    """
    model = queryset.model
    with report_reads():
        alias = read_alias(model._meta.app_label)
    return queryset.using(alias)
