"""Signing a persona into a Playwright browser without the SMS round trip."""

from __future__ import annotations

from django.conf import settings
from django.test import Client


def sign_in(context, live_server, user) -> None:
    """Copy a session made by `force_login` into the browser context's cookies."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def new_phone(browser, browser_context_args, live_server, user):
    """A fresh phone browser (iPhone 13 context) signed in as `user`."""
    context = browser.new_context(**browser_context_args)
    sign_in(context, live_server, user)
    return context, context.new_page()
