"""Reports read from the replica when there is one; writes never do.

The replica here is a TEST MIRROR of default (settings with
DATABASE_REPLICA_URL set): a second connection to the same test database,
so a read routed there really runs, over its own connection.
"""

import copy
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connections, router, transaction
from django.test import override_settings

from orders.models import Order
from tuangou.accounts.models import User
from tuangou.db_router import ReplicaRouter, for_report, report_reads

# django.db.router: the project's DATABASE_ROUTERS as Django consults them.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


class AnalyticsModel:
    """Stands in for a model of the analytics app (it has none yet)."""

    class _meta:
        app_label = "analytics"


def with_replica():
    databases = copy.deepcopy(settings.DATABASES)
    databases["replica"] = {**databases["default"], "TEST": {"MIRROR": "default"}}
    return override_settings(DATABASES=databases)


def test_without_a_replica_everything_reads_and_writes_on_default():
    assert "replica" not in settings.DATABASES
    assert router.db_for_read(AnalyticsModel) == "default"
    assert router.db_for_read(Order) == "default"
    with report_reads():
        assert router.db_for_read(Order) == "default"
    assert router.db_for_write(AnalyticsModel) == "default"
    assert for_report(Order.objects.all()).db == "default"


def test_with_a_replica_analytics_and_report_reads_go_there_the_rest_to_default():
    with with_replica():
        assert router.db_for_read(AnalyticsModel) == "replica"
        assert router.db_for_read(Order) == "default"
        assert router.db_for_read(User) == "default"
        with report_reads():
            assert router.db_for_read(Order) == "replica"
            assert router.db_for_read(User) == "replica"
        assert router.db_for_read(Order) == "default"  # the block ended
        assert for_report(Order.objects.all()).db == "replica"
        assert Order.objects.all().db == "default"
        # Writes: always the primary, analytics included.
        assert router.db_for_write(AnalyticsModel) == "default"
        assert router.db_for_write(Order) == "default"


def test_migrations_run_on_the_primary_only():
    assert settings.DATABASE_ROUTERS == ["tuangou.db_router.ReplicaRouter"]
    assert router.allow_migrate("default", "orders") is True
    assert router.allow_migrate("replica", "orders") is False
    assert router.allow_migrate("replica", "analytics") is False


def test_a_related_read_follows_its_instance_when_no_report_is_asked_for():
    # The router has no opinion outside reports: Django reads an object's
    # relations from the database the object came from.
    class Instance:
        class _state:
            db = "replica"

    with with_replica():
        assert ReplicaRouter().db_for_read(Order) is None
        assert router.db_for_read(Order, instance=Instance()) == "replica"
        assert router.db_for_write(Order, instance=Instance()) == "default"


@pytest.fixture
def replica_alias():
    """A "replica" alias for this test: the test database over a second
    connection, as settings' TEST MIRROR makes it when DATABASE_REPLICA_URL
    is set (the suite runs without it, like a single-database deployment).
    Registered as a connection only, so Django's per-test database guard
    treats it as a dynamically created one."""
    mirror = copy.deepcopy(connections.settings["default"])
    mirror["TEST"] = {"MIRROR": "default"}
    wrapper = connections["default"].__class__(mirror, alias="replica")
    with with_replica():
        connections["replica"] = wrapper
        try:
            yield wrapper
        finally:
            wrapper.close()
            del connections["replica"]


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_reads_stay_on_the_primary_that_wrote(replica_alias):
    with transaction.atomic():
        User.objects.create(username="u-router", phone="+8613800000001")
        assert router.db_for_read(AnalyticsModel) == "default"
        with report_reads():
            assert router.db_for_read(User) == "default"
            # The write is visible because the read stayed on its connection;
            # the replica's connection saw nothing of it.
            assert User.objects.filter(username="u-router").count() == 1
            assert User.objects.using("replica").filter(username="u-router").count() == 0
        assert for_report(User.objects.all()).db == "default"
    # Committed: report reads go to the replica again, over its own connection.
    with report_reads():
        assert router.db_for_read(User) == "replica"
        assert User.objects.filter(username="u-router").count() == 1
    assert for_report(User.objects.filter(username="u-router")).count() == 1
    assert replica_alias.connection is not None
    assert replica_alias.settings_dict["NAME"] == connections["default"].settings_dict["NAME"]


def settings_under(**environ) -> dict:
    """settings.DATABASES and DATABASE_ROUTERS as a fresh process reads them."""
    code = (
        "import json, tuangou.settings as s; "
        "print(json.dumps({'databases': s.DATABASES, 'routers': s.DATABASE_ROUTERS}, default=str))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE")}
    env.update(TESTING="true", **environ)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_settings_add_a_mirrored_replica_only_when_its_url_is_set():
    plain = settings_under(DATABASE_URL="postgres://postgres@db1:5432/tuangou")
    assert list(plain["databases"]) == ["default"]
    assert plain["routers"] == ["tuangou.db_router.ReplicaRouter"]

    both = settings_under(
        DATABASE_URL="postgres://postgres@db1:5432/tuangou",
        DATABASE_REPLICA_URL="postgres://reader@db2:5433/tuangou",
    )
    replica = both["databases"]["replica"]
    assert (replica["HOST"], replica["PORT"], replica["USER"]) == ("db2", 5433, "reader")
    assert replica["TEST"] == {"MIRROR": "default"}
    assert both["databases"]["default"]["HOST"] == "db1"


def test_the_pool_replaces_persistent_connections_when_on():
    pooled = settings_under(DATABASE_POOL="true", DATABASE_POOL_MAX_SIZE="6")
    default = pooled["databases"]["default"]
    assert default["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 6, "timeout": 10.0}
    assert default["CONN_MAX_AGE"] == 0
    kept = settings_under(DATABASE_POOL="false", CONN_MAX_AGE="120")
    assert "pool" not in kept["databases"]["default"].get("OPTIONS", {})
    assert kept["databases"]["default"]["CONN_MAX_AGE"] == 120
