"""SMS behind a provider interface.

Real gateways (Aliyun, Tencent Cloud) need credentials and a network this
project's tests cannot reach; the default provider writes each message to the
log, which is also how the tests read a sign-in code back.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
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
