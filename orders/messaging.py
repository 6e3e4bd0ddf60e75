"""The outside channels behind 我的消息: SMS and WeChat template messages.

Which kinds of notice leave the app, and by which channel, is one table
(CHANNELS). `orders.notices.notify` records the in-app notice and, when its
kind has channels, enqueues `send_notice_task` after commit: nothing is sent
for a transaction that rolls back, and no network call happens under a lock.

WeChat messages go only to shoppers who signed in with WeChat (an allauth
SocialAccount of provider "weixin" with an openid), and only for kinds with a
template id in settings.WECHAT_TEMPLATE_IDS. The provider is named by
settings.WECHAT_MESSAGE_PROVIDER; the default writes the request it would
send to the "tuangou.wechat" log (like tuangou.accounts.sms.LogSmsProvider),
`WechatTemplateMessageProvider` sends it for real (access token + HTTPS).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.module_loading import import_string

from tuangou.accounts.sms import send_sms

logger = logging.getLogger("tuangou.wechat")

SMS = "sms"
WECHAT = "wechat"

# Kind of notice -> the channels it also goes out by (the rest stay in the app).
CHANNELS: dict[str, frozenset[str]] = {
    "paid": frozenset(),
    "confirmed": frozenset(),
    "in_delivery": frozenset(),
    "completed": frozenset(),
    "cancelled": frozenset({WECHAT}),
    "ready": frozenset({SMS, WECHAT}),
    "refunded": frozenset({SMS, WECHAT}),
    "refund_failed": frozenset({WECHAT}),
    "claim_approved": frozenset({WECHAT}),
    "claim_rejected": frozenset({WECHAT}),
    "shortage": frozenset({WECHAT}),
    "uncollected": frozenset({WECHAT}),
    "group_succeeded": frozenset({WECHAT}),
    "group_failed": frozenset({SMS, WECHAT}),
}


def channels_for(kind: str) -> frozenset[str]:
    return CHANNELS.get(kind, frozenset())


# --- WeChat template messages --------------------------------------------------------

TEMPLATE_SEND_URL = "https://api.weixin.qq.com/cgi-bin/message/template/send"
TOKEN_URL = "https://api.weixin.qq.com/cgi-bin/token"  # noqa: S105 - a URL, not a secret
# WeChat's "thing" values hold at most 20 characters.
THING_MAX = 20
# Template data keys when settings give only a template id: the order number,
# the notice's title and its text. A template whose keys differ is configured
# as {"template_id": "...", "fields": {"character_string1": "number", ...}}.
DEFAULT_FIELDS = {"character_string1": "number", "thing2": "title", "thing3": "body"}
# Kinds whose text is too long for one "thing": their parameters get keys of their own.
DEFAULT_FIELDS_BY_KIND = {
    "ready": {
        "character_string1": "number",
        "thing2": "title",
        "thing3": "point",
        "character_string4": "code",
    },
}


@dataclass(frozen=True)
class TemplateMessage:
    """One `message/template/send` request body, ready to POST as JSON."""

    touser: str  # the shopper's openid for our official account
    template_id: str
    url: str  # the page the message opens
    data: dict[str, dict[str, str]]

    def payload(self) -> dict[str, Any]:
        return {
            "touser": self.touser,
            "template_id": self.template_id,
            "url": self.url,
            "data": self.data,
        }


class WechatMessageProvider(Protocol):
    def send(self, message: TemplateMessage) -> None: ...


class LogWechatMessageProvider:
    """Writes the request body to the 'tuangou.wechat' log instead of sending it."""

    def send(self, message: TemplateMessage) -> None:
        logger.info(
            "WeChat template message %s",
            json.dumps(message.payload(), ensure_ascii=False, sort_keys=True),
        )


class WechatMessageError(Exception):
    """WeChat refused a message (errcode != 0) or could not be reached."""


class WechatTemplateMessageProvider:
    """Sends through the official account's API: an access token (cached a little
    less than its 7200 s life, shared by every process through the cache), then
    POST message/template/send. Needs WECHAT_APP_ID / WECHAT_APP_SECRET."""

    TOKEN_CACHE_KEY = "wechat:access_token"  # noqa: S105 - a cache key
    TIMEOUT = 5

    def __init__(self, *, session=None):
        import requests

        self.session = session or requests.Session()

    def access_token(self) -> str:
        token = cache.get(self.TOKEN_CACHE_KEY)
        if token:
            return token
        reply = self._json(
            self.session.get(
                TOKEN_URL,
                params={
                    "grant_type": "client_credential",
                    "appid": settings.WECHAT_APP_ID,
                    "secret": settings.WECHAT_APP_SECRET,
                },
                timeout=self.TIMEOUT,
            )
        )
        if "access_token" not in reply:
            raise WechatMessageError(f"token: {reply.get('errcode')}: {reply.get('errmsg', '')}")
        token = reply["access_token"]
        cache.set(self.TOKEN_CACHE_KEY, token, max(60, int(reply.get("expires_in", 7200)) - 300))
        return token

    def send(self, message: TemplateMessage) -> None:
        reply = self._json(
            self.session.post(
                TEMPLATE_SEND_URL,
                params={"access_token": self.access_token()},
                data=json.dumps(message.payload(), ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.TIMEOUT,
            )
        )
        if reply.get("errcode") in (40001, 42001):
            # The token died early (another server asked for a new one): renew next time.
            cache.delete(self.TOKEN_CACHE_KEY)
        if reply.get("errcode", 0) != 0:
            raise WechatMessageError(f"{reply.get('errcode')}: {reply.get('errmsg', '')}")

    @staticmethod
    def _json(response) -> dict[str, Any]:
        try:
            response.raise_for_status()
            return response.json()
        except Exception as exc:  # network, HTTP status or not JSON
            raise WechatMessageError(str(exc)) from exc


def get_wechat_message_provider() -> WechatMessageProvider:
    path = getattr(settings, "WECHAT_MESSAGE_PROVIDER", "orders.messaging.LogWechatMessageProvider")
    return import_string(path)()


def template_config(kind: str) -> tuple[str, dict[str, str]] | None:
    """(template id, {data key: what goes in it}) for a kind, or None when not set up."""
    entry = getattr(settings, "WECHAT_TEMPLATE_IDS", {}).get(kind)
    if not entry:
        return None
    defaults = DEFAULT_FIELDS_BY_KIND.get(kind, DEFAULT_FIELDS)
    if isinstance(entry, str):
        return entry, defaults
    return entry["template_id"], entry.get("fields", defaults)


def wechat_openid(user_id: int) -> str | None:
    """The shopper's openid for our official account, if they signed in with WeChat."""
    from allauth.socialaccount.models import SocialAccount

    account = SocialAccount.objects.filter(user_id=user_id, provider="weixin").first()
    if account is None:
        return None
    return (account.extra_data or {}).get("openid") or account.uid or None


