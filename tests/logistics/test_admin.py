# ruff: noqa: F811 - pytest fixtures imported from the logistics conftest and support
"""Logistics in the admin: every page opens; routes and their stops (a point on two
routes is a clear Chinese message, moving a point works); waves read-only with their
problems, documents and the rerun action; runs; purchase orders sent and cancelled
through the purchasing services; the role that may do it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from logistics.models import (
    DeliveryRun,
    PurchaseOrder,
    PurchaseStatus,
    RouteStop,
    RunStatus,
    Wave,
    WaveStatus,
)
from logistics.services.purchasing import draft_purchase_orders
from tests.admin_html import column_headers, rows
from tests.admin_html import text as page_text
from tuangou.accounts.roles import FINANCE, WAREHOUSE, sync_roles

from .conftest import (  # noqa: F401 - fixtures
    DriverFactory,
    RouteFactory,
    VehicleFactory,
    driver,
    eager_celery,
    egg_sku,
    other_pickup_point,
    point,
    route,
    sku,
)
from .documents_support import carol, wave, wave_skus  # noqa: F401

pytestmark = pytest.mark.django_db

LOGISTICS_MODELS = [
    "vehicle",
    "driver",
    "route",
    "routestop",
    "wave",
    "deliveryrun",
    "purchaseorder",
    "inventoryitem",
    "shortagecut",
    "uncollecteddisposal",
]


@pytest.fixture
def root(make_user):
    return make_user("root", "+8613900000999", "超级管理员", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def keeper_client(client, make_user):
    sync_roles()
    user = make_user("wang", "+8613900000201", "仓库老王", is_staff=True)
    user.groups.add(Group.objects.get(name=WAREHOUSE))
    client.force_login(user)
    return client


def _change_data(route, stops, **extra) -> dict:
    """The route change form's POST: its fields and the stops inline."""
    data = {
        "warehouse": route.warehouse_id,
        "code": route.code,
        "name": route.name,
        "vehicle": route.vehicle_id or "",
        "default_driver": route.default_driver_id or "",
        "departure_time": route.departure_time.strftime("%H:%M:%S"),
        "cost_per_run": route.cost_per_run or "",
        "is_active": "on",
        "stops-TOTAL_FORMS": len(stops),
        "stops-INITIAL_FORMS": sum(1 for s in stops if s.get("id")),
        "stops-MIN_NUM_FORMS": 0,
        "stops-MAX_NUM_FORMS": 1000,
        **extra,
    }
    for i, stop in enumerate(stops):
        for key, value in stop.items():
            data[f"stops-{i}-{key}"] = value
        data[f"stops-{i}-route"] = route.pk or ""
    return data


# --- every page opens -------------------------------------------------------------------


def test_every_logistics_admin_page_opens_for_the_warehouse_role(keeper_client, clock, wave):
    draft_purchase_orders(wave=wave)
    for model in LOGISTICS_MODELS:
        base = f"admin:logistics_{model}"
        listing = keeper_client.get(reverse(f"{base}_changelist"))
        assert listing.status_code == 200, model
        assert keeper_client.get(reverse(f"{base}_changelist") + "?q=王").status_code == 200
    for model, obj in [
        ("wave", wave),
        ("deliveryrun", wave.runs.get()),
        ("route", wave.runs.get().route),
        ("purchaseorder", PurchaseOrder.objects.first()),
        ("routestop", RouteStop.objects.first()),
    ]:
        assert (
            keeper_client.get(reverse(f"admin:logistics_{model}_change", args=[obj.pk])).status_code
            == 200
        )
    for model in ("vehicle", "driver", "route", "routestop"):
        assert keeper_client.get(reverse(f"admin:logistics_{model}_add")).status_code == 200
    # What the services write is never added by hand.
    for model in ("wave", "deliveryrun", "purchaseorder", "inventoryitem", "shortagecut"):
        assert keeper_client.get(reverse(f"admin:logistics_{model}_add")).status_code == 403


