"""Delivery efficiency (物流数据): numbers per run, route, driver and day, checked
against values worked out by hand from a fixture of runs with set timestamps;
the operators' page, its chart data and its CSV/XLSX export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from logistics.models import (
    DeliveryRun,
    PurchaseOrder,
    PurchaseOrderLine,
    RunStatus,
    RunStop,
    ShortageCut,
    StopException,
    StopStatus,
)
from logistics.selectors import delivery_efficiency
from orders.models import DeliverySignoff, OrderLine, RefundReason, ShortageLine
from orders.services.refunds import refund_lines
from tests.catalog.factories import SkuFactory
from tests.clock import TODAY, TOMORROW, at
from tests.leaders.factories import PickupPointFactory

from .conftest import RouteFactory, paid_order
from .run_support import StopSpec, make_run

D1 = TODAY - timedelta(days=2)  # 2026-11-23
D2 = TODAY - timedelta(days=1)  # 2026-11-24


def stamp(run: DeliveryRun, *, departed, finished=None) -> None:
    status = RunStatus.FINISHED if finished else RunStatus.DEPARTED
    DeliveryRun.objects.filter(pk=run.pk).update(
        status=status, departed_at=departed, finished_at=finished
    )


def visit(stop: RunStop, *, arrived=None, status=StopStatus.HANDED_OVER, exception="") -> None:
    RunStop.objects.filter(pk=stop.pk).update(
        arrived_at=arrived,
        handed_over_at=arrived if status == StopStatus.HANDED_OVER else None,
        status=status,
        exception=exception,
    )


@pytest.fixture
def fleet(clock, driver, other_driver, leader_user):
    """Three runs over two days, set by hand (see each stop's comment).

    北线 R11 (¥180 a run): D1 李师傅 06:00–09:00, D2 赵师傅 06:00–08:00.
    南线 R12 (no cost): D1 赵师傅, left 06:30, still on the road.
    Plus a cancelled run and a run outside the range, which must not count.
    """
    north = RouteFactory(
        code="R11", name="北线", default_driver=driver, cost_per_run=Decimal("180")
    )
    south = RouteFactory(code="R12", name="南线", default_driver=other_driver, cost_per_run=None)
    points = [PickupPointFactory(name=f"点{i}") for i in range(1, 9)]

    def due(h, m=0, day=D1):
        return at(h, m, day=day)

    # D1 北线: on time, 10 min late, 20 min late (and damaged); 12 orders; 3 h on the road.
    a1 = make_run(
        north,
        D1,
        [
            StopSpec(points[0], due=due(8), order_count=4),
            StopSpec(points[1], due=due(8), order_count=3),
            StopSpec(points[2], due=due(8, 30), order_count=5),
        ],
    )
    stamp(a1, departed=at(6, 0, day=D1), finished=at(9, 0, day=D1))
    s1, s2, s3 = a1.stops.order_by("position")
    visit(s1, arrived=at(7, 30, day=D1))
    visit(s2, arrived=at(8, 10, day=D1))
    visit(s3, arrived=at(8, 50, day=D1), exception=StopException.DAMAGED)
    # The leader of 点1 signed for D1 with 2 units missing.
    signoff = DeliverySignoff.objects.create(
        pickup_point=points[0], delivery_date=D1, signed_by=leader_user
    )
    ShortageLine.objects.create(signoff=signoff, sku=SkuFactory(), quantity=2)
    # A shortage at a point and day no run served: not ours.
    other = DeliverySignoff.objects.create(
        pickup_point=points[7], delivery_date=D1, signed_by=leader_user
    )
    ShortageLine.objects.create(signoff=other, sku=SkuFactory(), quantity=9)

    # D2 北线 with 赵师傅: on time (6 orders), on time but the point was closed; 2 h.
    a2 = make_run(
        north,
        D2,
        [
            StopSpec(points[0], due=due(8, day=D2), order_count=6),
            StopSpec(points[1], due=due(8, day=D2), order_count=2),
        ],
        driver=other_driver,
    )
    stamp(a2, departed=at(6, 0, day=D2), finished=at(8, 0, day=D2))
    t1, t2 = a2.stops.order_by("position")
    visit(t1, arrived=at(7, 0, day=D2))
    visit(t2, arrived=at(7, 40, day=D2), status=StopStatus.FAILED, exception="point_closed")

    # D1 南线: 45 min late (2 orders), no pickup time (1 order), not reached yet (3).
    b1 = make_run(
        south,
        D1,
        [
            StopSpec(points[3], due=due(9), order_count=2),
            StopSpec(points[4], due=None, order_count=1),
            StopSpec(points[5], due=due(9), order_count=3),
        ],
    )
    stamp(b1, departed=at(6, 30, day=D1))
    u1, u2, _u3 = b1.stops.order_by("position")
    visit(u1, arrived=at(9, 45, day=D1))
    visit(u2, arrived=at(8, 0, day=D1))

    # Not counted: a cancelled run in range and a finished run before it.
    spare = RouteFactory(code="R13", name="备用线", default_driver=driver)
    c = make_run(spare, D2, [StopSpec(points[6], due=due(8, day=D2))])
    DeliveryRun.objects.filter(pk=c.pk).update(status=RunStatus.CANCELLED)
    old = make_run(spare, D1 - timedelta(days=20), [StopSpec(points[6])])
    stamp(old, departed=at(6, 0, day=old.delivery_date), finished=at(7, 0, day=old.delivery_date))
    return {"north": north, "south": south, "a1": a1, "a2": a2, "b1": b1}


def by_label(groups):
    return {g.label: g.numbers for g in groups}


@pytest.mark.django_db
class TestNumbers:
    def test_each_run_has_its_own_numbers(self, fleet):
        report = delivery_efficiency(start=D1, end=D2)
        runs = {(r.route_code, r.day): r for r in report.runs}
        assert sorted(runs) == [("R11", D1), ("R11", D2), ("R12", D1)]

        a1 = runs[("R11", D1)]
        assert (a1.stops, a1.measured, a1.on_time, a1.late) == (3, 3, 1, 2)
        assert a1.on_time_rate == Decimal("33.3")
        assert a1.average_late_minutes == Decimal("15.0")  # (10 + 20) / 2
        assert a1.max_late == Decimal("20.0")
        assert a1.stops_per_hour == Decimal("1.00")  # 3 handed over in 3 h
        assert a1.damaged == 1 and a1.shortage_units == 2 and a1.cut_units == 0
        assert a1.orders_delivered == 12
        assert a1.cost_per_order == Decimal("15.00")  # ¥180 / 12
        assert a1.driver_name == "李师傅"

        a2 = runs[("R11", D2)]
        assert (a2.on_time_rate, a2.late, a2.max_late) == (Decimal("100.0"), 0, None)
        assert a2.average_late_minutes is None
        assert a2.stops_per_hour == Decimal("0.50")  # 1 handed over in 2 h
        assert a2.cost_per_order == Decimal("30.00")  # ¥180 / 6
        assert a2.driver_name == "赵师傅"

        b1 = runs[("R12", D1)]
        assert (b1.stops, b1.arrived, b1.measured, b1.on_time) == (3, 2, 1, 0)
        assert b1.on_time_rate == Decimal("0.0")
        assert b1.average_late_minutes == Decimal("45.0")
        assert b1.stops_per_hour is None  # still on the road
        assert b1.cost_per_order is None  # the route has no cost
        assert b1.orders_delivered == 3

    def test_the_roll_ups_add_the_runs(self, fleet):
        report = delivery_efficiency(start=D1, end=D2)
        total = report.total
        assert (total.runs, total.stops, total.measured, total.on_time) == (3, 8, 6, 3)
        assert total.on_time_rate == Decimal("50.0")
        assert total.average_late_minutes == Decimal("25.0")  # (10 + 20 + 45) / 3
        assert total.max_late == Decimal("45.0")
        assert total.stops_per_hour == Decimal("0.80")  # (3 + 1) / (3 h + 2 h)
        assert total.cost_per_order == Decimal("20.00")  # ¥360 / 18 orders on costed runs
        assert (total.shortage_units, total.damaged, total.orders_delivered) == (2, 1, 21)

        routes = by_label(report.by_route)
        assert list(routes) == ["R11 北线", "R12 南线"]
        assert routes["R11 北线"].on_time_rate == Decimal("60.0")  # 3 of 5
        assert routes["R11 北线"].stops_per_hour == Decimal("0.80")
        assert routes["R11 北线"].cost_per_order == Decimal("20.00")
        assert routes["R12 南线"].on_time_rate == Decimal("0.0")

        drivers = by_label(report.by_driver)
        assert drivers["李师傅"].on_time_rate == Decimal("33.3")  # D1 北线 only
        assert drivers["赵师傅"].on_time_rate == Decimal("66.7")  # 2 of 3
        assert drivers["赵师傅"].max_late == Decimal("45.0")
        assert drivers["赵师傅"].cost_per_order == Decimal("30.00")

        days = {g.key: g.numbers for g in report.by_day}
        assert days[D1].on_time_rate == Decimal("25.0")  # 1 of 4
        assert days[D1].stops_per_hour == Decimal("1.00")
        assert days[D2].on_time_rate == Decimal("100.0")

    def test_the_chart_has_one_line_per_route_with_gaps(self, fleet):
        chart = delivery_efficiency(start=D1 - timedelta(days=1), end=D2).chart()
        assert chart["days"] == ["2026-11-22", "2026-11-23", "2026-11-24"]
        assert chart["series"] == [
            {"name": "R11 北线", "data": [None, 33.3, 100.0]},
            {"name": "R12 南线", "data": [None, 0.0, None]},
        ]

    def test_a_fixed_number_of_queries_whatever_the_range(
        self, fleet, django_assert_max_num_queries
    ):
        with django_assert_max_num_queries(2):
            report = delivery_efficiency(start=D1 - timedelta(days=300), end=D2)
            report.chart()
        assert report.total.runs == 4

    def test_an_empty_range_has_no_rates(self, fleet):
        report = delivery_efficiency(start=TOMORROW, end=TOMORROW)
        assert report.runs == [] and report.by_route == []
        assert report.total.on_time_rate is None
        assert report.total.cost_per_order is None
        assert report.chart()["series"] == []


@pytest.mark.django_db
def test_units_cut_after_a_short_delivery_count_for_the_run(clock, shopper, point, sku, driver):
    order = paid_order(shopper, point, (sku, 3))
    line = OrderLine.objects.get(order=order)
    route = RouteFactory(code="R21", default_driver=driver)
    run = make_run(route, TOMORROW, [StopSpec(point)])
    cut_refund = refund_lines(order=order, quantities={line.pk: 2}, reason=RefundReason.SHORTAGE)
    refund_lines(order=order, quantities={line.pk: 1}, reason=RefundReason.OPERATOR)  # not a cut
    po = PurchaseOrder.objects.create(
        number="PO-T-1",
        supplier=sku.product.supplier,
        warehouse=point.warehouse,
        delivery_date=TOMORROW,
    )
    po_line = PurchaseOrderLine.objects.create(
        purchase_order=po, sku=sku, demand=3, quantity=3, unit_cost=Decimal("2.00")
    )
    cut = ShortageCut.objects.create(purchase_order_line=po_line, units=2)
    cut.refunds.add(cut_refund)

    report = delivery_efficiency(start=TOMORROW, end=TOMORROW)

    (row,) = report.runs
    assert row.run_id == run.pk
    assert (row.cut_units, row.shortage_units) == (2, 0)


# --- the page ---------------------------------------------------------------------------


URL = "/delivery/reports/efficiency/"


@pytest.mark.django_db
class TestPage:
    def test_the_url_names(self):
        assert reverse("logistics:efficiency") == URL
        assert reverse("logistics:efficiency_export", args=["csv"]) == (
            "/delivery/reports/efficiency/export.csv"
        )

    def test_anonymous_visitors_are_sent_to_log_in(self, client):
        response = client.get(URL)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    def test_staff_without_the_permission_are_refused(self, client, finance):
        client.force_login(finance)
        assert client.get(URL).status_code == 403
        assert client.get(URL + "export.csv").status_code == 403

    def test_operators_see_the_last_14_days_by_default(self, client, operator, fleet):
        client.force_login(operator)
        response = client.get(URL)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'value="2026-11-12"' in html and 'value="2026-11-25"' in html
        assert re.search(r"data-total-rate>\s*50\.0%", html)
        assert re.search(r'data-group="R11 北线">.*?data-rate>60\.0%', html, re.S)
        assert re.search(r'data-group="赵师傅">.*?data-cost>¥30\.00', html, re.S)
        assert f'data-run="{fleet["a1"].pk}"' in html
        assert f'data-run="{fleet["a2"].pk}"' in html
        data = json.loads(
            re.search(
                r'<script id="efficiency-chart-data" type="application/json">(.*?)</script>',
                html,
                re.S,
            ).group(1)
        )
        assert len(data["days"]) == 14
        assert [s["name"] for s in data["series"]] == ["R11 北线", "R12 南线"]
        # No inline script: every script is a file or the chart's JSON.
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert "js/logistics-efficiency.js" in html
        assert "js/vendor/echarts/echarts.common.min.js" in html

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("start=2026-13-01&end=2026-11-25", "请按 YYYY-MM-DD 输入开始日期。"),
            ("start=2026-11-01&end=yesterday", "请按 YYYY-MM-DD 输入结束日期。"),
            ("start=2026-11-25&end=2026-11-01", "结束日期早于开始日期。"),
            ("start=2025-11-01&end=2026-11-25", "日期范围最多一年。"),
        ],
    )
    def test_a_bad_range_gets_a_clear_message(self, client, operator, fleet, query, message):
        client.force_login(operator)
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 400
        html = response.content.decode()
        assert message in html
        assert "data-total" not in html and "efficiency-chart-data" not in html
        export = client.get(f"{URL}export.xlsx?{query}")
        assert export.status_code == 400
        assert message in export.content.decode()

    def test_the_page_runs_a_fixed_number_of_queries(
        self, client, operator, fleet, django_assert_max_num_queries
    ):
        client.force_login(operator)
        client.get(URL)  # warm the session and permission caches
        # The session's user, their permissions (two), the report (two).
        with django_assert_max_num_queries(5):
            response = client.get(URL + "?start=2026-01-01&end=2026-11-25")
        assert response.status_code == 200

    def test_an_unknown_export_format_is_a_404(self, client, operator):
        client.force_login(operator)
        assert client.get(URL + "export.pdf").status_code == 404

    def test_the_csv_export_has_the_runs_and_the_roll_ups(self, client, operator, fleet):
        client.force_login(operator)
        response = client.get(URL + "export.csv?start=2026-11-23&end=2026-11-24")
        assert response.status_code == 200
        assert response["Content-Disposition"] == (
            'attachment; filename="delivery-efficiency-20261123-20261124.csv"'
        )
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0] == ["配送趟次"]
        header = rows[1]
        assert header[:4] == ["配送日期", "线路", "司机", "站点"]
        first = dict(zip(header, rows[2], strict=True))
        assert first["配送日期"] == "2026-11-23" and first["线路"] == "R11 北线"
        assert first["准点率（%）"] == "33.3"
        assert first["每单成本（¥）"] == "15.00"
        assert first["计划发车"] == "2026-11-23 06:00"
        by_route = rows.index(["按线路"])
        assert rows[by_route + 3][0] == "R12 南线"
        assert rows[by_route + 4][0] == "合计"
        assert rows[by_route + 4][5] == "50.0"

    def test_a_name_that_looks_like_a_formula_is_quoted(self, client, operator, fleet):
        driver = fleet["b1"].driver
        driver.name = "=HYPERLINK(1)"
        driver.save(update_fields=["name"])
        client.force_login(operator)
        query = "?start=2026-11-23&end=2026-11-24"
        text = client.get(URL + "export.csv" + query).content.decode("utf-8-sig")
        assert "'=HYPERLINK(1)" in text
        assert ",=HYPERLINK(1)" not in text
        response = client.get(URL + "export.xlsx" + query)
        sheet = load_workbook(io.BytesIO(response.content))["按司机"]
        names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert "'=HYPERLINK(1)" in names and "=HYPERLINK(1)" not in names

    def test_the_xlsx_export_opens_with_numbers(self, client, operator, fleet):
        client.force_login(operator)
        response = client.get(URL + "export.xlsx?start=2026-11-23&end=2026-11-24")
        assert response.status_code == 200
        book = load_workbook(io.BytesIO(response.content))
        assert book.sheetnames == ["配送趟次", "按线路", "按司机", "按日期"]
        drivers = {row[0]: row for row in book["按司机"].iter_rows(min_row=2, values_only=True)}
        assert drivers["赵师傅"][5] == pytest.approx(66.7)
        assert drivers["合计"][1] == 3
        days = [row[0] for row in book["按日期"].iter_rows(min_row=2, values_only=True)]
        # Dates are real dates in the sheet (openpyxl reads them back as datetimes).
        assert [d.date() for d in days[:2]] == [date(2026, 11, 23), date(2026, 11, 24)]
        assert days[2] == "合计"
