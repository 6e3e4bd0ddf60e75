"""Image checks for uploaded photos (storefront, pickup point).

Until catalog publishes its image service (issue #3) this is the same rule:
a real JPEG/PNG/WebP that Pillow can open, at most 5 MB and 6000 px a side.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 6000
FORMATS = {"JPEG", "PNG", "WEBP"}


def check_image(upload) -> None:
    """Raise ValidationError with a clear message unless `upload` is a usable photo."""
    if upload.size > MAX_BYTES:
        raise ValidationError(_("The photo is larger than 5 MB."), code="too_large")
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            _("The file is not an image. Please upload a JPEG or PNG photo."), code="not_image"
        ) from exc
    finally:
        upload.seek(0)
    if image_format not in FORMATS:
        raise ValidationError(
            _("The file is not an image. Please upload a JPEG or PNG photo."), code="not_image"
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ValidationError(_("The photo is too large (at most 6000 pixels a side)."))
