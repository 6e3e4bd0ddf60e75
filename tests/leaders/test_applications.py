"""Applying to be a leader, and the operator's review."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from leaders import services
from leaders.models import (
    ApplicationStatus,
    IllegalTransition,
    Leader,
    LeaderApplication,
    PickupPoint,
    PickupPointPhoto,
    PointStatus,
)

from .factories import LeaderApplicationFactory, UserFactory, photo_upload

pytestmark = pytest.mark.django_db


def _form(community, **overrides):
    data = {
        "real_name": "王丽",
        "phone": "138 0000 0003",
        "community": str(community.pk),
        "kind": "store",
        "point_name": "幸福里便利店",
        "address": "麓谷大道100号幸福里3栋",
        "latitude": "28.228000",
        "longitude": "112.938800",
        "storefront_photo": photo_upload(),
    }
    for day in range(7):
        data[f"open_{day}"] = "08:00"
        data[f"close_{day}"] = "21:00"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_signed_in_user_applies_on_the_form(client, shopper, community):
    client.force_login(shopper)
    response = client.post(reverse("leaders:apply"), _form(community))
    assert response.status_code == 302
    assert response["Location"] == reverse("leaders:application")
    application = LeaderApplication.objects.get(user=shopper)
    assert application.status == ApplicationStatus.PENDING
    assert application.phone == "+8613800000003"
    assert application.point_name == "幸福里便利店"
    assert application.opening_hours == {str(d): ["08:00", "21:00"] for d in range(7)}
    assert str(application.latitude) == "28.228000"
    assert application.storefront_photo.name.startswith("leaders/applications/")


def test_the_applicant_sees_the_status(client, shopper, community):
    client.force_login(shopper)
    client.post(reverse("leaders:apply"), _form(community))
    page = client.get(reverse("leaders:application")).content.decode()
    assert "待审核" in page


def test_the_form_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("leaders:apply"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_request_login_code"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"real_name": ""}, "必填项"),
        ({"phone": "12345"}, "请输入11位中国大陆手机号"),
        (
            {"storefront_photo": SimpleUploadedFile("shop.png", b"not a photo", "image/png")},
            "这不是图片文件",
        ),
        (
            {**{f"open_{d}": "" for d in range(7)}, **{f"close_{d}": "" for d in range(7)}},
            "自提点需要营业时间",
        ),
        ({"close_0": "07:00"}, "关门时间必须晚于开门时间"),
        ({"close_1": ""}, "请同时填写"),
    ],
    ids=["missing-name", "bad-phone", "not-an-image", "no-opening-hours", "closes-early", "half"],
)
def test_bad_input_gets_a_clear_message_and_writes_nothing(
    client, shopper, community, overrides, message
):
    client.force_login(shopper)
    response = client.post(reverse("leaders:apply"), _form(community, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert LeaderApplication.objects.count() == 0


def test_a_second_open_application_is_refused(shopper, community):
    LeaderApplicationFactory(user=shopper, community=community)
    with pytest.raises(ValidationError, match="已在等待审核"):
        services.submit_application(
            user=shopper,
            real_name="王丽",
            phone="+8613800000001",
            community=community,
            kind="store",
            point_name="又一家",
            address="某路1号",
            opening_hours={0: ("08:00", "20:00")},
            storefront_photo=photo_upload(),
        )
    assert LeaderApplication.objects.filter(user=shopper).count() == 1


def test_approval_creates_the_leader_and_the_first_open_point(operator, community):
    application = LeaderApplicationFactory(community=community, point_name="幸福里便利店")
    leader = services.approve_application(application=application, reviewed_by=operator)

    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.reviewed_by == operator
    assert leader.user_id == application.user_id
    assert leader.is_active
    assert len(leader.share_code) == 12
    [point] = PickupPoint.objects.filter(leader=leader)
    assert point.name == "幸福里便利店"
    assert point.status == PointStatus.ACTIVE
    assert point.warehouse == community.warehouse
    assert point.opening_hours == application.opening_hours
    assert PickupPointPhoto.objects.filter(point=point).count() == 1


def test_approving_twice_makes_one_leader(operator, community):
    application = LeaderApplicationFactory(community=community)
    first = services.approve_application(application=application, reviewed_by=operator)
    second = services.approve_application(application=application, reviewed_by=operator)
    assert first.pk == second.pk
    assert Leader.objects.count() == 1
    assert PickupPoint.objects.count() == 1


def test_share_codes_are_unguessable_and_unique(operator, community):
    leaders = [
        services.approve_application(
            application=LeaderApplicationFactory(community=community), reviewed_by=operator
        )
        for _ in range(3)
    ]
    codes = {leader.share_code for leader in leaders}
    assert len(codes) == 3
    assert all(len(code) == 12 and not code.isdigit() for code in codes)


def test_rejection_needs_a_reason_and_the_applicant_sees_it(client, operator, community):
    application = LeaderApplicationFactory(community=community)
    with pytest.raises(ValidationError):
        services.reject_application(application=application, reviewed_by=operator, reason=" ")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING

    services.reject_application(
        application=application, reviewed_by=operator, reason="门店照片看不清"
    )
    client.force_login(application.user)
    page = client.get(reverse("leaders:application")).content.decode()
    assert "未通过" in page
    assert "门店照片看不清" in page


def test_a_rejected_applicant_edits_and_sends_again(client, operator, community):
    application = LeaderApplicationFactory(community=community)
    services.reject_application(application=application, reviewed_by=operator, reason="地址不全")
    client.force_login(application.user)

    form = client.get(reverse("leaders:apply"))
    assert "地址不全" in form.content.decode()
    response = client.post(
        reverse("leaders:apply"),
        _form(community, address="麓谷大道100号幸福里3栋1单元", storefront_photo=None),
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert LeaderApplication.objects.count() == 1
    assert application.status == ApplicationStatus.PENDING
    assert application.address == "麓谷大道100号幸福里3栋1单元"
    assert application.reject_reason == ""
    assert application.storefront_photo  # the earlier photo stays


def test_an_approved_application_cannot_be_rejected(operator, community):
    application = LeaderApplicationFactory(community=community)
    services.approve_application(application=application, reviewed_by=operator)
    with pytest.raises(IllegalTransition):
        services.reject_application(application=application, reviewed_by=operator, reason="x")


def test_a_leader_cannot_apply_again(client, leader):
    client.force_login(leader.user)
    assert client.get(reverse("leaders:apply"))["Location"] == reverse("leaders:home")


@pytest.mark.django_db(transaction=True)
def test_two_operators_approving_at_once_make_one_leader(make_user):
    from .factories import CommunityFactory

    operators = [make_user(f"op{i}", f"+861390000020{i}") for i in range(2)]
    application = LeaderApplicationFactory(
        user=UserFactory(username="racer"), community=CommunityFactory()
    )
    barrier = threading.Barrier(2)
    results, errors = [], []

    def approve(op):
        try:
            barrier.wait()
            results.append(services.approve_application(application=application, reviewed_by=op))
        except Exception as exc:  # pragma: no cover - shown on failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(op,)) for op in operators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {leader.pk for leader in results} == {Leader.objects.get().pk}
    assert PickupPoint.objects.count() == 1
