"""Requests carrying a NUL character are refused with a 400 before any view.

PostgreSQL text cannot hold NUL (0x00): a code, a search word or a form value
containing one made the first query that used it fail with a DataError, a
500 (tests/test_hostile_inputs.py found 51 routes). No legitimate client
sends one, so the whole request is refused in one place, with the site's 400
page, instead of every lookup guarding against it.

Checked: the path, every query-string key and value, every form field (URL
encoded or multipart; an uploaded file's content is its own business), and
the raw body of other posts (JSON or XML callbacks).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest

FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _has_nul(items) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in items)


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info or _has_nul(request.GET.lists()):
            raise BadRequest("NUL character in the URL")
        if request.method in BODY_METHODS:
            if request.content_type in FORM_TYPES:
                _keep_body_readable(request)
                if _has_nul(request.POST.lists()):
                    raise BadRequest("NUL character in a form field")
            elif b"\x00" in request.body:
                raise BadRequest("NUL character in the body")
        return self.get_response(request)


def _keep_body_readable(request) -> None:
    """Parsing a multipart form consumes the stream, after which a view can no
    longer read `request.body` (a payment callback reads its raw body). Reading
    the body first keeps it: the form is then parsed from that copy. Not for
    uploads too big to hold in memory (their views read the form, never the body)."""
    if request.content_type != "multipart/form-data":
        return  # a URL-encoded form is parsed from request.body anyway
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if limit is None or length <= limit:
        request.body  # noqa: B018 - read and cached by Django
