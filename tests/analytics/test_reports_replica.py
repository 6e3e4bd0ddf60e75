"""With a replica configured, the reports read it (over its own connection), never the primary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from analytics.selectors import leader_board, sales_report, shopper_behaviour, today_so_far
from tests.clock import NOON_ISH
from tests.test_db_router import replica_alias  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_reports_read_the_replica_and_nothing_from_the_primary(history, built, replica_alias):  # noqa: F811
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        report = sales_report(start=history.days[0], end=history.days[-1])
        board = leader_board(start=history.days[0], end=history.days[-1])
        behaviour = shopper_behaviour(start=history.days[0], end=history.days[-1])
        today = today_so_far(now=NOON_ISH)
    assert report.total.gmv == Decimal("149.20")
    assert len(board) == 2 and behaviour.shoppers == 2
    assert today.today.orders == 1  # by 15:00 only the 09:30 order (the 20:15 ones come later)
    assert on_primary.captured_queries == []
    sqls = " ".join(q["sql"] for q in on_replica.captured_queries)
    assert "analytics_communitydayfact" in sqls and "analytics_shopperspanfact" in sqls
    assert "orders_order" in sqls  # today's live aggregate too
