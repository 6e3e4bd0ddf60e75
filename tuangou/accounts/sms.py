"""SMS behind a provider interface.

Real gateways (Aliyun, Tencent Cloud) need credentials and a network this
project's tests cannot reach; the default provider writes each message to the
log, which is also how the tests read a sign-in code back.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

logger = logging.getLogger("tuangou.sms")


class SmsProvider(Protocol):
    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None: ...


class LogSmsProvider:
    """Writes the message to the 'tuangou.sms' logger instead of sending it."""

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None:
        rendered = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
        logger.info("SMS to %s [%s] %s", phone, template, rendered)


def get_sms_provider() -> SmsProvider:
    return import_string(settings.SMS_PROVIDER)()


def send_sms(*, phone: str, template: str, params: dict[str, str]) -> None:
    get_sms_provider().send(phone=phone, template=template, params=params)


# A new code may be asked for this long after the last one, as the per-phone
# rate limit of request_login_code (1/m/key) allows; the resend button counts
# it down.
RESEND_AFTER_SECONDS = 60


def _code_sent_key(phone: str) -> str:
    return f"sms:code-sent:{phone}"


def record_code_sent(*, phone: str) -> None:
    cache.set(_code_sent_key(phone), time.time(), RESEND_AFTER_SECONDS)


def seconds_until_resend(*, phone: str) -> int:
    """Whole seconds before the resend button may be pressed (0: now)."""
    sent_at = cache.get(_code_sent_key(phone))
    if sent_at is None:
        return 0
    return max(0, int(sent_at + RESEND_AFTER_SECONDS - time.time() + 0.999))
