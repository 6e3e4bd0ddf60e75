"""Private files: commission statements, claim photos, leader applications'
storefront photos (later exports, bag labels).

Public media (product and pickup point pictures) live under MEDIA_ROOT and are
served by anyone at /media/. Private files never are:

- they live in their own storage, STORAGES["private"], rooted at
  PRIVATE_MEDIA_ROOT, a folder outside MEDIA_ROOT that no URL maps to;
- their names are random (PrivateName / new_private_name): knowing one
  leader's statement name tells nothing about another's;
- a browser gets one only from a view that first fetched the object through a
  permission-checked getter, then calls serve_private_file(). In development
  Django streams the file; in production (PRIVATE_MEDIA_ACCEL_PREFIX set) it
  answers with X-Accel-Redirect and nginx sends the bytes from an `internal`
  location (deploy/nginx.conf), so only the app can hand a file out.

A new kind of private file needs three lines:

    report = models.FileField(storage=private_storage, upload_to=PrivateName("exports"))
    obj = _get_export_for_user(request, code)            # the check
    return serve_private_file(obj.report, content_type="text/csv", filename="x.csv")
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.http import FileResponse, Http404, HttpResponse
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property
from django.utils.http import content_disposition_header

logger = logging.getLogger(__name__)

# Where the public media of older versions kept private files. /media/ never
# serves these prefixes, even if a file was left there (see public_media_path_is_private).
LEGACY_PUBLIC_PREFIXES = ("statements/", "orders/claims/", "leaders/applications/")

# Extensions a private name may keep; anything else is stored as ".bin".
_KNOWN_EXTENSIONS = {".pdf", ".jpg", ".jpeg", ".png", ".webp", ".csv", ".xlsx", ".zip"}


class PrivateFileHasNoURL(ValueError):
    """A private file was asked for a public URL: link to its checked view instead."""


class PrivateFileSystemStorage(FileSystemStorage):
    """FileSystemStorage rooted at PRIVATE_MEDIA_ROOT, without public URLs."""

    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    def _clear_cached_properties(self, setting, **kwargs):
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name):
        # Failing loudly beats a link into /media/ that leaks the file or 404s.
        raise PrivateFileHasNoURL(f"{name!r} is private: link to the view that checks the reader")


def private_storage():
    """The storage of private files (a callable, so FileFields and migrations
    name it instead of freezing a path)."""
    return storages["private"]


def new_private_name(prefix: str, ext: str = "") -> str:
    """A fresh, unguessable name: `<prefix>/<yyyy>/<mm>/<32 hex>.<ext>`.

    The month folders only keep directories small; the random part (128
    bits) is what makes the name unguessable.
    """
    ext = ext.lower()
    if ext and not ext.startswith("."):
        ext = "." + ext
    if ext and ext not in _KNOWN_EXTENSIONS:
        ext = ".bin"
    return f"{prefix.strip('/')}/{timezone.now():%Y/%m}/{secrets.token_hex(16)}{ext}"


@deconstructible
class PrivateName:
    """upload_to for private FileFields: keeps the extension, drops the name."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self, instance, filename: str) -> str:
        return new_private_name(self.prefix, PurePosixPath(filename).suffix)


def serve_private_file(
    field_file,
    *,
    content_type: str,
    filename: str = "",
    as_attachment: bool = False,
) -> HttpResponse:
    """Answer with a private file. Call it only after the view has checked that
    the person asking may read it (a permission-checked getter).

    A missing file is a 404, never a 500. The answer is never cached by a
    shared cache.
    """
    name = getattr(field_file, "name", "") or ""
    storage = getattr(field_file, "storage", None) or private_storage()
    if not name or not storage.exists(name):
        raise Http404("no such file")
    prefix = settings.PRIVATE_MEDIA_ACCEL_PREFIX
    if prefix:
        # nginx sends the bytes from its internal location; Content-Type and
        # Content-Disposition set here are kept by nginx.
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix + quote(name)
        disposition = content_disposition_header(as_attachment, filename) if filename else None
        if disposition:
            response["Content-Disposition"] = disposition
    else:
        response = FileResponse(
            storage.open(name, "rb"),
            content_type=content_type,
            as_attachment=as_attachment,
            filename=filename,
        )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def public_media_path_is_private(path: str) -> bool:
    """True for /media/ paths where older versions kept private files (and
    for any path that climbs out with "..")."""
    if ".." in PurePosixPath(path).parts:
        return True
    clean = os.path.normpath("/" + path).lstrip("/")
    return any(clean.startswith(p) for p in LEGACY_PUBLIC_PREFIXES)


def serve_public_media(request, path: str):
    """Development's /media/ (production's nginx does the same): public
    pictures only, never a leftover private file."""
    from django.views.static import serve

    if public_media_path_is_private(path):
        raise Http404("not public")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    return safe_media_headers(response)


PICTURE_TYPES = {"image/jpeg", "image/png", "image/webp"}


def safe_media_headers(response):
    """What nginx adds to /media/ too (deploy/nginx.conf): never sniffed, never
    run as a page (a sandbox with no sources), and anything but a picture is a
    download rather than shown inline."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    if response.status_code == 200 and content_type not in PICTURE_TYPES:
        response["Content-Disposition"] = "attachment"
    return response


def move_public_files_to_private(model, field_name: str, prefix: str) -> tuple[int, int]:
    """Move the files of `model.field_name` from public media to private storage,
    under new random names. For data migrations (pass the historical model).

    Idempotent: a row already pointing at a private file is left alone. A row
    whose file is in neither place keeps its name (the serving view answers
    404; statements are made again on demand). Returns (moved, missing).
    """
    private = private_storage()
    public = default_storage
    moved = missing = 0
    rows = model._default_manager.exclude(**{field_name: ""})
    for pk, name in rows.order_by("pk").values_list("pk", field_name).iterator():
        if private.exists(name):
            continue
        if not public.exists(name):
            missing += 1
            continue
        with public.open(name, "rb") as fh:
            new_name = private.save(new_private_name(prefix, PurePosixPath(name).suffix), fh)
        model._default_manager.filter(pk=pk).update(**{field_name: new_name})
        public.delete(name)
        moved += 1
    if moved or missing:
        logger.info(
            "%s.%s: %d file(s) moved to private storage, %d missing",
            model._meta.label,
            field_name,
            moved,
            missing,
        )
    return moved, missing
