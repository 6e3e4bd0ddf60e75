# ruff: noqa: F811 - pytest fixtures imported from the logistics conftest and support
"""The warehouse day page: who may open it, the day it shows, the wave's status and
progress, ticks on the floor, and the documents served only through checked views."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from logistics.models import PackItem, PickItem, Wave, WaveStatus
from tests.orders.conftest import TOMORROW
from tuangou.accounts.roles import FINANCE, WAREHOUSE, sync_roles

from .conftest import (  # noqa: F401 - fixtures
    driver,
    eager_celery,
    egg_sku,
    other_pickup_point,
    point,
    route,
    sku,
)
from .documents_support import carol, pdf_text, wave, wave_skus  # noqa: F401

pytestmark = pytest.mark.django_db

DAY = reverse("logistics:warehouse_day")


def _staff(user, *, role: str | None = None, perms: tuple[str, ...] = ()):
    sync_roles()
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    if role:
        user.groups.add(Group.objects.get(name=role))
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return user


@pytest.fixture
def keeper(make_user):
    """仓库 staff: the warehouse and purchasing role."""
    return _staff(make_user("wang", "+8613900000201", "仓库老王"), role=WAREHOUSE)


@pytest.fixture
def keeper_client(client, keeper):
    client.force_login(keeper)
    return client


def _doc_url(wave, kind, fmt, **params):
    url = reverse("logistics:wave_document", args=[wave.pk, kind, fmt])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


# --- who may open it --------------------------------------------------------------------


def test_anonymous_goes_to_the_staff_login(client, clock):
    response = client.get(DAY)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_shoppers_finance_and_bare_staff_are_refused_pages_and_documents(
    client, clock, wave, shopper, make_user
):
    finance = _staff(make_user("fiona", "+8613900000102", "财务王姐"), role=FINANCE)
    bare = _staff(make_user("sam", "+8613900000301", "客服"))
    pick = PickItem.objects.filter(wave=wave).first()
    for user in (shopper, finance, bare):
        client.force_login(user)
        for url in (
            DAY,
            reverse("logistics:wave_status", args=[wave.pk]),
            reverse("logistics:day_status") + f"?warehouse={wave.warehouse_id}",
            reverse("logistics:picking", args=[wave.pk, "ambient"]),
            _doc_url(wave, "picking", "pdf"),
            _doc_url(wave, "labels", "csv", point=pick.pk),
        ):
            assert client.get(url).status_code == 403, (user, url)
        assert (
            client.post(reverse("logistics:pick_item", args=[wave.pk, pick.pk])).status_code == 403
        )
    pick.refresh_from_db()
    assert pick.picked_quantity is None


def test_a_viewer_without_change_rights_sees_the_page_but_cannot_tick_or_start(
    client, clock, wave, make_user
):
    viewer = _staff(make_user("vic", "+8613900000302", "看板"), perms=("logistics.view_wave",))
    client.force_login(viewer)
    page = client.get(DAY)
    assert page.status_code == 200
    html = page.content.decode()
    assert "重新生成波次" not in html and 'name="action"' not in html
    pick = PickItem.objects.filter(wave=wave).first()
    assert client.post(reverse("logistics:pick_item", args=[wave.pk, pick.pk])).status_code == 403
    assert (
        client.post(
            reverse("logistics:wave_start"),
            {"warehouse": wave.warehouse_id, "date": TOMORROW.isoformat()},
        ).status_code
        == 403
    )
    assert client.get(_doc_url(wave, "picking", "csv")).status_code == 200
    pick.refresh_from_db()
    assert pick.picked_quantity is None


# --- the day ----------------------------------------------------------------------------


def test_the_page_defaults_to_tomorrow_in_shanghai_and_shows_the_wave(keeper_client, clock, wave):
    response = keeper_client.get(DAY)
    assert response.status_code == 200
    assert response.context["day"] == TOMORROW
    html = response.content.decode()
    assert 'data-status="done"' in html
    assert '<b data-count="orders">4</b>' in html
    assert '<b data-count="lines">7</b>' in html
    assert '<b data-count="units">12</b>' in html
    # Picking progress per storage class, packing per route, the run with its sheet.
    assert [(p.storage_class, p.lines, p.picked) for p in response.context["picking"]] == [
        ("ambient", 2, 0),
        ("chilled", 1, 0),
        ("frozen", 1, 0),
    ]
    [r01] = response.context["packing"]
    assert (r01.route_code, r01.points, r01.lines, r01.packed) == ("R01", 2, 6, 0)
    assert _doc_url(wave, "picking", "pdf", storage="chilled") in html.replace("&amp;", "&")
    [run] = response.context["runs"]
    assert _doc_url(wave, "runsheet", "pdf", run=run.pk) in html
    # No hx polling once done.
    assert "every 2s" not in html


def test_the_day_shows_the_wave_problems_in_chinese(keeper_client, clock, wave, point):
    Wave.objects.filter(pk=wave.pk).update(
        problems=[
            {"kind": "point_without_route", "point": point.pk, "name": "阳光小区"},
            {"kind": "route_without_vehicle", "route": 1, "name": "R09 河西线"},
        ]
    )
    html = keeper_client.get(DAY).content.decode()
    assert 'data-problems="2"' in html
    assert "阳光小区" in html and "R09 河西线" in html
    assert "point_without_route" not in html and "route_without_vehicle" not in html


def test_a_day_without_a_wave_offers_to_start_one(keeper_client, clock, point):
    html = keeper_client.get(DAY).content.decode()
    assert 'data-status="none"' in html and "这一天还没有波次" in html
    assert "生成波次" in html


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("?warehouse=abc", 404, None),
        ("?warehouse=999999", 404, None),
        ("?date=2026-13-45", 400, "不是有效日期"),
        ("?date=tomorrow", 400, "不是有效日期"),
        ("?date=2026-11-30", 400, "最多只能查看未来 3 天"),
        ("?date=2026-10-01", 400, "太早了"),
    ],
)
def test_bad_input_is_a_404_or_a_reason_never_a_500(
    keeper_client, clock, point, query, status, text
):
    response = keeper_client.get(DAY + query)
    assert response.status_code == status
    if text:
        assert text in response.content.decode()
    assert not Wave.objects.exists()


def test_the_status_card_polls_while_running_and_reloads_the_page_when_done(
    keeper_client, clock, wave
):
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.RUNNING, progress=40)
    html = keeper_client.get(DAY).content.decode()
    status_url = reverse("logistics:wave_status", args=[wave.pk])
    assert f'hx-get="{status_url}?was=running"' in html and 'hx-trigger="every 2s"' in html
    assert 'aria-valuenow="40"' in html and "width: 40%" in html
    # While running: no documents, the start button disabled.
    assert "wave_document" not in html and "/documents/" not in html
    assert "disabled" in html
    partial = keeper_client.get(status_url + "?was=running", HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in partial and 'aria-valuenow="40"' in partial.content.decode()
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.DONE, progress=100)
    partial = keeper_client.get(status_url + "?was=running", HTTP_HX_REQUEST="true")
    assert partial["HX-Refresh"] == "true"
    assert keeper_client.get(reverse("logistics:wave_status", args=[10**9])).status_code == 404


# --- starting the wave ------------------------------------------------------------------


def test_the_start_button_builds_the_wave_on_the_worker_after_commit(
    keeper_client, clock, wave, keeper, django_capture_on_commit_callbacks
):
    Wave.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = keeper_client.post(
            reverse("logistics:wave_start"),
            {"warehouse": wave.warehouse_id, "date": TOMORROW.isoformat()},
            follow=True,
        )
    assert len(callbacks) == 1
    html = response.content.decode()
    assert "2026-11-26 的波次正在启动" in html
    built = Wave.objects.get(warehouse=wave.warehouse, delivery_date=TOMORROW)
    assert (built.status, built.line_count, built.unit_count) == (WaveStatus.DONE, 7, 12)


def test_a_start_waiting_for_a_worker_polls_until_the_wave_begins(
    keeper_client, clock, point, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:  # the worker is busy: not run
        response = keeper_client.post(
            reverse("logistics:wave_start"),
            {"warehouse": point.warehouse_id, "date": TOMORROW.isoformat()},
        )
    assert len(callbacks) == 1
    page = keeper_client.get(response["Location"])
    html = page.content.decode()
    assert "data-waiting" in html and "波次已排队" in html
    poll = page.context["waiting_url"]
    assert (
        poll.startswith(reverse("logistics:day_status"))
        and f'hx-get="{poll}"'.replace("&", "&amp;") in html
    )
    # Still queued: the card again, no reload.
    answer = keeper_client.get(poll, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "HX-Refresh" not in answer
    # A worker began: the page reloads (and polls the running wave from there).
    Wave.objects.create(
        warehouse=point.warehouse,
        delivery_date=TOMORROW,
        status=WaveStatus.RUNNING,
        started_at=timezone.now(),
    )
    answer = keeper_client.get(poll, HTTP_HX_REQUEST="true")
    assert answer["HX-Refresh"] == "true"
    html = keeper_client.get(response["Location"]).content.decode()
    assert "data-waiting" not in html and "?was=running" in html
    status = reverse("logistics:day_status")
    assert keeper_client.get(status + "?warehouse=x").status_code == 404
    assert keeper_client.get(status + "?date=2026-02-30").status_code == 400


@pytest.mark.parametrize("started", ["abc", "-5", "99999999999999999999", "1000"])
def test_a_bad_or_stale_start_moment_is_ignored(keeper_client, clock, point, started):
    html = keeper_client.get(f"{DAY}?started={started}").content.decode()
    assert "data-waiting" not in html and "every 2s" not in html


def test_a_wave_whose_run_left_is_not_rebuilt(
    keeper_client, clock, wave, django_capture_on_commit_callbacks
):
    wave.runs.update(status="departed")
    with django_capture_on_commit_callbacks() as callbacks:
        response = keeper_client.post(
            reverse("logistics:wave_start"),
            {"warehouse": wave.warehouse_id, "date": TOMORROW.isoformat()},
            follow=True,
        )
    assert callbacks == []
    assert "已有配送任务发车，波次不能再重新生成" in response.content.decode()


def test_starting_a_running_wave_again_is_refused_with_a_message(
    keeper_client, clock, wave, django_capture_on_commit_callbacks
):
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.RUNNING)
    with django_capture_on_commit_callbacks() as callbacks:
        response = keeper_client.post(
            reverse("logistics:wave_start"),
            {"warehouse": wave.warehouse_id, "date": TOMORROW.isoformat()},
            follow=True,
        )
    assert callbacks == []
    assert "波次正在运行，请等待完成。" in response.content.decode()


def test_a_start_with_a_far_date_is_refused_and_nothing_is_queued(
    keeper_client, clock, point, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = keeper_client.post(
            reverse("logistics:wave_start"),
            {"warehouse": point.warehouse_id, "date": (TOMORROW + timedelta(days=30)).isoformat()},
            follow=True,
        )
    assert callbacks == []
    assert "太远了" in response.content.decode()
    assert not Wave.objects.exists()
    assert keeper_client.get(reverse("logistics:wave_start")).status_code == 405


# --- ticks on the floor -----------------------------------------------------------------


def test_a_picker_ticks_a_line_whole_or_short_and_can_take_it_back(keeper_client, clock, wave):
    eggs = PickItem.objects.get(wave=wave, sku__product__name="土鸡蛋")
    url = reverse("logistics:pick_item", args=[wave.pk, eggs.pk])
    row = keeper_client.post(url, {"action": "pick"}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and f'id="pick-{eggs.pk}"' in row.content.decode()
    eggs.refresh_from_db()
    assert eggs.picked_quantity == 3
    keeper_client.post(url, {"action": "unpick"})
    eggs.refresh_from_db()
    assert eggs.picked_quantity is None
    keeper_client.post(url, {"action": "pick", "quantity": "2"})
    eggs.refresh_from_db()
    assert eggs.picked_quantity == 2
    page = keeper_client.get(DAY)
    assert page.context["picking"][0].picked == 1


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("4", "超过了拣货单要求的数量。"), ("-1", "数量不能为负数。"), ("两", "请输入整数。")],
)
def test_a_bad_picked_quantity_is_refused_and_nothing_changes(
    keeper_client, clock, wave, quantity, message
):
    eggs = PickItem.objects.get(wave=wave, sku__product__name="土鸡蛋")
    url = reverse("logistics:pick_item", args=[wave.pk, eggs.pk])
    row = keeper_client.post(url, {"action": "pick", "quantity": quantity}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and message in row.content.decode()
    page = keeper_client.post(url, {"action": "pick", "quantity": quantity}, follow=True)
    assert message in page.content.decode()
    eggs.refresh_from_db()
    assert eggs.picked_quantity is None


def test_no_tick_while_the_wave_is_being_rebuilt_and_none_across_waves(keeper_client, clock, wave):
    eggs = PickItem.objects.get(wave=wave, sku__product__name="土鸡蛋")
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.RUNNING)
    page = keeper_client.post(
        reverse("logistics:pick_item", args=[wave.pk, eggs.pk]), {"action": "pick"}, follow=True
    )
    assert "波次正在重新生成" in page.content.decode()
    eggs.refresh_from_db()
    assert eggs.picked_quantity is None
    other = Wave.objects.create(warehouse=wave.warehouse, delivery_date=TOMORROW + timedelta(1))
    assert (
        keeper_client.post(
            reverse("logistics:pick_item", args=[other.pk, eggs.pk]), {"action": "pick"}
        ).status_code
        == 404
    )


def test_packing_ticks_a_line_then_a_whole_point(
    keeper_client, clock, wave, route, point, other_pickup_point
):
    page = keeper_client.get(reverse("logistics:packing", args=[wave.pk]) + f"?route={route.pk}")
    assert page.status_code == 200
    assert [p.point_name for p in page.context["points"]] == [point.name, other_pickup_point.name]
    first = PackItem.objects.filter(wave=wave, pickup_point=point).order_by("pk").first()
    card = keeper_client.post(
        reverse("logistics:pack_item", args=[wave.pk, first.pk]),
        {"action": "pack"},
        HTTP_HX_REQUEST="true",
    )
    assert 'data-packed="1"' in card.content.decode()
    keeper_client.post(reverse("logistics:pack_point", args=[wave.pk, point.pk]))
    assert set(
        PackItem.objects.filter(wave=wave, pickup_point=point).values_list("is_packed", flat=True)
    ) == {True}
    assert (
        not PackItem.objects.filter(wave=wave, is_packed=True).exclude(pickup_point=point).exists()
    )
    [r01] = keeper_client.get(DAY).context["packing"]
    assert (r01.packed, r01.lines) == (4, 6)
    # Bad routes and points.
    packing = reverse("logistics:packing", args=[wave.pk])
    assert keeper_client.get(packing).status_code == 404
    assert keeper_client.get(packing + "?route=x").status_code == 404
    assert keeper_client.get(packing + "?route=999999").status_code == 404
    assert (
        keeper_client.post(reverse("logistics:pack_point", args=[wave.pk, 999999])).status_code
        == 404
    )


# --- documents through the checked view ------------------------------------------------


def test_every_document_downloads_in_its_formats_and_nothing_is_stored(
    keeper_client, clock, wave, route, point, settings, tmp_path
):
    run = wave.runs.get()
    cases = [
        ("picking", "pdf", {"storage": "ambient"}),
        ("picking", "csv", {}),
        ("picking", "xlsx", {}),
        ("packing", "pdf", {"route": route.pk}),
        ("packing", "csv", {}),
        ("labels", "pdf", {"point": point.pk}),
        ("labels", "csv", {"route": route.pk}),
        ("runsheet", "pdf", {"run": run.pk}),
        ("runsheet", "xlsx", {"run": run.pk}),
    ]
    for kind, fmt, params in cases:
        response = keeper_client.get(_doc_url(wave, kind, fmt, **params))
        assert response.status_code == 200, (kind, fmt)
        assert response["Cache-Control"] == "private, no-store"
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if fmt == "pdf":
            assert body.startswith(b"%PDF") and response["Content-Type"] == "application/pdf"
            assert response["Content-Disposition"].startswith("inline")
        elif fmt == "csv":
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
            assert len(rows) > 1
            assert response["Content-Disposition"].startswith("attachment")
        else:
            assert body[:2] == b"PK"
    text = pdf_text(keeper_client.get(_doc_url(wave, "picking", "pdf", storage="ambient")).content)
    assert "土鸡蛋" in text
    # Made on request: nothing under public or private media.
    for root in (settings.MEDIA_ROOT, settings.PRIVATE_MEDIA_ROOT):
        assert not any(p.is_file() for p in tmp_path.rglob("*") if str(p).startswith(str(root)))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("labels.pdf", 400),  # no route or point
        ("packing.pdf", 400),  # a whole city
        ("labels.pdf?route=abc", 404),
        ("labels.pdf?route=999999", 400),
        ("runsheet.pdf", 400),
        ("runsheet.pdf?run=999999", 400),
        ("picking.pdf?storage=hot", 400),
        ("invoice.pdf", 404),
        ("picking.docx", 404),
    ],
)
def test_bad_document_requests_are_refused_with_a_reason(keeper_client, clock, wave, path, status):
    base = reverse("logistics:wave_document", args=[wave.pk, "picking", "pdf"]).rsplit("/", 1)[0]
    response = keeper_client.get(f"{base}/{path}")
    assert response.status_code == status
    if status == 400:
        assert response.content.decode()  # a sentence, in Chinese


def test_documents_of_an_unfinished_or_unknown_wave_are_refused(keeper_client, clock, wave):
    assert (
        keeper_client.get(
            reverse("logistics:wave_document", args=[10**9, "picking", "pdf"])
        ).status_code
        == 404
    )
    Wave.objects.filter(pk=wave.pk).update(status=WaveStatus.RUNNING)
    response = keeper_client.get(_doc_url(wave, "picking", "pdf"))
    assert response.status_code == 400 and "波次尚未完成" in response.content.decode()
