"""老带新 pages: 我的邀请 (link, QR, invited friends) and the invite link's landing.

The link /promo/invite/<code>/ keeps the code in the visitor's session and
sends them to the sign-in page; whatever the channel (SMS code or WeChat),
tuangou.accounts.sign_in.after_sign_in (called by the account adapter's
post_login) calls `record_invitation_after_sign_in` on a shopper's first
sign-in, which records the referral through marketing.services.referrals.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from leaders.sharing import absolute, qr_svg

from .. import referral_selectors
from ..services import referrals

INVITE_SESSION_KEY = "marketing_invite_code"
SMS_LOGIN_URL_NAME = "account_request_login_code"


def invite_url(code: str) -> str:
    return absolute(reverse("marketing:invite_landing", args=[code]))


@login_required
def invite_page(request: HttpRequest) -> HttpResponse:
    """我的邀请: my link and QR, the friends I invited and where each stands."""
    code = referrals.invite_code_for(user=request.user).code
    url = invite_url(code)
    friends = referral_selectors.invitations_for(inviter=request.user)
    return render(
        request,
        "marketing/referrals/invite.html",
        {
            "code": code,
            "url": url,
            "qr_data_uri": "data:image/svg+xml;base64," + base64.b64encode(qr_svg(url)).decode(),
            "friends": friends,
            "summary": referral_selectors.invite_summary(friends),
        },
    )


def invite_landing(request: HttpRequest, code: str) -> HttpResponse:
    """Where the link and the QR lead: who invites you and what you get."""
    # A NUL byte cannot reach PostgreSQL (psycopg refuses it): no such code.
    inviter = None if "\x00" in code else referrals.inviter_for_code(code)
    if inviter is None:
        raise Http404
    if request.user.is_authenticated:
        if request.user.pk == inviter.pk:
            messages.info(request, _("This is your own invitation link: share it with a friend."))
            return redirect("marketing:invite")
        return render(
            request,
            "marketing/referrals/landing.html",
            {
                "inviter": inviter,
                "signed_in": True,
                "came_through": _came_through(request, inviter),
            },
        )
    request.session[INVITE_SESSION_KEY] = code.upper()[:16]
    login = f"{reverse(SMS_LOGIN_URL_NAME)}?{urlencode({'next': reverse('catalog:home')})}"
    return render(
        request,
        "marketing/referrals/landing.html",
        {"inviter": inviter, "signed_in": False, "login_url": login},
    )


def _came_through(request, inviter) -> bool:
    referral = getattr(request.user, "referral", None)
    return referral is not None and referral.inviter_id == inviter.pk


def record_invitation_after_sign_in(request: HttpRequest) -> None:
    """For after_sign_in, on a shopper's first sign-in: the invite code kept
    by the landing page becomes a Referral (and the invitee's gift)."""
    code = request.session.pop(INVITE_SESSION_KEY, None)
    if not code or not request.user.is_authenticated:
        return
    referral = referrals.record_referral(invitee=request.user, code=code)
    if referral is not None and getattr(referral, "gift", None) is not None:
        messages.success(
            request,
            _("Welcome! Your friend's gift, a first-order coupon, is in My coupons."),
        )


urlpatterns = [
    path("invite/", invite_page, name="invite"),
    path("invite/<str:code>/", invite_landing, name="invite_landing"),
]
