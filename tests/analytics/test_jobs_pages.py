"""The report job pages: start, progress (htmx and plain), cancel, download; someone
else's job is a 404, bad input a 400 with the reason and no job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from analytics.models import JobStatus, ReportJob
from tests.clock import TODAY
from tuangou.accounts.roles import OPERATORS

from .jobs_support import xlsx_rows

pytestmark = pytest.mark.django_db

START = (TODAY - timedelta(days=2)).isoformat()
END = TODAY.isoformat()


@pytest.fixture
def other_operator(make_user, operator):
    user = make_user("oscar", "+8613900000103", "运营小周", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    return user


def _post(client, **data):
    form = {"kind": "orders", "file_format": "xlsx", "start": START, "end": END, **data}
    return client.post(reverse("analytics:jobs"), form)


def test_an_operator_starts_an_export_follows_it_and_downloads_it(
    client, history, operator, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    page = client.get(reverse("analytics:jobs"))
    assert page.status_code == 200
    assert "报表任务" in page.content.decode() and "还没有任务。" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client)
    job = ReportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:job", args=[job.code])
    assert (job.kind, job.file_format, job.requested_by, job.params) == (
        "orders",
        "xlsx",
        operator,
        {"start": START, "end": END},
    )

    # Waiting: the card polls itself; a plain link refreshes without JavaScript.
    partial = client.get(reverse("analytics:job", args=[job.code]), headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert 'hx-trigger="every 2s"' in html and "data-job-refresh" in html
    assert "<html" not in html and "等待中" in html

    for callback in callbacks:
        callback()  # the worker runs (eager)
    partial = client.get(reverse("analytics:job", args=[job.code]), headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert "hx-trigger" not in html  # done: no more polling
    assert 'data-job-progress="100"' in html and "已完成" in html
    assert reverse("analytics:job_download", args=[job.code]) in html

    download = client.get(reverse("analytics:job_download", args=[job.code]))
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    assert download["Cache-Control"] == "private, no-store"
    assert "attachment" in download["Content-Disposition"]
    rows = xlsx_rows(b"".join(download.streaming_content))
    assert len(rows) == 1 + 10 + 1  # header, 10 orders, totals

    listing = client.get(reverse("analytics:jobs")).content.decode()
    assert f'data-job="{job.code}"' in listing and "订单明细" in listing


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"kind": "everything"}, "未知报表。"),
        ({"file_format": "doc"}, "未知的文件格式。"),
        ({"file_format": "pdf"}, "此报表只提供 XLSX / CSV 格式。"),
        ({"start": END, "end": START}, "结束日期早于开始日期。"),
        ({"start": "2023-01-01"}, "日期范围最多两年，请缩短范围。"),
        ({"start": "昨天"}, "请按 YYYY-MM-DD 格式输入开始日期。"),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_no_job(client, clock, operator, data, reason):
    client.force_login(operator)
    response = _post(client, **data)
    assert response.status_code == 400
    html = response.content.decode()
    assert reason in html, html[html.find("data-job-form") : html.find("data-job-form") + 900]
    assert not ReportJob.objects.exists()


def test_the_daily_summary_is_asked_for_a_day(
    client, clock, operator, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=False):
        response = _post(client, kind="daily_summary", file_format="pdf", day="2026-11-24")
    assert response.status_code == 302
    assert ReportJob.objects.get().params == {"day": "2026-11-24"}


def test_someone_elses_job_is_a_404_everywhere_but_a_superuser_sees_it(
    client, history, operator, other_operator, make_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(operator)
        _post(client)
    job = ReportJob.objects.get()
    assert job.status == JobStatus.DONE
    client.force_login(other_operator)
    for name in ("job", "job_download"):
        assert client.get(reverse(f"analytics:{name}", args=[job.code])).status_code == 404
    assert client.post(reverse("analytics:job_cancel", args=[job.code])).status_code == 404
    assert f'data-job="{job.code}"' not in client.get(reverse("analytics:jobs")).content.decode()
    boss = make_user("root", "+8613900000999", is_staff=True, is_superuser=True)
    client.force_login(boss)
    assert client.get(reverse("analytics:job_download", args=[job.code])).status_code == 200


def test_cancelling_from_the_page_and_a_finished_job(
    client, history, operator, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=False):
        _post(client)
    job = ReportJob.objects.get()
    response = client.post(reverse("analytics:job_cancel", args=[job.code]), follow=True)
    assert "任务已取消。" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    # Its file never comes: the download is a 404.
    assert client.get(reverse("analytics:job_download", args=[job.code])).status_code == 404
    # Cancelling again: a clear message, nothing changes.
    response = client.post(reverse("analytics:job_cancel", args=[job.code]), follow=True)
    assert "此任务已结束，无法取消。" in response.content.decode()
    assert ReportJob.objects.get().status == JobStatus.CANCELLED


def test_finance_may_run_jobs_too(client, clock, finance, django_capture_on_commit_callbacks):
    client.force_login(finance)
    assert client.get(reverse("analytics:jobs")).status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        assert _post(client).status_code == 302