def test_the_warehouse_role_finds_pickup_points_for_route_stops(keeper_client, clock, point):
    response = keeper_client.get(
        reverse("admin:autocomplete"),
        {
            "term": point.name[:2],
            "app_label": "logistics",
            "model_name": "routestop",
            "field_name": "pickup_point",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == [str(point)]


def test_finance_cannot_open_the_logistics_admin(client, clock, wave, make_user):
    sync_roles()
    user = make_user("fiona", "+8613900000102", "财务王姐", is_staff=True)
    user.groups.add(Group.objects.get(name=FINANCE))
    client.force_login(user)
    assert client.get(reverse("admin:logistics_wave_changelist")).status_code == 403
    assert client.get(reverse("admin:logistics_route_changelist")).status_code == 403


def test_the_route_list_speaks_chinese(admin_client, clock, route):
    page = admin_client.get(reverse("admin:logistics_route_changelist")).content.decode()
    assert column_headers(page) == [
        "线路编号",
        "名称",
        "仓库",
        "车辆",
        "默认司机",
        "计划发车",
        "站点数",
        "每趟成本（元）",
        "有效",
    ]
    assert rows(page)[0][:2] == ["R01", "岳麓线"] and rows(page)[0][6] == "2"


# --- routes and stops -------------------------------------------------------------------


def test_a_point_already_on_another_route_is_refused_with_a_chinese_message(
    admin_client, clock, route, point
):
    other = RouteFactory(code="R02", name="河西线")
    response = admin_client.post(
        reverse("admin:logistics_route_change", args=[other.pk]),
        _change_data(other, [{"position": 1, "pickup_point": point.pk}]),
    )
    assert response.status_code == 200  # the form again, not an IntegrityError page
    text = page_text(response.content.decode())
    assert f"自提点“{point.name}”已在线路 R01 岳麓线 上" in text
    assert RouteStop.objects.get(pickup_point=point).route_id == route.pk
    assert not RouteStop.objects.filter(route=other).exists()


def test_a_point_put_on_two_routes_at_once_is_a_message_not_a_500(
    admin_client, clock, route, point, monkeypatch
):
    """Two operators at the same moment: both pass the form check (simulated by
    switching it off), the unique constraint stops the second save."""
    import logistics.admin

    monkeypatch.setattr(logistics.admin, "point_route_conflict", lambda **kwargs: None)
    other = RouteFactory(code="R02", name="河西线")
    url = reverse("admin:logistics_route_change", args=[other.pk])
    response = admin_client.post(
        url, _change_data(other, [{"position": 1, "pickup_point": point.pk}])
    )
    assert response.status_code == 302 and response["Location"] == url
    page = admin_client.get(url).content.decode()
    assert "有人刚刚把其中一个自提点放到了线路上" in page
    assert RouteStop.objects.get(pickup_point=point).route_id == route.pk
    assert not RouteStop.objects.filter(route=other).exists()


def test_the_same_point_twice_on_one_new_route_is_refused(admin_client, clock, point):
    vehicle = VehicleFactory()
    data = {
        "warehouse": point.warehouse_id,
        "code": "R03",
        "name": "新线",
        "vehicle": vehicle.pk,
        "default_driver": "",
        "departure_time": "06:00:00",
        "cost_per_run": "",
        "is_active": "on",
        "stops-TOTAL_FORMS": 2,
        "stops-INITIAL_FORMS": 0,
        "stops-MIN_NUM_FORMS": 0,
        "stops-MAX_NUM_FORMS": 1000,
        "stops-0-position": 1,
        "stops-0-pickup_point": point.pk,
        "stops-1-position": 2,
        "stops-1-pickup_point": point.pk,
    }
    response = admin_client.post(reverse("admin:logistics_route_add"), data)
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert not RouteStop.objects.exists()


def test_moving_a_point_between_routes_in_the_admin(admin_client, clock, route, point):
    other = RouteFactory(code="R02", name="河西线")
    stop = RouteStop.objects.get(pickup_point=point)
    # From the route stops list: change the stop's route.
    response = admin_client.post(
        reverse("admin:logistics_routestop_change", args=[stop.pk]),
        {"route": other.pk, "pickup_point": point.pk, "position": 1},
    )
    assert response.status_code == 302, page_text(response.content.decode())[:500]
    stop.refresh_from_db()
    assert stop.route_id == other.pk
    # Or: remove it from one route's page, then add it on the other's.
    first = admin_client.post(
        reverse("admin:logistics_route_change", args=[other.pk]),
        _change_data(
            other,
            [{"id": stop.pk, "position": 1, "pickup_point": point.pk, "DELETE": "on"}],
        ),
    )
    assert first.status_code == 302
    assert not RouteStop.objects.filter(pickup_point=point).exists()
    second = admin_client.post(
        reverse("admin:logistics_route_change", args=[route.pk]),
        _change_data(
            route,
            [
                {
                    "id": s.pk,
                    "position": s.position,
                    "pickup_point": s.pickup_point_id,
                }
                for s in route.stops.order_by("position")
            ]
            + [{"position": 9, "pickup_point": point.pk}],
        ),
    )
    assert second.status_code == 302
    assert RouteStop.objects.get(pickup_point=point).route_id == route.pk


def test_a_point_of_another_warehouse_cannot_join_a_route(admin_client, clock, route):
    from tests.catalog.factories import WarehouseFactory

    far = WarehouseFactory(name="株洲仓")
    far_route = RouteFactory(code="Z01", warehouse=far, vehicle=VehicleFactory(warehouse=far))
    point = route.stops.first().pickup_point
    RouteStop.objects.filter(pickup_point=point).delete()
    response = admin_client.post(
        reverse("admin:logistics_route_change", args=[far_route.pk]),
        _change_data(far_route, [{"position": 1, "pickup_point": point.pk}]),
    )
    assert response.status_code == 200
    assert "由其他仓库配送" in page_text(response.content.decode())
    assert not RouteStop.objects.filter(pickup_point=point).exists()


# --- waves ------------------------------------------------------------------------------


def test_the_wave_page_is_read_only_with_problems_and_document_links(
    admin_client, clock, wave, route, point
):
    Wave.objects.filter(pk=wave.pk).update(
        problems=[{"kind": "route_without_vehicle", "route": route.pk, "name": "R09 河西线"}]
    )
    page = admin_client.get(reverse("admin:logistics_wave_change", args=[wave.pk])).content.decode()
    assert "R09 河西线" in page and "route_without_vehicle" not in page
    assert 'name="delivery_date"' not in page  # nothing to edit
    # Its runs and demand, read-only: milk is chilled, 4 units of 1.05 kg.
    text = page_text(page)
    assert "鲜牛奶 1L/瓶 冷藏 4 4.2" in text
    assert reverse("admin:logistics_deliveryrun_change", args=[wave.runs.get().pk]) in page
    run = wave.runs.get()
    labels = reverse("logistics:wave_document", args=[wave.pk, "labels", "pdf"])
    runsheet = reverse("logistics:wave_document", args=[wave.pk, "runsheet", "pdf"])
    assert f"{labels}?route={route.pk}" in page
    assert f"{runsheet}?run={run.pk}" in page
    assert admin_client.get(f"{runsheet}?run={run.pk}").status_code == 200
    listing = admin_client.get(reverse("admin:logistics_wave_changelist")).content.decode()
    assert column_headers(listing)[:3] == ["配送日期", "仓库", "状态"]
    assert rows(listing)[0][2] == "已完成"


def test_the_rerun_action_rebuilds_the_wave_through_the_wave_task(
    keeper_client, clock, wave, django_capture_on_commit_callbacks
):
    from logistics.models import PickItem

    PickItem.objects.filter(wave=wave).update(picked_quantity=1)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = keeper_client.post(
            reverse("admin:logistics_wave_changelist"),
            {"action": "rerun_waves", "_selected_action": [wave.pk]},
            follow=True,
        )
    assert len(callbacks) == 1
    assert "正在重新生成 1 个波次" in response.content.decode()
    wave.refresh_from_db()
    assert wave.status == WaveStatus.DONE
    # The wave service rebuilt the same lists from the day's orders (ticks start again).
    assert wave.line_count == 7 and wave.unit_count == 12
    assert not PickItem.objects.filter(wave=wave, picked_quantity__isnull=False).exists()


def test_the_rerun_action_skips_a_running_wave_and_one_whose_run_left(
    keeper_client, clock, wave, django_capture_on_commit_callbacks
):
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.RUNNING)
    with django_capture_on_commit_callbacks() as callbacks:
        response = keeper_client.post(
            reverse("admin:logistics_wave_changelist"),
            {"action": "rerun_waves", "_selected_action": [wave.pk]},
            follow=True,
        )
    assert callbacks == [] and "正在生成中，请等待完成" in response.content.decode()
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.DONE)
    DeliveryRun.objects.filter(wave=wave).update(status=RunStatus.DEPARTED)
    with django_capture_on_commit_callbacks() as callbacks:
        response = keeper_client.post(
            reverse("admin:logistics_wave_changelist"),
            {"action": "rerun_waves", "_selected_action": [wave.pk]},
            follow=True,
        )
    assert callbacks == [] and "已有配送任务发车" in response.content.decode()


