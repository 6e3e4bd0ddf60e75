"""The shopper's SMS sign-in pages: never a 500, the words Chinese apps use."""

from __future__ import annotations

import logging
import re

import pytest
from django.core import mail
from django.urls import reverse

from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db


def _sms_records(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tuangou.sms"]


def _field_errors(html: str, field: str) -> list[str]:
    """The error messages shown right under one field of our sign-in forms."""
    block = re.search(
        rf'<div class="field[^"]*" data-field="{field}">(.*?)</div>', html, flags=re.S
    )
    assert block, f"no field {field!r} on the page"
    return re.findall(r"<li>(.*?)</li>", block.group(1))


def test_an_empty_phone_gets_a_message_under_the_phone_field_and_no_sms(client, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    response = client.post(reverse("account_request_login_code"), {"phone": ""})
    assert response.status_code == 200
    assert _field_errors(response.content.decode(), "phone") == ["请输入手机号。"]
    assert _sms_records(caplog) == []
    assert User.objects.count() == 0


def test_an_email_instead_of_a_phone_is_asked_for_a_phone_and_sends_nothing(client, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    response = client.post(
        reverse("account_request_login_code"), {"email": "someone@example.cn", "phone": ""}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert _field_errors(html, "phone") == ["请输入手机号。"]
    assert 'name="email"' not in html
    assert mail.outbox == []
    assert _sms_records(caplog) == []
    assert User.objects.count() == 0


def test_the_sign_in_page_asks_only_for_a_phone(client):
    html = client.get(reverse("account_request_login_code")).content.decode()
    assert 'name="phone"' in html
    assert 'name="email"' not in html
