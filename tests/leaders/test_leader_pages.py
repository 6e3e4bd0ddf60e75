"""The leader desk: who may enter, what it shows, and that a leader sees only their own."""

from __future__ import annotations

from datetime import date, time

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leaders import services
from leaders.models import (
    AddressChange,
    PickupPoint,
    PickupPointPause,
    PickupPointPhoto,
    PointStatus,
    ReviewStatus,
)
from tuangou import timeutils

from .factories import (
    LeaderApplicationFactory,
    PickupPointFactory,
    ShopperBindingFactory,
    UserFactory,
    bind,
    photo_upload,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 20)
NOW = timeutils.local_datetime(TODAY, time(9, 0))


def _hours(**overrides):
    data = {}
    for day in range(7):
        data[f"open_{day}"] = "08:00"
        data[f"close_{day}"] = "21:00"
    data.update(overrides)
    return data


# --- who may enter ---------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("leaders:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_request_login_code"))


def test_a_shopper_is_sent_to_the_application_form(client, shopper):
    client.force_login(shopper)
    response = client.get(reverse("leaders:home"), follow=True)
    assert response.redirect_chain == [(reverse("leaders:apply"), 302)]
    assert "团长工作台仅对审核通过的团长开放，请在此申请。" in response.content.decode()


def test_an_applicant_waiting_for_review_sees_their_application(client, shopper, community):
    LeaderApplicationFactory(user=shopper, community=community)
    client.force_login(shopper)
    response = client.get(reverse("leaders:customers"))
    assert response["Location"] == reverse("leaders:application")


