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


def _local(phone: str) -> str:
    """The 11 digits of a stored (E.164) mainland number, or '' for anything else."""
    normalized = normalize_phone(phone)
    return normalized[3:] if normalized else ""


def format_phone(phone: str) -> str:
    """'+8613800138000' -> '138 0013 8000', the way Chinese apps print a number."""
    digits = _local(phone)
    if not digits:
        return phone or ""
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}"


def mask_phone(phone: str) -> str:
    """'+8613800138000' -> '138****8000': enough for its owner to recognise it."""
    digits = _local(phone)
    if not digits:
        return ""
    return f"{digits[:3]}****{digits[7:]}"
