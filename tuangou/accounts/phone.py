"""Mainland phone numbers: accept what people type, store E.164."""

from __future__ import annotations

import re

_MAINLAND = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str | None:
    """'138 0013 8000', '+86 13800138000', '8613800138000' -> '+8613800138000'.

    Returns None when the value is not a mainland mobile number.
    """
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MAINLAND.match(digits):
        return None
    return f"+86{digits}"
