"""Operators review in the admin: every action goes through a service."""

from __future__ import annotations

from datetime import date, time

import pytest
import time_machine
from django.urls import reverse

from leaders import services
from leaders.models import (
    AddressChange,
    ApplicationStatus,
    Leader,
    LeaderApplication,
    LeaderStatus,
    PickupPoint,
    PointStatus,
    ReviewStatus,
)
from tests.admin_html import column_headers, rows
from tests.catalog.factories import WarehouseFactory
from tests.catalog.test_images import picture
from tuangou import timeutils

from .factories import LeaderApplicationFactory, PickupPointFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = "admin:leaders_leaderapplication_changelist"


@pytest.fixture
def applications(community):
    return [LeaderApplicationFactory(community=community, real_name=n) for n in ("王丽", "刘芳")]


def test_the_queue_opens_on_pending_applications(client, operator, applications, community):
    done = LeaderApplicationFactory(community=community, real_name="早已通过", status="approved")
    client.force_login(operator)
    response = client.get(reverse(APPLICATIONS), follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "王丽" in page
    assert "刘芳" in page
    assert done.real_name not in page
    everything = client.get(reverse(APPLICATIONS), HTTP_REFERER=response.request["PATH_INFO"])
    assert everything.status_code == 200
    assert done.real_name in everything.content.decode()


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("status__exact=rejected", ["赵敏"]),
        ("status__exact=pending", ["刘芳", "王丽"]),
        ("kind__exact=store", ["赵敏", "王丽"]),
        ("kind__exact=parent", ["刘芳"]),
        ("q=王", ["王丽"]),
        ("community__district=开福区", ["刘芳"]),
        ("community__district=岳麓区", ["赵敏", "王丽"]),
    ],
)
def test_the_queue_filters_work(client, operator, community, other_community, query, shown):
    """Each filter shows exactly its applications, with their columns in words."""
    for name, kind, where, status in (
        ("王丽", "store", community, "pending"),
        ("刘芳", "parent", other_community, "pending"),
        ("赵敏", "store", community, "rejected"),
    ):
        LeaderApplicationFactory(
            real_name=name, kind=kind, community=where, status=status, point_name=f"{name}的店"
        )
    client.force_login(operator)
    page = client.get(f"{reverse(APPLICATIONS)}?{query}").content.decode()

    assert column_headers(page) == [
        "真实姓名",
        "自提点名称",
        "小区",
        "身份",
        "状态",
        "提交时间",
        "审核人",
    ]
    found = rows(page)
    assert sorted(r[0] for r in found) == sorted(shown)
    for row in found:
        name = row[0]
        expected_kind = "宝妈" if name == "刘芳" else "便利店"
        expected_status = "未通过" if name == "赵敏" else "待审核"
        assert row[1] == f"{name}的店"
        assert row[3:5] == [expected_kind, expected_status]
        assert row[6] == "-"


def test_bulk_approve_makes_leaders_and_points(client, operator, applications):
    client.force_login(operator)
    response = client.post(
        reverse(APPLICATIONS),
        {"action": "approve_selected", "_selected_action": [a.pk for a in applications]},
        follow=True,
    )
    assert "已通过 2 份申请。" in response.content.decode()
    assert Leader.objects.count() == 2
    assert PickupPoint.objects.filter(status=PointStatus.ACTIVE).count() == 2
    assert set(LeaderApplication.objects.values_list("status", flat=True)) == {"approved"}


def test_bulk_reject_asks_for_a_reason_first(client, operator, applications):
    client.force_login(operator)
    ids = [a.pk for a in applications]
    response = client.post(
        reverse(APPLICATIONS), {"action": "reject_selected", "_selected_action": ids}
    )
    assert response.status_code == 200
    assert "以下内容将被驳回" in response.content.decode()
    assert set(LeaderApplication.objects.values_list("status", flat=True)) == {"pending"}

    empty = client.post(
        reverse(APPLICATIONS),
        {"action": "reject_selected", "_selected_action": ids, "apply": "1", "reason": ""},
    )
    assert empty.status_code == 200
    assert set(LeaderApplication.objects.values_list("status", flat=True)) == {"pending"}

    client.post(
        reverse(APPLICATIONS),
        {
            "action": "reject_selected",
            "_selected_action": ids,
            "apply": "1",
            "reason": "小区已有团长",
        },
    )
    assert set(LeaderApplication.objects.values_list("status", "reject_reason")) == {
        (ApplicationStatus.REJECTED, "小区已有团长")
    }
    assert not Leader.objects.exists()


