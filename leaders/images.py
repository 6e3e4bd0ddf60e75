"""Storefront and pickup point photos go through the same checks as product pictures.

catalog.images.process_upload checks the file (a real JPEG/PNG/WebP, at most
5 MB, not a decompression bomb, at least 100 px a side), turns it upright and
strips its metadata: a phone photo of a shop carries the GPS position of the
leader's home otherwise. We keep its cleaned `original.jpg`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from catalog.images import ImageRejected, process_upload


def prepare_photo(upload, *, name: str = "photo.jpg") -> ContentFile:
    """A checked, cleaned JPEG ready to save, or ValidationError with the reason."""
    try:
        processed = process_upload(upload)
    except ImageRejected as exc:
        raise ValidationError(exc.message, code="bad_image") from None
    return ContentFile(processed.files["original.jpg"], name=name)
