"""Private files of orders, served after a check (tuangou/private_files.py).

A claim photo is shown to the shopper who made the claim, to the leader of
the order's pickup point, and to staff who may view claims. Anyone else,
signed in or not, gets a 404: the answer never says whether the photo exists.
"""

from __future__ import annotations

import mimetypes

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from tuangou.private_files import serve_private_file

from ..models import ClaimPhoto

CLAIM_VIEWER_PERMISSION = "orders.view_aftersaleclaim"


def _get_claim_photo_for_user(request: HttpRequest, pk: int) -> ClaimPhoto:
    """The photo, if the signed-in user may see it; else 404 (one query)."""
    user = request.user
    if not user.is_authenticated:
        raise Http404("no such photo")
    photo = (
        ClaimPhoto.objects.select_related("claim__order__pickup_point__leader")
        .filter(pk=pk)
        .first()
    )
    if photo is None:
        raise Http404("no such photo")
    claim = photo.claim
    leader = claim.order.pickup_point.leader
    allowed = (
        claim.user_id == user.pk
        or (leader.user_id == user.pk and leader.is_active)
        or (user.is_staff and user.has_perm(CLAIM_VIEWER_PERMISSION))
    )
    if not allowed:
        raise Http404("no such photo")
    return photo


@require_GET
def claim_photo(request: HttpRequest, pk: int) -> HttpResponse:
    photo = _get_claim_photo_for_user(request, pk)
    content_type = mimetypes.guess_type(photo.image.name)[0] or "application/octet-stream"
    return serve_private_file(photo.image, content_type=content_type)


urlpatterns = [
    path("claim-photos/<int:pk>/", claim_photo, name="claim_photo"),
]
