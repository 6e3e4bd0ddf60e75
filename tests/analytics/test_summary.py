"""The 08:00 daily summary: numbers from the facts equal SQL over the orders, a PDF
that reads back, mailed once to operators with an email (locmem backend)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core import mail
from pypdf import PdfReader

from analytics.exports import EXPORTS
from analytics.models import DeliveryRunFact, JobStatus
from analytics.summary import build_daily_summary, render_summary_pdf, send_daily_summary
from analytics.tasks import send_daily_summary_task
from tests.clock import TODAY, at
from tests.logistics.conftest import DriverFactory, RouteFactory

from .jobs_support import file_bytes, raw_order_sums

pytestmark = pytest.mark.django_db

D = Decimal
FIRST = TODAY - timedelta(days=2)  # 2026-11-23: 4 orders, one part-refunded


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def late_run(built):
    driver = DriverFactory(name="李师傅")
    route = RouteFactory(code="R07", name="岳麓线", default_driver=driver)
    on_time_route = RouteFactory(code="R08", name="河西线")
    DeliveryRunFact.objects.create(
        day=FIRST, run_id=1, route_id=route.pk, driver_id=driver.pk,
        warehouse_id=route.warehouse_id, stops=6, measured=6, on_time=4, late=2,
        late_minutes=35, max_late_minutes=25, handed_over=6,
    )  # fmt: skip
    DeliveryRunFact.objects.create(
        day=FIRST, run_id=2, route_id=on_time_route.pk, driver_id=None,
        warehouse_id=route.warehouse_id, stops=4, measured=4, on_time=4, late=0,
        handed_over=4,
    )  # fmt: skip
    return route


@pytest.fixture
def operators_with_mail(operator, finance, shopper, make_user):
    from django.contrib.auth.models import Group

    from tuangou.accounts.roles import OPERATORS

    operator.email = "olivia@example.cn"
    operator.save(update_fields=["email"])
    quiet = make_user("quiet", "+8613900000104", "运营无邮箱", is_staff=True)  # no email
    quiet.groups.add(Group.objects.get(name=OPERATORS))
    gone = make_user("gone", "+8613900000105", is_staff=True, email="gone@example.cn")
    gone.groups.add(Group.objects.get(name=OPERATORS))
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    for other in (finance, shopper):  # not operators: never mailed
        other.email = f"{other.username}@example.cn"
        other.save(update_fields=["email"])
    return operator


def test_the_summary_equals_sql_over_the_orders_of_the_day(history, late_run):
    s = build_daily_summary(day=FIRST)
    count, goods, discounts, paid, refunded = raw_order_sums(FIRST, FIRST)
    assert (s.totals.orders, s.totals.gmv, s.totals.discounts) == (count, goods, discounts)
    assert (s.totals.paid, s.totals.refunds) == (paid, refunded)
    assert (count, goods, refunded) == (4, D("74.60"), D("3.90"))
    assert s.totals.net == paid - refunded
    assert s.totals.average_order == (paid / count).quantize(D("0.01"))
    # Top products by GMV, from the facts: tomatoes 3.90 × (2 + 1 + 3), eggs 12.80 × (1 + 1 + 2).
    assert [(p.name, p.units, p.gmv, p.refunds) for p in s.top_products] == [
        ("土鸡蛋", 4, D("51.20"), D("0.00")),
        ("西红柿", 6, D("23.40"), D("3.90")),
    ]
    assert [(r.route, r.driver, r.late, r.max_late_minutes) for r in s.late_runs] == [
        ("R07 岳麓线", "李师傅", 2, 25)
    ]  # the on-time run is not listed
    assert (s.runs, s.measured, s.on_time, s.on_time_rate) == (2, 10, 8, D("80.0"))
    # A week before had nothing: no change to show rather than a division by zero.
    assert (s.last_week.orders, s.gmv_change) == (0, None)


def test_the_summary_pdf_reads_back_in_chinese(history, late_run):
    text = _pdf_text(render_summary_pdf(summary=build_daily_summary(day=FIRST)))
    assert "每日经营简报 2026-11-23" in text
    assert "¥74.60" in text and "¥3.90" in text
    assert "土鸡蛋" in text and "西红柿" in text
    assert "R07 岳麓线" in text and "李师傅" in text
    assert "准时率：80.0%。" in text
    assert "没有迟到的配送。" not in text


def test_an_empty_day_still_makes_a_pdf(built):
    text = _pdf_text(render_summary_pdf(summary=build_daily_summary(day=TODAY - timedelta(days=9))))
    assert "当天没有销售。" in text and "没有迟到的配送。" in text


def test_it_is_mailed_once_to_active_operators_with_an_email(
    settings, history, late_run, operators_with_mail, clock
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    clock.move_to(at(8, 0, day=TODAY))
    assert send_daily_summary(day=FIRST) == 1
    [message] = mail.outbox
    assert message.to == ["olivia@example.cn"]
    assert message.subject == "每日经营简报 2026-11-23"
    assert "¥74.60" in message.body and "配送迟到: 2" in message.body.replace("：", ": ")
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == ("daily-summary-2026-11-23.pdf", "application/pdf")
    assert "西红柿" in _pdf_text(content)
    # Delivered twice (a redelivered task): nothing more is sent.
    assert send_daily_summary(day=FIRST) == 0
    assert len(mail.outbox) == 1


def test_the_beat_task_at_eight_sends_yesterdays_summary(
    settings, history, operators_with_mail, clock
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    entry = django_settings.CELERY_BEAT_SCHEDULE["analytics-daily-summary"]
    assert entry["task"] == "analytics.tasks.send_daily_summary_task"
    assert entry["schedule"] == crontab(hour=8, minute=0)
    assert django_settings.CELERY_TIMEZONE == "Asia/Shanghai"
    clock.move_to(at(8, 0, day=TODAY))
    assert send_daily_summary_task.delay().get() == 1
    assert [m.subject for m in mail.outbox] == ["每日经营简报 2026-11-24"]


def test_a_failed_send_can_be_retried(settings, history, operators_with_mail, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    def down(self, messages):
        raise ConnectionError("smtp down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
    with pytest.raises(ConnectionError):
        send_daily_summary(day=FIRST)
    monkeypatch.undo()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_daily_summary(day=FIRST) == 1


def test_nobody_to_mail_sends_nothing(settings, history, operator):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_daily_summary(day=FIRST) == 0
    assert mail.outbox == []


def test_the_summary_pdf_as_a_report_job(built, operator, django_capture_on_commit_callbacks):
    from analytics.jobs import start_report_job

    assert EXPORTS["daily_summary"].formats == ("pdf",)
    with django_capture_on_commit_callbacks(execute=True):
        job = start_report_job(
            user=operator, kind="daily_summary", file_format="pdf", params={"day": str(FIRST)}
        )
    job.refresh_from_db()
    assert (job.status, job.progress) == (JobStatus.DONE, 100)
    assert job.file.name.endswith(".pdf")
    assert "¥74.60" in _pdf_text(file_bytes(job))


def test_the_summary_runs_six_queries_whatever_the_day(
    history, late_run, django_assert_num_queries
):
    # totals, last week's totals, products, their names, late runs, the day's runs
    with django_assert_num_queries(6):
        build_daily_summary(day=FIRST)
