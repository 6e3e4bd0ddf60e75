"""Report jobs: start, run (twice), cancel between chunks, fail, expire; bad input makes no job."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from analytics import jobs as jobs_module
from analytics.exports import EXPORTS
from analytics.jobs import (
    ReportJobError,
    cancel_report_job,
    expire_report_jobs,
    run_report_job,
    start_report_job,
)
from analytics.models import JobStatus, ReportJob
from tests.clock import TODAY
from tuangou.statemachine import IllegalTransition

from .jobs_support import csv_rows, file_bytes, raw_order_sums, xlsx_rows

pytestmark = pytest.mark.django_db

D = Decimal
START = (TODAY - timedelta(days=2)).isoformat()
END = TODAY.isoformat()
BAD_START = "请按 YYYY-MM-DD 格式输入开始日期。"
FUTURE = "日期范围从未来开始，还没有可导出的数据。"


def _start(user, kind="orders", fmt="xlsx", **params):
    return start_report_job(
        user=user, kind=kind, file_format=fmt, params=params or {"start": START, "end": END}
    )


def test_an_orders_export_lists_every_paid_order_with_totals_equal_to_sql(
    history, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = _start(operator)
    assert len(callbacks) == 1  # the task was queued after commit (eager here)
    job.refresh_from_db()
    assert (job.status, job.progress, job.row_count) == (JobStatus.DONE, 100, 10)
    assert job.file.name.startswith("exports/") and job.file.name.endswith(".xlsx")
    assert job.expires_at == job.finished_at + timedelta(hours=72)

    rows = xlsx_rows(file_bytes(job))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:6] == ["订单号", "下单时间", "支付时间", "状态", "订单类型", "顾客手机号"]
    assert header[9:] == ["商品金额", "优惠", "实付", "已退款", "净额"]
    assert sorted(r[0] for r in body) == sorted(o.number for o in history.orders)
    count, goods, discounts, paid, refunded = raw_order_sums(TODAY - timedelta(days=2), TODAY)
    assert count == len(body) == 10
    sums = [sum((D(str(r[i])) for r in body), D("0")) for i in (9, 10, 11, 12, 13)]
    assert sums == [goods, discounts, paid, refunded, paid - refunded]
    assert total[0] == "合计"
    assert [D(str(v)) for v in total[9:]] == sums
    assert refunded == D("3.90")  # the fixture's part refund is in there
    # Phones masked, never whole.
    phones = {r[5] for r in body}
    assert phones == {"138****0001", "138****0002"}


def test_a_csv_export_and_a_person_allowed_personal_data_sees_whole_phones(
    history, operator, django_capture_on_commit_callbacks
):
    operator.user_permissions.add(
        Permission.objects.get(codename="export_personal_data", content_type__app_label="analytics")
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(operator, fmt="csv")
    job.refresh_from_db()
    rows = csv_rows(file_bytes(job))
    assert rows[0][0] == "订单号"
    assert {r[5] for r in rows[1:-1]} == {"13800000001", "13800000002"}
    assert rows[-1][0] == "合计" and rows[-1][11] == str(raw_order_sums(
        TODAY - timedelta(days=2), TODAY
    )[3])  # fmt: skip


def test_the_rfm_export_scores_every_shopper_from_the_facts(
    built, operator, shopper, other_shopper, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(operator, kind="shopper_rfm")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    rows = xlsx_rows(file_bytes(job))
    assert rows[0][:2] == ["顾客编号", "顾客手机号"]
    by_user = {r[0]: r for r in rows[1:]}
    assert set(by_user) == {shopper.pk, other_shopper.pk}
    mine = by_user[shopper.pk]
    # alice: 2 orders a day for three days (the last today); bob: 2 + 1 + 1.
    assert mine[1] == "138****0001"
    assert (mine[3], mine[4], mine[5]) == (END, 0, 6)
    assert by_user[other_shopper.pk][5] == 4
    assert mine[7:10] == [5, 5, 5] and mine[10] == "555" and mine[11] == "重要价值用户"


@pytest.mark.parametrize(
    ("kind", "fmt", "params", "message"),
    [
        ("everything", "xlsx", {"start": START, "end": END}, "未知报表。"),
        ("orders", "pdf", {"start": START, "end": END}, "此报表只提供 XLSX / CSV 格式。"),
        ("orders", "xlsx", {"start": END, "end": START}, "结束日期早于开始日期。"),
        ("orders", "xlsx", {"start": "2024-11-25", "end": END}, "日期范围最多两年，请缩短范围。"),
        ("orders", "xlsx", {"start": "25/11/2026", "end": END}, BAD_START),
        ("orders", "xlsx", {"start": "2026-12-01", "end": "2026-12-02"}, FUTURE),
        ("daily_summary", "pdf", {"day": "2026-12-01"}, "那一天还没有到。"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_chinese_reason_and_creates_no_job(
    clock, operator, kind, fmt, params, message, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ReportJobError) as refused,
    ):
        start_report_job(user=operator, kind=kind, file_format=fmt, params=params)
    assert refused.value.message == message
    assert not ReportJob.objects.exists()
    assert callbacks == []


def test_exactly_two_years_is_allowed(clock, operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = _start(operator, start="2024-11-26", end=END)
    assert job.params == {"start": "2024-11-26", "end": END}


def test_a_shopper_may_not_start_a_job(clock, shopper):
    with pytest.raises(PermissionDenied):
        _start(shopper)
    assert not ReportJob.objects.exists()


def test_a_task_delivered_twice_makes_the_file_once(
    history, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = _start(operator)
    first = run_report_job(job_id=job.pk)
    assert first.status == JobStatus.DONE
    second = run_report_job(job_id=job.pk)
    assert (second.status, second.file.name, second.finished_at) == (
        JobStatus.DONE,
        first.file.name,
        first.finished_at,
    )
    storage = first.file.storage
    assert storage.listdir(first.file.name.rsplit("/", 1)[0])[1] == [
        first.file.name.rsplit("/", 1)[1]
    ]  # one file, not two
    assert run_report_job(job_id=999_999) is None  # a deleted job: nothing to do


def test_a_cancel_between_chunks_stops_the_worker_and_removes_the_partial_file(
    history, operator, settings, monkeypatch, tmp_path, django_capture_on_commit_callbacks
):
    settings.ANALYTICS_EXPORT_CHUNK = 3
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    real_progress = jobs_module._progress
    seen = []

    def progress_that_cancels(job_id):
        report = real_progress(job_id)

        def wrapped(done, total):
            seen.append(done)
            if done == 6:  # the owner clicks 取消 while the third chunk is read
                cancel_report_job(job=ReportJob.objects.get(pk=job_id), user=operator)
            report(done, total)

        return wrapped

    monkeypatch.setattr(jobs_module, "_progress", progress_that_cancels)
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(operator, fmt="csv")
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert seen == [0, 3, 6]  # no chunk read after the cancel
    assert (job.progress, job.row_count, job.file.name) == (30, 3, "")
    assert list(tmp_path.iterdir()) == []  # the partial file is gone
    assert not (settings.PRIVATE_MEDIA_ROOT / "exports").exists()


def test_cancelling_a_finished_job_is_refused_with_a_clear_message(
    history, operator, finance, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(operator)
    job.refresh_from_db()
    with pytest.raises(IllegalTransition) as refused:
        cancel_report_job(job=job, user=operator)
    assert refused.value.message == "报表任务：不能从“已完成”变为“已取消”。"
    with pytest.raises(PermissionDenied):
        cancel_report_job(job=job, user=finance)  # someone else's job
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.file.name


def test_a_failing_export_ends_failed_with_a_plain_reason_and_no_file(
    clock, operator, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setitem(EXPORTS, "orders", EXPORTS["orders"].__class__(
        **{**EXPORTS["orders"].__dict__, "write": broken}
    ))  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(operator)
    job.refresh_from_db()
    assert (job.status, job.file.name) == (JobStatus.FAILED, "")
    assert job.error == "报表生成失败。请重试，或告诉开发人员。"


def test_expired_files_are_deleted_and_stale_runs_fail(
    history, operator, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        old = _start(operator)
    old.refresh_from_db()
    path = old.file.path
    clock.shift(timedelta(hours=71))
    with django_capture_on_commit_callbacks(execute=True):
        young = _start(operator, fmt="csv")
    with django_capture_on_commit_callbacks(execute=False):
        stuck = _start(operator)
    ReportJob.objects.filter(pk=stuck.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now() - timedelta(hours=5)
    )
    assert expire_report_jobs() == 0  # 71 h: still kept; 5 h: still running
    assert ReportJob.objects.get(pk=stuck.pk).status == JobStatus.RUNNING
    clock.shift(timedelta(hours=1))
    assert expire_report_jobs() == 1
    old.refresh_from_db()
    young.refresh_from_db()
    stuck.refresh_from_db()
    assert (old.status, old.file.name) == (JobStatus.EXPIRED, "")
    assert not os.path.exists(path)
    assert young.status == JobStatus.DONE and young.file.storage.exists(young.file.name)
    assert (stuck.status, stuck.error) == (JobStatus.FAILED, "生成报表的进程已停止。请重新开始。")
    assert expire_report_jobs() == 0  # a second sweep changes nothing


def test_a_job_whose_kind_is_gone_fails_plainly(
    clock, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = _start(operator)
    ReportJob.objects.filter(pk=job.pk).update(kind="retired")
    done = run_report_job(job_id=job.pk)
    assert (done.status, done.error) == (JobStatus.FAILED, "报表生成失败。请重试，或告诉开发人员。")
