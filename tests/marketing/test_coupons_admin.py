"""The marketing admin: every model has a page; actions go through services;
the points ledger only grows by an operator's adjustment."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from marketing.models import Coupon, CouponIssueJob, CouponStatus, JobStatus, PointsEntry
from marketing.services.coupons import issue_coupon
from marketing.services.points import balance_of

from .m1_support import give_points, promotion, template

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    root = make_user("root", "+8613900000999", "超级管理员", is_staff=True, is_superuser=True)
    client.force_login(root)
    return client


def test_every_marketing_model_has_an_admin_page_that_opens(clock, admin_client, shopper):
    issue_coupon(template=template(), user=shopper)
    give_points(shopper, 10)
    promotion(("30", "5"))
    for model in apps.get_app_config("marketing").get_models():
        assert admin.site.is_registered(model), model
        url = reverse(f"admin:marketing_{model._meta.model_name}_changelist")
        response = admin_client.get(url + "?q=王")
        assert response.status_code == 200, url


def test_revoking_through_the_admin_takes_back_only_unused_coupons(clock, admin_client, shopper):
    unused = issue_coupon(template=template(), user=shopper)
    used = issue_coupon(template=template(name="b"), user=shopper)
    Coupon.objects.filter(pk=used.pk).update(status=CouponStatus.USED)
    admin_client.post(
        reverse("admin:marketing_coupon_changelist"),
        {"action": "revoke", "_selected_action": [unused.pk, used.pk]},
    )
    assert dict(Coupon.objects.values_list("pk", "status")) == {
        unused.pk: CouponStatus.REVOKED,
        used.pk: CouponStatus.USED,
    }


def test_an_operator_adjusts_points_through_the_ledger(clock, admin_client, shopper):
    response = admin_client.post(
        reverse("admin:marketing_pointsentry_add"),
        {"user": shopper.pk, "delta": "50", "note": "客诉补偿"},
    )
    assert response.status_code == 302
    entry = PointsEntry.objects.get()
    assert (entry.kind, entry.delta, entry.balance_after, entry.note) == (
        "adjusted",
        50,
        50,
        "客诉补偿",
    )
    admin_client.post(
        reverse("admin:marketing_pointsentry_add"), {"user": shopper.pk, "delta": "-80", "note": ""}
    )
    assert balance_of(user=shopper) == 50 and PointsEntry.objects.count() == 1


def test_cancelling_a_job_in_the_admin(clock, admin_client, point):
    job = CouponIssueJob.objects.create(
        template=template(), segment="pickup_point", pickup_point=point
    )
    admin_client.post(
        reverse("admin:marketing_couponissuejob_changelist"),
        {"action": "cancel", "_selected_action": [job.pk]},
    )
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_a_template_without_what_its_kind_needs_is_refused_in_words(clock, admin_client):
    response = admin_client.post(
        reverse("admin:marketing_coupontemplate_add"),
        {
            "name": "坏模板",
            "kind": "fixed",
            "channel": "claim_centre",
            "threshold": "10",
            "scope": "all",
            "validity": "days_after_issue",
            "per_user_limit": "1",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "请填写减免金额。" in html and "请填写有效天数。" in html
    from marketing.models import CouponTemplate

    assert not CouponTemplate.objects.filter(name="坏模板").exists()


def test_a_tier_above_its_threshold_is_refused_in_words(clock, admin_client):
    response = admin_client.post(
        reverse("admin:marketing_promotion_add"),
        {
            "name": "坏满减",
            "starts_at_0": "2026-11-25",
            "starts_at_1": "10:00",
            "ends_at_0": "2026-11-30",
            "ends_at_1": "10:00",
            "scope": "all",
            "is_active": "on",
            "tiers-TOTAL_FORMS": "1",
            "tiers-INITIAL_FORMS": "0",
            "tiers-0-threshold": "10",
            "tiers-0-amount": "20",
        },
    )
    assert response.status_code == 200
    from marketing.models import Promotion

    assert not Promotion.objects.exists()
