"""Staff password logins: lockout after repeated failures (django-axes).

Failures are counted per client IP and per account (AXES_LOCKOUT_PARAMETERS);
after AXES_FAILURE_LIMIT of either, password logins from that IP, or to that
account from anywhere, are refused until AXES_COOLOFF_TIME has passed, even
with the right password. allauth's own login_failed rate limit slows the
attempts before that. SMS codes are limited separately (sign_in.py).
"""

from __future__ import annotations

from allauth.core.internal.httpkit import get_client_ip
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .phone import normalize_phone


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as allauth's rate limits see it: X-Forwarded-For
    only when TRUSTED_PROXY_COUNT says a proxy of ours sets it, else REMOTE_ADDR
    (a header anyone can send never picks the address that gets locked)."""
    try:
        return get_client_ip(request)
    except ImproperlyConfigured:
        # Fewer X-Forwarded-For entries than trusted proxies: not through ours.
        return request.META.get("REMOTE_ADDR")


def account_key(request: HttpRequest, credentials: dict | None) -> str | None:
    """One key per account, whichever way it was typed (email, 139..., +86139...,
    admin username), so alternating them does not multiply the attempts;
    what matches no account is counted as typed."""
    from .models import User

    creds = credentials or {}
    typed = next(
        (creds[k] for k in ("phone", "email", "username", "login") if creds.get(k)),
        None,
    )
    if typed is None:
        data = getattr(request, "POST", {}) if request is not None else {}
        typed = data.get("login") or data.get("username")
    if not typed:
        return None
    typed = str(typed).strip()
    phone = normalize_phone(typed)
    if phone:
        users = User.objects.filter(phone=phone)
    elif "@" in typed:
        users = User.objects.filter(email__iexact=typed)
    else:
        users = User.objects.filter(username=typed)
    pk = users.values_list("pk", flat=True).first()
    if pk is not None:
        return f"user:{pk}"
    return (phone or typed).lower()


def locked_out(
    request: HttpRequest, original_response=None, credentials: dict | None = None
) -> HttpResponse:
    """The lockout page: 429 in Chinese, with the cool-off in minutes."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)