# --- delivery runs ----------------------------------------------------------------------


def test_a_planned_runs_driver_can_change_and_a_departed_runs_cannot(admin_client, clock, wave):
    run = wave.runs.get()
    relief = DriverFactory(name="钱师傅")
    url = reverse("admin:logistics_deliveryrun_change", args=[run.pk])
    inline = {
        "stops-TOTAL_FORMS": run.stops.count(),
        "stops-INITIAL_FORMS": run.stops.count(),
        "stops-MIN_NUM_FORMS": 0,
        "stops-MAX_NUM_FORMS": 1000,
    }
    inline.update({f"stops-{i}-id": s.pk for i, s in enumerate(run.stops.order_by("position"))})
    inline.update({f"stops-{i}-run": run.pk for i in range(run.stops.count())})
    response = admin_client.post(url, {"driver": relief.pk, "vehicle": run.vehicle_id, **inline})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.driver_id == relief.pk
    DeliveryRun.objects.filter(pk=run.pk).update(status=RunStatus.DEPARTED)
    page = admin_client.get(url).content.decode()
    assert 'name="driver"' not in page
    admin_client.post(url, {"driver": "", "vehicle": "", **inline})
    run.refresh_from_db()
    assert run.driver_id == relief.pk and run.vehicle_id is not None


