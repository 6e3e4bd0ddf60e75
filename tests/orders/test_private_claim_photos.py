"""Claim photos are private files: stored outside MEDIA_ROOT under random
names, served only to the shopper who claimed, the pickup point's leader and
staff who review claims (issue #10, "Private files are private")."""

from __future__ import annotations

import importlib
import io
import re
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from leaders.models import LeaderStatus
from orders.models import AfterSaleClaim, ClaimPhoto
from orders.services.claims import ClaimError, submit_claim
from tuangou.private_files import PrivateFileHasNoURL

from .shopper_helpers import complete, pay, place

pytestmark = pytest.mark.django_db

PRIVATE_NAME = re.compile(r"orders/claims/\d{4}/\d{2}/[0-9a-f]{32}\.jpg")
JPEG_START = b"\xff\xd8\xff"


def _upload(name="bad.jpg", size=(400, 300), colour=(200, 40, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def claim(clock, shopper, point, sku):
    order = complete(pay(place(shopper, point, (sku, 3))))
    line = order.lines.get()
    return submit_claim(
        order=order,
        user=shopper,
        reason="烂了两个",
        quantities={line.pk: 2},
        photos=[_upload(), _upload("second.jpg", size=(300, 400))],
    )


@pytest.fixture
def photos(claim):
    return list(claim.photos.order_by("pk"))


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _url(photo) -> str:
    return reverse("orders:claim_photo", args=[photo.pk])


# --- storage ------------------------------------------------------------------------------


def test_claim_photos_are_stored_outside_media_under_random_names(photos, settings):
    names = [p.image.name for p in photos]

    assert all(PRIVATE_NAME.fullmatch(n) for n in names), names
    assert len(set(names)) == 2
    assert _files_under(Path(settings.MEDIA_ROOT)) == []
    assert _files_under(Path(settings.PRIVATE_MEDIA_ROOT)) == sorted(
        Path(settings.PRIVATE_MEDIA_ROOT) / n for n in names
    )
    with pytest.raises(PrivateFileHasNoURL):
        photos[0].image.url  # noqa: B018 - the property is the thing tested
    assert photos[0].image.name not in str(photos[0])


def test_a_rejected_claim_leaves_no_private_file(clock, shopper, point, sku, settings):
    order = complete(pay(place(shopper, point, (sku, 1))))
    fake = SimpleUploadedFile("x.jpg", b"not a picture", content_type="image/jpeg")

    with pytest.raises(ClaimError):
        submit_claim(
            order=order,
            user=shopper,
            reason="坏了",
            quantities={order.lines.get().pk: 1},
            photos=[_upload(), fake],
        )

    assert not AfterSaleClaim.objects.exists()
    assert _files_under(Path(settings.PRIVATE_MEDIA_ROOT)) == []
    assert _files_under(Path(settings.MEDIA_ROOT)) == []


# --- who sees them ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["shopper", "leader_user", "operator"])
def test_the_shopper_the_points_leader_and_claim_staff_get_the_photo(client, photos, who, request):
    client.force_login(request.getfixturevalue(who))

    responses = [client.get(_url(p)) for p in photos]

    assert [r.status_code for r in responses] == [200, 200]
    assert [r["Content-Type"] for r in responses] == ["image/jpeg", "image/jpeg"]
    assert responses[0]["Cache-Control"] == "private, no-store"
    sizes = [Image.open(io.BytesIO(_body(r))).size for r in responses]
    assert sizes == [(400, 300), (300, 400)]


@pytest.mark.parametrize("who", [None, "other_shopper", "other_leader_user", "finance"])
def test_anyone_else_gets_no_photo(client, photos, other_leader, who, request):
    """Anonymous, another shopper, another point's leader, staff who do not
    review claims: a 404, the same as for a photo that does not exist."""
    if who is not None:
        client.force_login(request.getfixturevalue(who))

    responses = [client.get(_url(p)) for p in photos]
    missing = client.get(reverse("orders:claim_photo", args=[photos[-1].pk + 1000]))

    assert [r.status_code for r in responses] == [404, 404]
    assert all(JPEG_START not in _body(r) for r in responses)
    assert missing.status_code == 404


def test_a_suspended_leader_no_longer_sees_the_photos(client, photos, point, leader_user):
    point.leader.status = LeaderStatus.SUSPENDED
    point.leader.save(update_fields=["status"])
    client.force_login(leader_user)

    response = client.get(_url(photos[0]))

    assert response.status_code == 404
    assert JPEG_START not in _body(response)


def test_media_urls_of_a_photo_give_no_content(
    client, photos, settings, other_leader_user, shopper
):
    """Neither the old public place (even with a leftover copy) nor the
    private name answers under /media/, to anyone."""
    photo = photos[0]
    old = f"orders/claims/2026/11/{'ab' * 16}.jpg"
    leftover = Path(settings.MEDIA_ROOT) / old
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(photo.image.read())
    photo.image.close()

    for user in (None, other_leader_user, shopper):
        client.logout()
        if user is not None:
            client.force_login(user)
        for url in (f"/media/{old}", f"/media/{photo.image.name}"):
            response = client.get(url)
            assert response.status_code == 404, (user, url)
            assert JPEG_START not in _body(response), (user, url)


def test_in_production_nginx_sends_the_photo(client, photos, shopper, other_shopper, settings):
    settings.PRIVATE_MEDIA_ACCEL_PREFIX = "/_private/"
    client.force_login(shopper)

    response = client.get(_url(photos[0]))

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_private/{photos[0].image.name}"
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == b""
    client.force_login(other_shopper)
    assert not client.get(_url(photos[0])).has_header("X-Accel-Redirect")


# --- the admin shows thumbnails -----------------------------------------------------------


def test_the_admin_claim_page_shows_thumbnails_through_the_checked_view(
    client, claim, photos, operator
):
    client.force_login(operator)

    html = client.get(reverse("admin:orders_aftersaleclaim_change", args=[claim.pk])).content
    html = html.decode()

    for photo in photos:
        assert f'<img src="{_url(photo)}"' in html
        assert photo.image.name not in html
        assert client.get(_url(photo)).status_code == 200


# --- existing files ----------------------------------------------------------------------


def test_the_migration_moves_public_claim_photos_to_private_storage(photos, settings):
    """What orders/migrations/0003 does on a site whose claim photos are in
    public media: each moves under a new random name, the public copy goes."""
    photo = photos[0]
    data = photo.image.read()
    photo.image.close()
    old = f"orders/claims/2026/11/{'cd' * 16}.jpg"
    public = Path(settings.MEDIA_ROOT) / old
    public.parent.mkdir(parents=True)
    public.write_bytes(data)
    photo.image.storage.delete(photo.image.name)
    ClaimPhoto.objects.filter(pk=photo.pk).update(image=old)

    migration = importlib.import_module("orders.migrations.0003_private_claim_photos")
    migration.move_claim_photos(django_apps, None)

    photo.refresh_from_db()
    assert PRIVATE_NAME.fullmatch(photo.image.name)
    assert photo.image.name != old
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / photo.image.name).read_bytes() == data
    assert _files_under(Path(settings.MEDIA_ROOT)) == []
    untouched = ClaimPhoto.objects.get(pk=photos[1].pk)
    assert untouched.image.name == photos[1].image.name