def test_approving_an_approved_application_again_changes_nothing(client, operator, applications):
    client.force_login(operator)
    data = {"action": "approve_selected", "_selected_action": [applications[0].pk]}
    client.post(reverse(APPLICATIONS), data)
    client.post(reverse(APPLICATIONS), data)
    assert Leader.objects.count() == 1


def test_approving_a_rejected_application_says_why_not_in_chinese(client, operator, applications):
    rejected = applications[0]
    services.reject_application(application=rejected, reviewed_by=operator, reason="资料不全")
    client.force_login(operator)
    response = client.post(
        reverse(APPLICATIONS),
        {"action": "approve_selected", "_selected_action": [rejected.pk]},
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert message == f"{rejected}: 团长申请：不能从“未通过”变为“已通过”。"
    assert message in response.content.decode()
    rejected.refresh_from_db()
    assert rejected.status == ApplicationStatus.REJECTED
    assert not Leader.objects.exists()


def test_an_illegal_move_keeps_its_parts_for_code(applications, operator):
    from leaders.models import IllegalTransition

    services.reject_application(application=applications[0], reviewed_by=operator, reason="重复")
    with pytest.raises(IllegalTransition) as refused:
        services.approve_application(application=applications[0], reviewed_by=operator)
    assert (refused.value.current, refused.value.new) == ("rejected", "approved")
    assert str(refused.value) == "团长申请：不能从“未通过”变为“已通过”。"


def test_operators_suspend_a_leader(client, operator, pickup_point):
    client.force_login(operator)
    client.post(
        reverse("admin:leaders_leader_changelist"),
        {"action": "suspend_selected", "_selected_action": [pickup_point.leader.pk]},
    )
    pickup_point.leader.refresh_from_db()
    assert pickup_point.leader.status == LeaderStatus.SUSPENDED


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("", ["幸福里便利店", "阳光花园物业", "新开的自提点"]),
        ("status__exact=active", ["幸福里便利店", "阳光花园物业"]),
        ("status__exact=pending", ["新开的自提点"]),
        ("community", ["幸福里便利店", "新开的自提点"]),
        ("warehouse", ["阳光花园物业"]),
    ],
)
def test_pickup_points_list_with_filters(
    client, operator, pickup_point, other_pickup_point, query, shown
):
    """Each filter (by the real ids of a community and a warehouse) shows exactly
    its points, with their columns in words."""
    other_pickup_point.warehouse = WarehouseFactory(name="长沙开福仓")
    other_pickup_point.save(update_fields=["warehouse"])
    PickupPointFactory(
        leader=pickup_point.leader,
        community=pickup_point.community,
        name="新开的自提点",
        status=PointStatus.PENDING,
    )
    if query == "community":
        query = f"community__id__exact={pickup_point.community_id}"
    elif query == "warehouse":
        query = f"warehouse__id__exact={other_pickup_point.warehouse_id}"
    client.force_login(operator)
    page = client.get(f"{reverse('admin:leaders_pickuppoint_changelist')}?{query}").content.decode()

    assert column_headers(page) == ["名称", "小区", "团长", "仓库", "状态", "每日订单上限"]
    found = {row[0]: row[1:] for row in rows(page)}
    assert sorted(found) == sorted(shown)
    expected = {
        "幸福里便利店": [
            "岳麓区 · 幸福里小区",
            "王丽",
            str(pickup_point.warehouse),
            "营业中",
            "100",
        ],
        "阳光花园物业": ["开福区 · 阳光花园", "周明", "长沙 · 长沙开福仓", "营业中", "100"],
        "新开的自提点": [
            "岳麓区 · 幸福里小区",
            "王丽",
            str(pickup_point.warehouse),
            "等待审核",
            "100",
        ],
    }
    for name, cells in found.items():
        assert cells == expected[name], name


def test_operators_approve_a_new_point(client, operator, leader, community):
    point = PickupPointFactory(leader=leader, community=community, status="pending")
    client.force_login(operator)
    client.post(
        reverse("admin:leaders_pickuppoint_changelist"),
        {"action": "approve_selected", "_selected_action": [point.pk]},
    )
    point.refresh_from_db()
    assert point.status == PointStatus.ACTIVE


def test_operators_review_address_changes(client, operator, pickup_point):
    change = AddressChange.objects.create(point=pickup_point, address="麓谷大道500号")
    client.force_login(operator)
    listing = client.get(reverse("admin:leaders_addresschange_changelist"), follow=True)
    assert "麓谷大道500号" in listing.content.decode()
    client.post(
        reverse("admin:leaders_addresschange_changelist"),
        {
            "action": "reject_selected",
            "_selected_action": [change.pk],
            "apply": "1",
            "reason": "地址不在小区内",
        },
    )
    change.refresh_from_db()
    pickup_point.refresh_from_db()
    assert (change.status, change.reject_reason) == (ReviewStatus.REJECTED, "地址不在小区内")
    assert pickup_point.address == "长沙市岳麓区麓谷大道100号"


