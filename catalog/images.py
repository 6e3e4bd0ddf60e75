"""Product pictures with Pillow: check, turn upright, strip metadata, resize.

Everything happens in memory; catalog.services writes the files and the row
together and removes the files again when anything fails.

process_upload is the one checked way in for every uploaded picture (product
pictures, storefront and pickup point photos, after-sale and delivery photos,
avatars): the type is read from the content (a PHP file named .jpg is not a
picture), size and pixel limits come before decoding (decompression bombs),
and the re-encoded result carries no EXIF (GPS, camera) nor anything else the
upload smuggled in. Pillow's own MAX_IMAGE_PIXELS is set to MAX_PIXELS at
start-up (tuangou.accounts.apps), for any other Image.open.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MIN_SIDE = 100
MAX_PIXELS = 40_000_000  # refuses decompression bombs before decoding
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
ORIGINAL_MAX_SIDE = 1600

# variant: (width, height, crop to fill?) — list cards are square, the detail
# gallery keeps the picture's shape, the share card is 5:4 like a WeChat card.
VARIANTS = {
    "list": (360, 360, True),
    "detail": (750, 750, False),
    "share": (500, 400, True),
}


class ImageRejected(ValueError):
    """The upload is not a picture we can use; `message` says why, for the shopper."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class ProcessedImage:
    width: int
    height: int
    files: dict[str, bytes] = field(default_factory=dict)  # "list.webp" -> bytes


def _read(upload) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise ImageRejected(_too_large())
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(_too_large())
    if not data:
        raise ImageRejected(_not_an_image())
    return data


def _too_large() -> str:
    return _("The picture is too large: at most %(mb)d MB.") % {"mb": MAX_UPLOAD_BYTES // 2**20}


def _not_an_image() -> str:
    return _("This file is not a picture. Please upload a JPG, PNG or WebP image.")


def _too_many_pixels() -> str:
    return _("The picture has too many pixels: at most %(mp)d megapixels.") % {
        "mp": MAX_PIXELS // 1_000_000
    }


# WeasyPrint sets Pillow's process-wide ImageFile.LOAD_TRUNCATED_IMAGES to True
# when it is imported (any worker that has rendered a PDF): a truncated upload
# would then load with its missing half painted grey. An upload is loaded with
# the flag off, under a lock so two uploads never restore it out of order.
_STRICT_LOAD = threading.Lock()


def _load_strictly(image: Image.Image) -> None:
    with _STRICT_LOAD:
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _open(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise ImageRejected(_not_an_image())
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ImageRejected(_too_many_pixels())
            probe.verify()  # catches truncated and corrupt files
        image = Image.open(io.BytesIO(data))
        _load_strictly(image)
    except ImageRejected:
        raise
    except Image.DecompressionBombError:
        raise ImageRejected(_too_many_pixels()) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected(_not_an_image()) from None
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no alpha, and a transparent PNG must not turn black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    # A fresh save without exif=/icc_profile= carries no metadata (GPS, camera).
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    else:
        image.save(buffer, "WEBP", quality=80, method=4)
    return buffer.getvalue()


def process_upload(upload) -> ProcessedImage:
    """Check an upload and make every file the pages use; raises ImageRejected."""
    image = _open(_read(upload))
    image = ImageOps.exif_transpose(image)  # phones store portraits sideways + a tag
    image = _flatten(image)
    # Nothing of the upload rides along: Pillow would write the info's EXIF,
    # XMP, ICC profile or JPEG comment (a PHP payload, say) into the new files.
    image.info = {}
    if min(image.size) < MIN_SIDE:
        raise ImageRejected(
            _("The picture is too small: at least %(px)d pixels on each side.") % {"px": MIN_SIDE}
        )
    original = image.copy()
    original.thumbnail((ORIGINAL_MAX_SIDE, ORIGINAL_MAX_SIDE), Image.Resampling.LANCZOS)
    result = ProcessedImage(width=original.width, height=original.height)
    result.files["original.jpg"] = _encode(original, "JPEG")
    for name, (width, height, crop) in VARIANTS.items():
        if crop:
            variant = ImageOps.fit(original, (width, height), Image.Resampling.LANCZOS)
        else:
            variant = original.copy()
            variant.thumbnail((width, height), Image.Resampling.LANCZOS)
        result.files[f"{name}.webp"] = _encode(variant, "WEBP")
        result.files[f"{name}.jpg"] = _encode(variant, "JPEG")
    return result