def test_a_suspended_leader_gets_a_clear_403(client, leader, pickup_point):
    services.suspend_leader(leader=leader, reason="多次缺货未通知")
    client.force_login(leader.user)
    response = client.get(reverse("leaders:home"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "团长账号已暂停" in page
    assert "多次缺货未通知" in page


# --- home ------------------------------------------------------------------------------


def test_the_home_shows_points_share_link_customers_and_named_placeholders(
    client, leader, pickup_point, shopper
):
    bind(user=shopper, point=pickup_point)
    client.force_login(leader.user)
    response = client.get(reverse("leaders:home"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "幸福里便利店" in page
    assert f"http://127.0.0.1:8000/leader/s/{leader.share_code}/" in page
    assert reverse("leaders:share_qr", args=["png"]) in page
    assert reverse("leaders:share_qr", args=["svg"]) in page
    assert '<span class="badge" data-customer-count>1</span>' in page
    assert "张阿姨" in page
    assert reverse("orders:leader_today") in page
    assert reverse("orders:leader_pickup") in page
    assert "data-money-card" in page


def test_the_home_page_query_count_is_pinned(
    client, leader, pickup_point, django_assert_max_num_queries
):
    for _ in range(5):
        ShopperBindingFactory(pickup_point=pickup_point)
    client.force_login(leader.user)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("leaders:home")).status_code == 200


def test_qr_codes_download_as_svg_and_png(client, leader, pickup_point):
    client.force_login(leader.user)
    svg = client.get(reverse("leaders:share_qr", args=["svg"]))
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg["Content-Disposition"] == f'attachment; filename="tuangou-{leader.share_code}.svg"'
    assert b"<svg" in svg.content
    png = client.get(reverse("leaders:share_qr", args=["png"]))
    assert png["Content-Type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"


# --- customers ---------------------------------------------------------------------------


@pytest.fixture
def customers(pickup_point, other_pickup_point):
    wang = UserFactory(username="wang", nickname="王阿姨", phone="+8613911112222")
    li = UserFactory(username="li", nickname="李叔", phone="+8613933334444")
    stranger = UserFactory(username="zhao", nickname="赵同学", phone="+8613955556666")
    bind(user=wang, point=pickup_point)
    bind(user=li, point=pickup_point)
    bind(user=stranger, point=other_pickup_point)
    return wang, li, stranger


def test_the_customer_list_shows_only_the_leaders_own_customers(client, leader, customers):
    client.force_login(leader.user)
    page = client.get(reverse("leaders:customers")).content.decode()
    assert "王阿姨" in page
    assert "李叔" in page
    assert "赵同学" not in page
    assert page.count("data-customer>") == 2


@pytest.mark.parametrize(("query", "names"), [("王", ["王阿姨"]), ("4444", ["李叔"]), ("6666", [])])
def test_customers_are_searchable_by_nickname_or_last_four_digits(
    client, leader, customers, query, names
):
    client.force_login(leader.user)
    page = client.get(reverse("leaders:customers"), {"q": query}).content.decode()
    assert [n for n in ("王阿姨", "李叔", "赵同学") if n in page] == names


# --- point settings ----------------------------------------------------------------------


def test_the_leader_saves_opening_hours_and_capacity(client, leader, pickup_point):
    client.force_login(leader.user)
    data = _hours(open_6="", close_6="", open_0="07:30")
    response = client.post(
        reverse("leaders:point", args=[pickup_point.pk]),
        {"name": "幸福里便利店（北门）", "daily_capacity": "80", **data},
    )
    assert response.status_code == 302
    pickup_point.refresh_from_db()
    assert pickup_point.name == "幸福里便利店（北门）"
    assert pickup_point.daily_capacity == 80
    assert pickup_point.opening_hours["0"] == ["07:30", "21:00"]
    assert "6" not in pickup_point.opening_hours


def test_a_point_with_no_opening_hours_is_refused(client, leader, pickup_point):
    client.force_login(leader.user)
    empty = {f"{k}_{d}": "" for d in range(7) for k in ("open", "close")}
    response = client.post(
        reverse("leaders:point", args=[pickup_point.pk]),
        {"name": "改名了", "daily_capacity": "80", **empty},
    )
    assert response.status_code == 400
    assert "自提点需要营业时间" in response.content.decode()
    pickup_point.refresh_from_db()
    assert pickup_point.name == "幸福里便利店"
    assert pickup_point.daily_capacity == 100


def test_a_new_point_waits_for_review(client, leader, community):
    client.force_login(leader.user)
    response = client.post(
        reverse("leaders:point_new"),
        {
            "name": "幸福里二期快递柜旁",
            "community": community.pk,
            "address": "麓谷大道200号",
            "daily_capacity": "50",
            **_hours(),
        },
    )
    point = PickupPoint.objects.get(name="幸福里二期快递柜旁")
    assert response["Location"] == reverse("leaders:point", args=[point.pk])
    assert point.status == PointStatus.PENDING
    assert point.leader == leader


def test_a_new_point_without_opening_hours_writes_nothing(client, leader, community):
    client.force_login(leader.user)
    empty = {f"{k}_{d}": "" for d in range(7) for k in ("open", "close")}
    response = client.post(
        reverse("leaders:point_new"),
        {"name": "没营业时间", "community": community.pk, "address": "某路", "daily_capacity": "5"}
        | empty,
    )
    assert response.status_code == 400
    assert "自提点需要营业时间" in response.content.decode()
    assert not PickupPoint.objects.filter(name="没营业时间").exists()


def test_a_moved_address_goes_to_review_before_shoppers_see_it(
    client, leader, pickup_point, operator
):
    client.force_login(leader.user)
    client.post(
        reverse("leaders:point_address", args=[pickup_point.pk]), {"address": "麓谷大道300号"}
    )
    pickup_point.refresh_from_db()
    assert pickup_point.address == "长沙市岳麓区麓谷大道100号"
    change = AddressChange.objects.get(point=pickup_point)
    assert change.status == ReviewStatus.PENDING

    services.approve_address_change(change=change, reviewed_by=operator)
    pickup_point.refresh_from_db()
    assert pickup_point.address == "麓谷大道300号"


def test_photos_are_checked_like_product_photos(client, leader, pickup_point):
    client.force_login(leader.user)
    bad = SimpleUploadedFile("x.jpg", b"GIF89a not really", content_type="image/jpeg")
    response = client.post(
        reverse("leaders:point_photo_add", args=[pickup_point.pk]), {"image": bad}
    )
    assert response.status_code == 400
    assert "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。" in response.content.decode()
    assert not PickupPointPhoto.objects.exists()

    good = client.post(
        reverse("leaders:point_photo_add", args=[pickup_point.pk]), {"image": photo_upload()}
    )
    assert good.status_code == 302
    assert PickupPointPhoto.objects.filter(point=pickup_point).count() == 1


def test_a_leader_pauses_a_day_and_shoppers_are_told(client, leader, pickup_point, shopper):
    client.force_login(leader.user)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            reverse("leaders:point_pause", args=[pickup_point.pk]),
            {"day": "2026-11-20", "reason": "家里有事"},
        )
        assert response.status_code == 302
        bind(user=shopper, point=pickup_point)
        client.force_login(shopper)
        home = client.get(reverse("catalog:home"))
        assert home.context["current_pickup_point"].is_paused_today is True
    assert PickupPointPause.objects.get(point=pickup_point).day == TODAY


def test_a_day_in_the_past_cannot_be_paused(client, leader, pickup_point):
    client.force_login(leader.user)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            reverse("leaders:point_pause", args=[pickup_point.pk]), {"day": "2026-11-19"}
        )
    assert response.status_code == 400
    assert "不能暂停已经过去的日期。" in response.content.decode()
    assert not PickupPointPause.objects.exists()


# --- another leader's ids: 404 on every leader URL ----------------------------------------


@pytest.fixture
def others(other_leader, other_community):
    point = PickupPointFactory(leader=other_leader, community=other_community, name="别人的点")
    photo = PickupPointPhoto.objects.create(point=point, image="leaders/points/x.png")
    with time_machine.travel(NOW, tick=False):
        pause = services.pause_pickup_point_for_day(point=point, day=TODAY)
    return point, photo, pause


IDOR_URLS = [
    ("get", "leaders:point", lambda p, ph, pa: [p.pk], {}),
    ("post", "leaders:point", lambda p, ph, pa: [p.pk], {"name": "抢来的", "daily_capacity": "1"}),
    ("post", "leaders:point_address", lambda p, ph, pa: [p.pk], {"address": "偷改的地址"}),
    ("post", "leaders:point_photo_add", lambda p, ph, pa: [p.pk], {}),
    ("post", "leaders:point_photo_delete", lambda p, ph, pa: [p.pk, ph.pk], {}),
    ("post", "leaders:point_pause", lambda p, ph, pa: [p.pk], {"day": "2026-11-21"}),
    ("post", "leaders:point_resume", lambda p, ph, pa: [p.pk, pa.pk], {}),
]


@pytest.mark.parametrize(
    ("method", "name", "args", "data"), IDOR_URLS, ids=[f"{m}-{n}" for m, n, *_ in IDOR_URLS]
)
def test_another_leaders_ids_are_not_found(
    client, leader, pickup_point, others, method, name, args, data
):
    point, photo, pause = others
    client.force_login(leader.user)
    url = reverse(name, args=args(point, photo, pause))
    payload = dict(data)
    if name == "leaders:point":
        payload.update(_hours())
    if name == "leaders:point_photo_add":
        payload["image"] = photo_upload()
    with time_machine.travel(NOW, tick=False):
        response = getattr(client, method)(url, payload)
    assert response.status_code == 404
    point.refresh_from_db()
    assert point.name == "别人的点"
    assert not AddressChange.objects.exists()
    assert list(PickupPointPhoto.objects.values_list("pk", flat=True)) == [photo.pk]
    assert list(PickupPointPause.objects.values_list("pk", flat=True)) == [pause.pk]


def test_my_own_photo_id_under_another_leaders_point_is_not_found(
    client, leader, pickup_point, others
):
    point, _photo, _pause = others
    mine = PickupPointPhoto.objects.create(point=pickup_point, image="leaders/points/mine.png")
    client.force_login(leader.user)
    response = client.post(reverse("leaders:point_photo_delete", args=[point.pk, mine.pk]))
    assert response.status_code == 404
    assert PickupPointPhoto.objects.filter(pk=mine.pk).exists()


def test_leader_urls_without_ids_only_show_the_leaders_own_things(
    client, leader, pickup_point, others
):
    client.force_login(leader.user)
    home = client.get(reverse("leaders:home")).content.decode()
    assert "别人的点" not in home
    assert others[0].leader.share_code not in home
    qr = client.get(reverse("leaders:share_qr", args=["svg"]))
    assert qr["Content-Disposition"].endswith(f'tuangou-{leader.share_code}.svg"')


def test_a_photo_loses_its_camera_metadata(client, leader, pickup_point):
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Leader's phone"  # Make; GPS tags are stripped the same way
    raw = io.BytesIO()
    Image.new("RGB", (200, 150), (10, 120, 200)).save(raw, format="JPEG", exif=exif.tobytes())
    upload = SimpleUploadedFile("shop.jpg", raw.getvalue(), content_type="image/jpeg")
    client.force_login(leader.user)
    client.post(reverse("leaders:point_photo_add", args=[pickup_point.pk]), {"image": upload})
    photo = PickupPointPhoto.objects.get(point=pickup_point)
    with photo.image.open("rb") as fh:
        assert dict(Image.open(fh).getexif()) == {}


def test_the_customer_search_answers_htmx_with_the_list_only(client, leader, customers):
    client.force_login(leader.user)
    response = client.get(reverse("leaders:customers"), {"q": "李"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "李叔" in html
    assert "王阿姨" not in html


def test_a_deleted_photos_file_goes_only_once_the_deletion_is_committed(
    pickup_point, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from leaders import services
    from leaders.models import PickupPointPhoto
    from tests.catalog.test_images import picture

    photo = services.add_point_photo(point=pickup_point, image=picture())
    storage, name = photo.image.storage, photo.image.name
    assert storage.exists(name)

    class Later(Exception):
        pass

    # Something after the deletion fails: the row comes back and so must the file.
    with pytest.raises(Later), transaction.atomic():
        services.delete_point_photo(photo=PickupPointPhoto.objects.get(pk=photo.pk))
        raise Later
    assert PickupPointPhoto.objects.filter(pk=photo.pk).exists()
    assert storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.delete_point_photo(photo=PickupPointPhoto.objects.get(pk=photo.pk))
        assert storage.exists(name)  # still there until the commit
    assert len(callbacks) == 1
    assert not PickupPointPhoto.objects.filter(pk=photo.pk).exists()
    assert not storage.exists(name)
