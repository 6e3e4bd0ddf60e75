"""scripts/backup_restore.py: a dump restored into a new database has the same
orders, payments, refunds, stock and commission totals (issue #15, backups)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from catalog.models import StockRecord
from leaders.commission.services import add_adjustment
from orders.models import OrderStatus
from orders.services.refunds import refund_lines
from tests.clock import TOMORROW
from tests.orders.shopper_helpers import pay, place

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "backup_restore.py"
sys.path.insert(0, str(ROOT / "scripts"))
import backup_restore  # noqa: E402


def _url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def seeded(clock, shopper, other_shopper, point, sku, egg_sku, leader, operator):
    from tuangou.celery import app

    app.conf.task_always_eager = True  # the refund is sent at once (sandbox)
    try:
        paid = pay(place(shopper, point, (sku, 3), (egg_sku, 1)))
        pay(place(other_shopper, point, (sku, 2)))
        place(shopper, point, (egg_sku, 2))  # left unpaid
        line = paid.lines.get(sku=sku)
        refund_lines(order=paid, quantities={line.pk: 1}, reason="operator", actor=operator)
        add_adjustment(
            leader=leader, amount="8.80", reason="补贴", entered_by=operator, approved_by=operator
        )
    finally:
        app.conf.task_always_eager = False
    return paid


def test_the_restored_database_has_the_same_totals(seeded, sku, point):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--database-url", _url()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "every total is equal in the restored database" in done.stdout
    # The totals it compared are the seeded ones, not empty tables.
    before = backup_restore.totals(
        backup_restore._conninfo(_url()), connection.settings_dict["NAME"]
    )
    assert before["orders"][0][0] == "3"
    by_status = {row[0]: row[1] for row in before["orders by status"]}
    assert by_status == {OrderStatus.CONFIRMED: "2", OrderStatus.PENDING_PAYMENT: "1"}
    row = StockRecord.objects.get(sku=sku, warehouse=point.warehouse, delivery_date=TOMORROW)
    assert (row.quantity, row.sold) == (46, 4)  # 50 - 3 - 2 + 1 refunded
    assert [r[0] for r in before["refunds by status"]] == ["succeeded"]
    assert before["commission entries by kind"] != []
    # Cleaned up: no restored database and no dump left behind.
    with psycopg.connect(**{**backup_restore._conninfo(_url()), "dbname": "postgres"}) as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [f"{connection.settings_dict['NAME']}_restore_%"],
        ).fetchall()
    assert left == []


def test_a_difference_is_reported_and_fails(seeded, tmp_path):
    info = backup_restore._conninfo(_url())
    name = connection.settings_dict["NAME"]
    before = backup_restore.totals(info, name)
    with psycopg.connect(**{**info, "dbname": name}, autocommit=True) as conn:
        conn.execute("UPDATE catalog_stockrecord SET quantity = quantity + 1")
    after = backup_restore.totals(info, name)
    wrong = backup_restore.differences(before, after)
    assert len(wrong) == 1 and wrong[0].startswith("stock rows: source")


def test_a_database_that_cannot_be_dumped_fails_with_its_reason():
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/no_such_db_f1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no_such_db_f1" in done.stderr
