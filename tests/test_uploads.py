"""Uploaded pictures (issue #15, security 7): one checked function for every
upload path (catalog.images.process_upload), decompression bombs and
disguised files refused with a clear message, metadata stripped, public media
served with safe headers in development and by nginx."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from catalog.images import MAX_PIXELS, ImageRejected, process_upload
from leaders.models import PickupPointPhoto
from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401
from tests.test_nginx_static import _get, nginx_static  # noqa: F401
from tuangou.accounts.models import User

BOMB_MESSAGE = "图片像素过多：最多 40 百万像素。"
NOT_A_PICTURE = "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。"
PHP = b"<?php system($_GET['c']); ?>"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 60_000) -> bytes:
    """A PNG that says it is side × side pixels (3.6 gigapixels) in a few hundred
    bytes: its rows of zeros compress to almost nothing."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * (side + 1) * 16, 9)  # the first rows only
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def exif_jpeg(*, comment: bytes = b"") -> bytes:
    """A phone photo: EXIF with the camera, the GPS position and orientation 6
    (stored sideways), plus whatever a comment segment carries."""
    image = Image.new("RGB", (300, 200), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (28.0, 13.0, 41.0)  # latitude of someone's home
    gps[3], gps[4] = "E", (112.0, 52.0, 20.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=comment)
    return out.getvalue()


def _upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- the one function ------------------------------------------------------------


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    data = bomb_png()
    assert len(data) < 100_000
    with pytest.raises(ImageRejected) as refused:
        process_upload(_upload("cat.png", data, "image/png"))
    assert refused.value.message == BOMB_MESSAGE
    # Any other Image.open in the project refuses it too (twice the limit).
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))


def test_a_php_file_named_jpg_is_not_a_picture_whatever_its_content_type():
    for name, content_type in (("shell.jpg", "image/jpeg"), ("shell.png", "image/png")):
        with pytest.raises(ImageRejected) as refused:
            process_upload(_upload(name, PHP, content_type))
        assert refused.value.message == NOT_A_PICTURE


def test_a_real_picture_smuggling_php_comes_out_without_it():
    result = process_upload(_upload("photo.jpg", exif_jpeg(comment=PHP)))
    for name, data in result.files.items():
        assert b"<?php" not in data, name


def test_exif_is_stripped_and_the_photo_turned_upright():
    original = exif_jpeg()
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "PhoneMaker"
    result = process_upload(_upload("IMG_0001.jpg", original))
    assert (result.width, result.height) == (200, 300)  # portrait, as the phone meant
    for name, data in result.files.items():
        picture = Image.open(io.BytesIO(data))
        assert dict(picture.getexif()) == {}, name
        assert b"PhoneMaker" not in data and b"Exif" not in data, name
        assert "exif" not in picture.info and "comment" not in picture.info, name


def test_the_size_limit_comes_before_reading():
    big = _upload("big.jpg", b"\xff\xd8" + b"\x00" * (5 * 1024 * 1024 + 1))
    with pytest.raises(ImageRejected) as refused:
        process_upload(big)
    assert refused.value.message == "图片太大了，请上传 5 MB 以内的图片。"


# --- the upload paths use it ---------------------------------------------------------


@pytest.mark.django_db
def test_a_leaders_point_photo_bomb_gets_the_message_and_nothing_is_saved(
    client,
    leader,  # noqa: F811
    pickup_point,  # noqa: F811
):
    client.force_login(leader.user)
    url = reverse("leaders:point_photo_add", args=[pickup_point.pk])
    response = client.post(url, {"image": _upload("shop.png", bomb_png(), "image/png")})
    assert response.status_code == 400
    assert BOMB_MESSAGE in response.content.decode()
    response = client.post(url, {"image": _upload("shop.jpg", PHP)})
    assert response.status_code == 400
    assert NOT_A_PICTURE in response.content.decode()
    assert not PickupPointPhoto.objects.exists()

    assert client.post(url, {"image": _upload("shop.jpg", exif_jpeg())}).status_code == 302
    photo = PickupPointPhoto.objects.get()
    with photo.image.open("rb") as fh:
        saved = fh.read()
    assert b"PhoneMaker" not in saved and dict(Image.open(io.BytesIO(saved)).getexif()) == {}


@pytest.mark.django_db
def test_an_avatar_uploaded_in_the_admin_is_checked_and_cleaned(client, make_user, shopper):
    admin_user = make_user("root", "+8613900000199", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_change", args=[shopper.pk])
    form = {
        "username": shopper.username,
        "phone": shopper.phone,
        "phone_verified": "on",
        "nickname": shopper.nickname,
        "is_active": "on",
        "date_joined_0": "2026-11-01",
        "date_joined_1": "10:00:00",
    }
    refused = client.post(url, {**form, "avatar": _upload("me.jpg", PHP)})
    assert refused.status_code == 200
    assert NOT_A_PICTURE in refused.content.decode()
    bomb = client.post(url, {**form, "avatar": _upload("me.png", bomb_png(), "image/png")})
    assert BOMB_MESSAGE in bomb.content.decode()
    shopper.refresh_from_db()
    assert not shopper.avatar

    saved = client.post(url, {**form, "avatar": _upload("me.jpg", exif_jpeg())})
    assert saved.status_code == 302
    shopper = User.objects.get(pk=shopper.pk)
    with shopper.avatar.open("rb") as fh:
        data = fh.read()
    assert b"PhoneMaker" not in data
    assert Image.open(io.BytesIO(data)).size == (200, 300)


# --- serving -----------------------------------------------------------------------


def _media(settings, name: str, data: bytes) -> None:
    path = settings.MEDIA_ROOT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_development_media_headers(client, settings):
    _media(settings, "products/p.jpg", exif_jpeg())
    _media(settings, "products/evil.html", b"<script>alert(1)</script>")
    _media(settings, "products/shell.php", PHP)
    picture = client.get("/media/products/p.jpg")
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/jpeg"
    assert picture["X-Content-Type-Options"] == "nosniff"
    assert picture["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert picture.get("Content-Disposition", "inline").startswith("inline")
    for name in ("evil.html", "shell.php"):
        other = client.get(f"/media/products/{name}")
        assert other["Content-Disposition"] == "attachment", name
        assert other["X-Content-Type-Options"] == "nosniff"
        assert other["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_nginx_media_headers(nginx_static, tmp_path):  # noqa: F811
    media = tmp_path / "media" / "products"
    media.mkdir(parents=True)
    (media / "p.webp").write_bytes(b"RIFF....WEBP")
    (media / "evil.html").write_bytes(b"<script>alert(1)</script>")
    status, headers, _body = _get(f"{nginx_static}/media/products/p.webp")
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "Content-Disposition" not in headers
    status, headers, _body = _get(f"{nginx_static}/media/products/evil.html")
    assert status == 200
    assert headers["Content-Disposition"] == "attachment"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