# --- purchase orders --------------------------------------------------------------------


def test_send_and_cancel_go_through_the_purchasing_services(keeper_client, clock, wave):
    drafts = draft_purchase_orders(wave=wave)
    assert drafts
    first = drafts[0]
    changelist = reverse("admin:logistics_purchaseorder_changelist")
    response = keeper_client.post(
        changelist, {"action": "send_selected", "_selected_action": [first.pk]}, follow=True
    )
    assert "已发送 1 张采购单" in response.content.decode()
    first.refresh_from_db()
    assert first.status == PurchaseStatus.SENT and first.sent_at is not None
    keeper_client.post(changelist, {"action": "cancel_selected", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == PurchaseStatus.CANCELLED
    # Sending a cancelled order: the guard's reason, and nothing changes.
    response = keeper_client.post(
        changelist, {"action": "send_selected", "_selected_action": [first.pk]}, follow=True
    )
    assert first.number in response.content.decode()
    assert "已发送 1 张采购单" not in response.content.decode()
    first.refresh_from_db()
    assert first.status == PurchaseStatus.CANCELLED


def test_a_draft_line_refuses_a_negative_cost_and_a_sent_order_is_read_only(
    admin_client, clock, wave
):
    po = draft_purchase_orders(wave=wave)[0]
    line = po.lines.first()
    url = reverse("admin:logistics_purchaseorder_change", args=[po.pk])
    data = {
        "note": "",
        "lines-TOTAL_FORMS": 1,
        "lines-INITIAL_FORMS": 1,
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 1000,
        "lines-0-id": line.pk,
        "lines-0-purchase_order": po.pk,
        "lines-0-quantity": line.quantity,
        "lines-0-unit_cost": "-1.00",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "单位成本不能为负数" in response.content.decode()
    line.refresh_from_db()
    assert line.unit_cost >= 0
    data["lines-0-unit_cost"] = "6.50"
    data["lines-0-quantity"] = "-3"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    line.refresh_from_db()
    assert line.quantity >= 0
    PurchaseOrder.objects.filter(pk=po.pk).update(status=PurchaseStatus.SENT)
    page = admin_client.get(url).content.decode()
    assert 'name="lines-0-quantity"' not in page
    assert reverse("logistics:purchase_order", args=[po.number]) in page
