"""Product pictures: real images made with Pillow, and files that are not images."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog import services
from catalog.images import MAX_UPLOAD_BYTES
from catalog.models import ProductImage
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db

EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F


def picture(fmt="JPEG", size=(400, 200), colour=(200, 30, 30), orientation=None, mode="RGB"):
    image = Image.new(mode, size, colour)
    # A marker in the top-left corner, to see which way the result is turned.
    image.paste((0, 0, 255) if mode == "RGB" else (0, 0, 255, 255), (0, 0, 100, 50))
    out = io.BytesIO()
    kwargs = {}
    if orientation:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        exif[EXIF_MAKE] = "PhoneCam"
        kwargs["exif"] = exif.tobytes()
    image.save(out, fmt, **kwargs)
    return SimpleUploadedFile(f"photo.{fmt.lower()}", out.getvalue())


def files_under(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


@pytest.fixture
def media(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def product():
    return ProductFactory(name="西红柿")


def test_an_upload_becomes_an_original_and_three_thumbnails_in_webp_and_jpeg(media, product):
    image = services.add_product_image(product=product, upload=picture(), alt="西红柿")
    assert (image.width, image.height) == (400, 200)
    base = f"catalog/products/{image.key}"
    assert files_under(media) == [
        f"{base}/{name}"
        for name in sorted(
            [
                "original.jpg",
                "list.webp",
                "list.jpg",
                "detail.webp",
                "detail.jpg",
                "share.webp",
                "share.jpg",
            ]
        )
    ]
    with Image.open(media / base / "list.webp") as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (360, 360))
    with Image.open(media / base / "list.jpg") as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (360, 360))
    with Image.open(media / base / "share.jpg") as thumb:
        assert thumb.size == (500, 400)
    with Image.open(media / base / "detail.jpg") as thumb:
        assert thumb.size == (400, 200)  # never enlarged, shape kept
    assert image.list_jpg == f"/media/{base}/list.jpg"
    assert image.detail_webp == f"/media/{base}/detail.webp"


def test_the_exif_orientation_is_applied_and_metadata_is_stripped(media, product):
    # Orientation 6: the camera stored a portrait sideways (rotate 90° clockwise).
    image = services.add_product_image(product=product, upload=picture(orientation=6))
    assert (image.width, image.height) == (200, 400)
    with Image.open(media / f"catalog/products/{image.key}/original.jpg") as stored:
        assert stored.size == (200, 400)
        assert dict(stored.getexif()) == {}
        # The blue marker from the top-left corner is now top-right.
        assert stored.getpixel((190, 10))[2] > 200
        assert stored.getpixel((10, 10))[0] > 150
    with Image.open(media / f"catalog/products/{image.key}/detail.webp") as stored:
        assert dict(stored.getexif()) == {}


def test_a_transparent_png_gets_a_white_background(media, product):
    upload = picture(fmt="PNG", mode="RGBA", colour=(0, 0, 0, 0))
    image = services.add_product_image(product=product, upload=upload)
    with Image.open(media / f"catalog/products/{image.key}/original.jpg") as stored:
        assert stored.getpixel((300, 150)) == (255, 255, 255)


def test_images_are_numbered_in_upload_order(product):
    first = services.add_product_image(product=product, upload=picture())
    second = services.add_product_image(product=product, upload=picture())
    assert (first.position, second.position) == (0, 1)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("menu.pdf", b"%PDF-1.4 not a picture at all"),
            "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。",
        ),
        (
            SimpleUploadedFile("empty.jpg", b""),
            "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。",
        ),
        (
            SimpleUploadedFile("script.jpg", b"<script>alert(1)</script>"),
            "这不是图片文件，请上传 JPG、PNG 或 WebP 格式的图片。",
        ),
    ],
    ids=["pdf", "empty", "html-named-jpg"],
)
def test_a_file_that_is_not_an_image_is_refused_and_leaves_nothing(media, product, upload, message):
    with pytest.raises(services.ImageRejected) as caught:
        services.add_product_image(product=product, upload=upload)
    assert caught.value.message == message
    assert ProductImage.objects.count() == 0
    assert files_under(media) == []


def test_a_truncated_jpeg_is_refused(media, product):
    whole = picture().read()
    with pytest.raises(services.ImageRejected):
        services.add_product_image(
            product=product, upload=SimpleUploadedFile("cut.jpg", whole[: len(whole) // 2])
        )
    assert ProductImage.objects.count() == 0
    assert files_under(media) == []


def test_a_gif_is_not_accepted(media, product):
    with pytest.raises(services.ImageRejected):
        services.add_product_image(product=product, upload=picture(fmt="GIF"))
    assert files_under(media) == []


def test_a_picture_over_the_size_limit_is_refused_before_it_is_read(media, product):
    upload = ContentFile(b"\xff\xd8" + b"0" * MAX_UPLOAD_BYTES, name="huge.jpg")
    with pytest.raises(services.ImageRejected) as caught:
        services.add_product_image(product=product, upload=upload)
    assert caught.value.message == "图片太大了，请上传 5 MB 以内的图片。"
    assert ProductImage.objects.count() == 0
    assert files_under(media) == []


def test_a_tiny_picture_is_refused(media, product):
    with pytest.raises(services.ImageRejected) as caught:
        services.add_product_image(product=product, upload=picture(size=(50, 400)))
    assert caught.value.message == "图片太小了，长和宽都至少需要 100 像素。"
    assert files_under(media) == []


def test_when_saving_the_row_fails_the_files_are_removed(media, product, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ProductImage, "save", broken_save)
    with pytest.raises(RuntimeError):
        services.add_product_image(product=product, upload=picture())
    assert files_under(media) == []


def test_deleting_an_image_removes_its_files_after_commit(
    media, product, django_capture_on_commit_callbacks
):
    image = services.add_product_image(product=product, upload=picture())
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_product_image(image=image)
    assert ProductImage.objects.count() == 0
    assert files_under(media) == []


def test_a_truncated_jpeg_is_refused_even_after_weasyprint_loosened_pillow(media, product):
    """WeasyPrint's import turns on Pillow's LOAD_TRUNCATED_IMAGES for the whole
    process; uploads are still loaded strictly, and the flag is left as found."""
    import weasyprint  # noqa: F401 - the import is what loosens Pillow
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = True
    whole = picture().read()
    with pytest.raises(services.ImageRejected):
        services.add_product_image(
            product=product, upload=SimpleUploadedFile("cut.jpg", whole[: len(whole) // 2])
        )
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    assert ProductImage.objects.count() == 0
