"""Template helpers of the sign-in pages."""

from __future__ import annotations

from django import template

from ..phone import format_phone, mask_phone
from ..sms import seconds_until_resend
from ..weixin.config import is_sandbox, is_wechat_browser, wechat_login_available

register = template.Library()


@register.filter
def phone_spaced(phone: str) -> str:
    """{{ phone|phone_spaced }}: +8613800138000 -> 138 0013 8000."""
    return format_phone(phone)


@register.filter
def phone_masked(phone: str) -> str:
    """{{ phone|phone_masked }}: +8613800138000 -> 138****8000."""
    return mask_phone(phone)


@register.simple_tag
def sms_resend_wait(phone: str) -> int:
    """{% sms_resend_wait phone as wait %}: seconds before a new code may be sent."""
    return seconds_until_resend(phone=phone) if phone else 0


@register.simple_tag(takes_context=True)
def wechat_login(context) -> dict[str, bool]:
    """{% wechat_login as wechat %}: wechat.available, .in_wechat, .sandbox."""
    request = context.get("request")
    available = wechat_login_available(request)
    return {
        "available": available,
        "in_wechat": is_wechat_browser(request),
        "sandbox": available and is_sandbox(),
    }