def test_finance_cannot_review_applications(client, finance, applications):
    client.force_login(finance)
    response = client.post(
        reverse(APPLICATIONS),
        {"action": "approve_selected", "_selected_action": [applications[0].pk]},
    )
    assert response.status_code == 403
    assert not Leader.objects.exists()


def point_form(point, **overrides):
    """The pickup point's change form as the admin would post it."""
    pause = point.pauses.first()
    photo = point.photos.first()
    data = {
        "name": point.name,
        "daily_capacity": point.daily_capacity,
        "photos-TOTAL_FORMS": point.photos.count(),
        "photos-INITIAL_FORMS": point.photos.count(),
        "pauses-TOTAL_FORMS": point.pauses.count(),
        "pauses-INITIAL_FORMS": point.pauses.count(),
    }
    for day in range(7):  # the opening hours widget: a row per weekday
        opens, closes = point.opening_hours.get(str(day)) or ("", "")
        data[f"opening_hours_open_{day}"] = opens
        data[f"opening_hours_close_{day}"] = closes
    if pause:
        data.update({"pauses-0-id": pause.pk, "pauses-0-point": point.pk})
    if photo:
        data.update({"photos-0-id": photo.pk, "photos-0-point": point.pk})
    data.update(overrides)
    return data


def test_operators_change_a_points_name_capacity_and_hours_but_not_what_is_fixed(
    client, operator, pickup_point, other_pickup_point
):
    """Name, capacity and hours (a row per weekday, the leader pages' rule),
    never the leader, warehouse, community or address; raw JSON is ignored."""
    url = reverse("admin:leaders_pickuppoint_change", args=[pickup_point.pk])
    client.force_login(operator)
    page = client.get(url).content.decode()
    for field in ("opening_hours", "leader", "warehouse", "community", "address"):
        assert f'name="{field}"' not in page
    assert 'name="opening_hours_open_0" value="08:00"' in page
    assert 'name="opening_hours_close_6" value="21:00"' in page
    response = client.post(
        url,
        point_form(
            pickup_point,
            name="幸福里便利店（东门）",
            daily_capacity=150,
            opening_hours='{"0": ["06:00", "07:00"]}',
            opening_hours_open_6="",
            opening_hours_close_6="",
            leader=other_pickup_point.leader_id,
            warehouse=WarehouseFactory().pk,
            community=other_pickup_point.community_id,
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    pickup_point.refresh_from_db()
    assert (pickup_point.name, pickup_point.daily_capacity) == ("幸福里便利店（东门）", 150)
    assert pickup_point.opening_hours == {str(day): ["08:00", "21:00"] for day in range(6)}
    assert pickup_point.leader_id != other_pickup_point.leader_id
    assert pickup_point.community.name == "幸福里小区"
    assert pickup_point.warehouse.name == "长沙望城仓"


def test_operators_cannot_add_pickup_points_in_the_admin(client, operator, pickup_point):
    client.force_login(operator)
    assert client.get(reverse("admin:leaders_pickuppoint_add")).status_code == 403


def test_pauses_and_photos_are_read_only_in_the_point_admin(client, operator, pickup_point):
    with time_machine.travel(timeutils.local_datetime(date(2026, 11, 25), time(9, 0))):
        pause = services.pause_pickup_point_for_day(
            point=pickup_point, day=date(2026, 11, 26), reason="家里有事"
        )
    photo = services.add_point_photo(point=pickup_point, image=picture())
    url = reverse("admin:leaders_pickuppoint_change", args=[pickup_point.pk])
    client.force_login(operator)
    page = client.get(url).content.decode()
    assert "家里有事" in page
    for name in ("pauses-0-reason", "pauses-0-day", "pauses-0-DELETE", "photos-0-DELETE"):
        assert f'name="{name}"' not in page
    assert 'name="pauses-__prefix__-day"' not in page  # no "add another"
    response = client.post(
        url,
        point_form(
            pickup_point,
            **{
                "pauses-0-reason": "改了",
                "pauses-0-DELETE": "on",
                "photos-0-DELETE": "on",
                "pauses-TOTAL_FORMS": 2,
                "pauses-1-day": "2026-12-01",
                "pauses-1-point": pickup_point.pk,
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(pickup_point.pauses.values_list("pk", "reason")) == [(pause.pk, "家里有事")]
    assert list(pickup_point.photos.values_list("pk", flat=True)) == [photo.pk]
