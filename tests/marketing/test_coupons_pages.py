"""The coupon and points pages: 领券中心, 我的优惠券 tabs, 我的积分, the 新人券
on a first sign-in, the checkout's coupon choice and its bad input, and the
operators' issue jobs."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from marketing.models import Coupon, CouponChannel, CouponIssueJob, CouponStatus, JobStatus
from marketing.services.coupons import issue_coupon
from orders.models import CartLine, Order
from orders.services.cart import add_to_cart
from tests.orders.shopper_helpers import bind
from tuangou.accounts.models import User

from .m1_support import give_points, template

pytestmark = pytest.mark.django_db


def test_the_claim_centre_shows_whats_left_and_claims_once(clock, client, shopper):
    tmpl = template(name="满30减5", total=3)
    client.force_login(shopper)
    html = client.get(reverse("marketing:claim_centre")).content.decode()
    assert "满30减5" in html and 'data-left="3"' in html
    response = client.post(reverse("marketing:claim", args=[tmpl.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "已领取" in body and 'data-left="2"' in body
    again = client.post(reverse("marketing:claim", args=[tmpl.pk]), HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "已领取过" in again.content.decode()
    assert Coupon.objects.filter(user=shopper).count() == 1


def test_a_sold_out_template_says_so_and_writes_nothing(clock, client, shopper, other_shopper):
    tmpl = template(name="限量1张", total=1)
    issue_coupon(template=tmpl, user=other_shopper)
    client.force_login(shopper)
    response = client.post(reverse("marketing:claim", args=[tmpl.pk]))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "已被领完" in page and "data-sold-out" in page
    assert Coupon.objects.filter(user=shopper).count() == 0


def test_claiming_another_channels_template_is_refused(clock, client, shopper):
    gift = template(name="新人券", channel=CouponChannel.NEW_USER, threshold="0")
    client.force_login(shopper)
    client.post(reverse("marketing:claim", args=[gift.pk]))
    assert Coupon.objects.count() == 0


def test_my_coupons_has_three_tabs(clock, client, shopper, other_shopper):
    unused = issue_coupon(template=template(name="可用券"), user=shopper)
    used = issue_coupon(template=template(name="用过的券"), user=shopper)
    Coupon.objects.filter(pk=used.pk).update(status=CouponStatus.USED, discount=Decimal("5"))
    old = issue_coupon(template=template(name="过期券"), user=shopper)
    Coupon.objects.filter(pk=old.pk).update(valid_until=old.valid_from)
    issue_coupon(template=template(name="别人的券"), user=other_shopper)
    client.force_login(shopper)
    pages = {
        tab: client.get(reverse("marketing:my_coupons"), {"tab": tab}).content.decode()
        for tab in ("unused", "used", "expired")
    }
    assert unused.code in pages["unused"] and "别人的券" not in pages["unused"]
    assert used.code in pages["used"] and "-¥5.00" in pages["used"]
    assert old.code in pages["expired"] and old.code not in pages["unused"]
    assert (
        "未使用" in pages["unused"] and "已使用" in pages["unused"] and "已过期" in pages["unused"]
    )


def test_the_me_page_links_coupons_and_points(clock, client, shopper):
    issue_coupon(template=template(), user=shopper)
    give_points(shopper, 120)
    client.force_login(shopper)
    html = client.get("/me/").content.decode()
    assert 'data-coupon-count="1"' in html and 'data-points="120"' in html
    assert reverse("marketing:claim_centre") in html and reverse("marketing:my_points") in html


def test_my_points_shows_the_balance_and_history(clock, client, shopper):
    give_points(shopper, 120)
    client.force_login(shopper)
    html = client.get(reverse("marketing:my_points")).content.decode()
    assert 'data-points-balance="120"' in html and "+120" in html and "调整" in html


def test_a_first_sign_in_brings_the_new_shopper_coupon_once(clock, client, caplog):
    gift = template(
        name="新人无门槛券", channel=CouponChannel.NEW_USER, threshold="0", amount="3.00"
    )
    caplog.set_level(logging.INFO, logger="tuangou.sms")

    def sign_in(phone):
        response = client.post(reverse("account_request_login_code"), {"phone": phone})
        code = [
            m.group(1)
            for r in caplog.records
            if r.name == "tuangou.sms" and phone[-8:] in r.getMessage()
            for m in [re.search(r"code=(\d{6})\b", r.getMessage())]
            if m
        ][-1]
        client.post(response["Location"], {"code": code})

    sign_in("13655556666")
    user = User.objects.get(phone="+8613655556666")
    assert list(Coupon.objects.values_list("user", "template", "channel")) == [
        (user.pk, gift.pk, CouponChannel.NEW_USER)
    ]
    client.logout()
    clock.shift(timedelta(minutes=2))
    sign_in("13655556666")
    assert Coupon.objects.count() == 1


@pytest.fixture
def cart_client(client, shopper, point, egg_sku):
    bind(shopper, point)
    add_to_cart(user=shopper, sku_id=egg_sku.pk, quantity=2)  # 25.60
    client.force_login(shopper)
    return client


def test_checkout_shows_the_best_coupon_and_places_with_it_and_points(clock, cart_client, shopper):
    best = issue_coupon(template=template(name="满20减5", threshold="20"), user=shopper)
    issue_coupon(template=template(name="满20减2", amount="2.00", threshold="20"), user=shopper)
    give_points(shopper, 500)
    html = cart_client.get(reverse("orders:checkout"), {"use_points": "1"}).content.decode()
    assert f'<option value="{best.code}" selected>' in html
    assert 'name="points" value="500"' in html
    assert "积分抵扣（500积分）" in html and "优惠券 · 满20减5" in html
    response = cart_client.post(
        reverse("orders:checkout"),
        {"coupon": best.code, "points": "500", "note": "", "payable": "0.01", "discount": "99"},
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.payable == Decimal("15.60")  # 25.60 − 5 − 5: the forged fields change nothing
    best.refresh_from_db()
    assert best.status == CouponStatus.LOCKED


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("coupon", "NOTMINE", "不存在或不属于您"),
        ("points", "99999", "积分不足"),
        ("points", "abc", "请输入积分数量"),
        ("coupon", "EXPIRED", "已过期"),
        ("coupon", "HIGH", "还差"),
    ],
)
def test_bad_checkout_input_gets_a_chinese_message_and_writes_nothing(
    clock, cart_client, shopper, other_shopper, field, value, words
):
    give_points(shopper, 100)
    codes = {
        "NOTMINE": issue_coupon(template=template(threshold="0"), user=other_shopper).code,
        "EXPIRED": issue_coupon(template=template(name="过期", threshold="0"), user=shopper).code,
        "HIGH": issue_coupon(template=template(name="满99", threshold="99"), user=shopper).code,
    }
    Coupon.objects.filter(code=codes["EXPIRED"]).update(status=CouponStatus.EXPIRED)
    value = codes.get(value, value)
    response = cart_client.post(reverse("orders:checkout"), {field: value, "note": ""})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert Order.objects.count() == 0
    assert CartLine.objects.count() == 1
    assert not Coupon.objects.filter(status=CouponStatus.LOCKED).exists()


def test_operators_issue_to_a_pickup_points_shoppers_with_progress(
    clock, client, operator, shopper, other_shopper, point, django_capture_on_commit_callbacks
):
    bind(shopper, point)
    bind(other_shopper, point)
    tmpl = template(name="自提点专享", total=10)
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("marketing:issue_jobs"),
            {"template": tmpl.pk, "segment": "pickup_point", "pickup_point": point.pk},
        )
    job = CouponIssueJob.objects.get()
    assert response["Location"] == reverse("marketing:issue_job", args=[job.pk])
    assert (job.status, job.total, job.done, job.issued) == (JobStatus.DONE, 2, 2, 2)
    assert sorted(Coupon.objects.values_list("user", flat=True)) == sorted(
        [shopper.pk, other_shopper.pk]
    )
    partial = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'data-job-status="done"' in partial and "hx-trigger" not in partial
    # Run again (a redelivered task): nothing twice.
    from marketing.services.coupons import run_issue_job

    CouponIssueJob.objects.filter(pk=job.pk).update(status=JobStatus.PENDING)
    run_issue_job(job_id=job.pk)
    assert Coupon.objects.count() == 2


def test_a_waiting_job_can_be_cancelled_and_then_does_nothing(
    clock, client, operator, shopper, point
):
    bind(shopper, point)
    job = CouponIssueJob.objects.create(
        template=template(), segment="pickup_point", pickup_point=point
    )
    client.force_login(operator)
    page = client.get(reverse("marketing:issue_job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in page
    client.post(reverse("marketing:issue_job_cancel", args=[job.pk]))
    from marketing.services.coupons import run_issue_job

    assert run_issue_job(job_id=job.pk).status == JobStatus.CANCELLED
    assert Coupon.objects.count() == 0


def test_shoppers_cannot_open_the_issue_pages(clock, client, shopper):
    client.force_login(shopper)
    assert client.get(reverse("marketing:issue_jobs")).status_code == 403


def test_an_issue_job_without_its_segment_target_is_refused_in_words(clock, client, operator):
    tmpl = template()
    client.force_login(operator)
    response = client.post(
        reverse("marketing:issue_jobs"), {"template": tmpl.pk, "segment": "community"}
    )
    assert response.status_code == 400
    assert "请选择小区。" in response.content.decode()
    assert not CouponIssueJob.objects.exists()


def test_claiming_a_template_that_does_not_exist_is_a_message_not_an_error(clock, client, shopper):
    client.force_login(shopper)
    response = client.post(reverse("marketing:claim", args=[999999]), follow=True)
    assert response.status_code == 200
    assert "已下架或已结束领取" in response.content.decode()
    assert (
        client.post(reverse("marketing:claim", args=[999999]), HTTP_HX_REQUEST="true").status_code
        == 404
    )
    assert Coupon.objects.count() == 0
