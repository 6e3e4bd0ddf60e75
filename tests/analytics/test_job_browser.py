# ruff: noqa: F811 - the real-worker fixtures are imported from tests/workers.py
"""An operator on a phone (iPhone 13, zh-CN) starts an XLSX export of orders; a real
Celery worker makes it while the htmx progress bar climbs to 100%; the download
opens with openpyxl and its totals equal SQL sums over the orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from analytics.models import JobStatus, ReportJob
from tests.clock import TODAY
from tests.leaders.browsers import new_phone
from tests.workers import celery_worker, eager_celery  # noqa: F401 - fixtures

from .jobs_support import raw_order_sums, xlsx_rows

# The worker runs in a thread of this process: it reads the same (ticking) clock.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.ticking,
    pytest.mark.django_db(transaction=True),
]

D = Decimal
START = TODAY - timedelta(days=2)


def test_an_operator_exports_a_range_of_orders_as_xlsx_on_a_phone(
    clock, history, celery_worker, browser, browser_context_args, live_server, settings,
    operator, tmp_path,
):  # fmt: skip
    settings.SITE_URL = live_server.url
    settings.ANALYTICS_EXPORT_CHUNK = 3  # 10 orders: four chunks, progress in steps
    context, phone = new_phone(browser, browser_context_args, live_server, operator)
    phone.goto(f"{live_server.url}/reports/jobs/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.select_option("select[name=kind]", "orders")
    phone.select_option("select[name=file_format]", "xlsx")
    phone.fill("input[name=start]", START.isoformat())
    phone.fill("input[name=end]", TODAY.isoformat())
    phone.click("[data-job-start]")

    phone.wait_for_selector("#job-progress")
    job = ReportJob.objects.get()
    assert phone.url == f"{live_server.url}/reports/jobs/{job.code}/"
    # htmx swaps the card every 2 s until the worker is done.
    phone.wait_for_selector("#job-progress[data-job-status=done]", timeout=30_000)
    assert phone.get_attribute("#job-progress", "data-job-progress") == "100"
    assert phone.evaluate(
        "document.querySelector('#job-progress .progress > span').style.width"
    ) == "100%"  # fmt: skip
    assert "已完成" in phone.inner_text("#job-progress")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    with phone.expect_download() as info:
        phone.click("#job-progress [data-download]")
    download = info.value
    assert download.suggested_filename == f"订单明细_{START}_{TODAY}.xlsx"
    saved = tmp_path / "orders.xlsx"
    download.save_as(saved)
    rows = xlsx_rows(saved.read_bytes())
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[0] == "订单号" and header[11] == "实付"
    count, goods, discounts, paid, refunded = raw_order_sums(START, TODAY)
    assert len(body) == count == 10
    assert total[0] == "合计"
    assert [D(str(v)) for v in total[9:]] == [goods, discounts, paid, refunded, paid - refunded]
    assert sum((D(str(r[11])) for r in body), D("0")) == paid
    job.refresh_from_db()
    assert (job.status, job.row_count) == (JobStatus.DONE, 10)
    context.close()