def build_template_message(*, notice, openid: str) -> TemplateMessage | None:
    """The template message for a notice, in the shop's language; None without a template."""
    from django.urls import reverse

    from .notices import render

    config = template_config(notice.kind)
    if config is None:
        return None
    template_id, fields = config
    with translation.override(settings.LANGUAGE_CODE):
        title, body = render(notice)
    values = {"number": notice.params.get("number", ""), "title": title, "body": body}
    data = {}
    for key, source in fields.items():
        value = str(values.get(source, notice.params.get(source, "")))
        if key.startswith("thing") and len(value) > THING_MAX:
            value = value[: THING_MAX - 1] + "…"
        data[key] = {"value": value}
    url = ""
    if notice.order_id:
        url = f"{settings.SITE_URL}{reverse('orders:detail', args=[notice.order.code])}"
    return TemplateMessage(touser=openid, template_id=template_id, url=url, data=data)


# --- sending one notice ----------------------------------------------------------------


def send_notice(*, notice_id: int) -> list[str]:
    """Send one notice by its kind's channels. Returns the channels used.

    Idempotent per (notice, channel): a task delivered twice sends nothing the
    second time (a cache marker, set before sending: at most once).
    """
    from .models import Notice

    notice = Notice.objects.select_related("order", "user").filter(pk=notice_id).first()
    if notice is None:
        return []
    sent: list[str] = []
    for channel in sorted(channels_for(notice.kind)):
        marker = f"notice-sent:{notice.pk}:{channel}"
        if not cache.add(marker, 1, 7 * 24 * 3600):
            continue  # sent already (a task delivered twice)
        try:
            if _send_by(channel, notice):
                sent.append(channel)
        except Exception:
            # One channel failing must not stop the others; the in-app notice stands.
            cache.delete(marker)
            logger.exception("notice %s by %s failed", notice.pk, channel)
    return sent


def _send_by(channel: str, notice) -> bool:
    if channel == SMS:
        if not notice.user.phone:
            return False
        send_sms(phone=notice.user.phone, template=f"order_{notice.kind}", params=notice.params)
        return True
    if channel == WECHAT:
        openid = wechat_openid(notice.user_id)
        message = build_template_message(notice=notice, openid=openid) if openid else None
        if message is None:
            return False
        get_wechat_message_provider().send(message)
        return True
    return False
