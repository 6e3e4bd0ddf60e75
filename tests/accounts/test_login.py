"""Shoppers sign in by phone + SMS code (read back from the SMS log); staff by password."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db


def _codes_sent(caplog, phone: str) -> list[str]:
    return [
        m.group(1)
        for r in caplog.records
        if r.name == "tuangou.sms" and phone in r.getMessage()
        for m in [re.search(r"code=(\d{6})\b", r.getMessage())]
        if m
    ]


def test_a_shopper_signs_in_with_an_sms_code_from_the_log(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    response = client.post(reverse("account_request_login_code"), {"phone": "138 0000 0001"})
    assert response.status_code == 302
    [code] = _codes_sent(caplog, "+8613800000001")

    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(shopper.pk)


def test_a_wrong_code_does_not_sign_in(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    client.post(reverse("account_request_login_code"), {"phone": "13800000001"})
    [code] = _codes_sent(caplog, "+8613800000001")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    response = client.post(reverse("account_confirm_login_code"), {"code": wrong})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_an_invalid_phone_gets_a_clear_message_and_no_sms(client, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    response = client.post(reverse("account_request_login_code"), {"phone": "12345"})
    assert response.status_code == 200
    assert "请输入11位中国大陆手机号" in response.content.decode()
    assert [r for r in caplog.records if r.name == "tuangou.sms"] == []


def test_sms_codes_are_rate_limited_per_phone(shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    first = Client().post(reverse("account_request_login_code"), {"phone": "13800000001"})
    assert first.status_code == 302
    # A second browser (no pending code in its session) asks again at once.
    second = Client().post(reverse("account_request_login_code"), {"phone": "13800000001"})
    assert second.status_code == 200
    assert "验证码获取过于频繁，请一分钟后再试。" in second.content.decode()
    assert len(_codes_sent(caplog, "+8613800000001")) == 1


def test_sms_codes_are_rate_limited_per_ip(settings, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "request_login_code": "2/h/ip"}
    responses = [
        Client().post(reverse("account_request_login_code"), {"phone": f"1390000{n:04d}"})
        for n in range(3)
    ]
    assert [r.status_code for r in responses] == [302, 302, 200]
    assert "验证码获取过于频繁，请一分钟后再试。" in responses[2].content.decode()


def test_a_new_shopper_signs_up_with_phone_and_code(client, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    response = client.post(reverse("account_signup"), {"phone": "13712345678"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert not User.objects.filter(phone="+8613712345678").exists()
    [code] = _codes_sent(caplog, "+8613712345678")
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    user = User.objects.get(phone="+8613712345678")
    assert user.phone_verified is True
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize("login", ["olivia@ops.example.cn", "13900000101", "+8613900000101"])
def test_staff_sign_in_with_password_by_email_or_phone(client, operator, login):
    operator.email = "olivia@ops.example.cn"
    operator.save(update_fields=["email"])
    response = client.post(reverse("account_login"), {"login": login, "password": "pw-olivia"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_a_wrong_password_does_not_sign_in(client, operator):
    response = client.post(reverse("account_login"), {"login": "13900000101", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_new_phone_gets_an_account_only_when_its_code_is_entered(client, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    response = client.post(
        reverse("account_request_login_code") + "?next=/me/", {"phone": "13655556666"}
    )
    assert response.status_code == 302
    assert not User.objects.filter(phone="+8613655556666").exists()
    [code] = _codes_sent(caplog, "+8613655556666")
    confirm_url = response["Location"]  # carries ?next= along
    assert confirm_url.startswith(reverse("account_confirm_login_code"))
    response = client.post(confirm_url, {"code": code})
    assert response.status_code == 302
    assert response["Location"] == "/me/"
    user = User.objects.get(phone="+8613655556666")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert user.phone_verified is True
    assert user.has_usable_password() is False


def test_a_rate_limited_new_phone_gets_no_account_and_no_code(settings, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "request_login_code": "1/h/ip"}
    Client().post(reverse("account_request_login_code"), {"phone": "13655550001"})
    Client().post(reverse("account_request_login_code"), {"phone": "13655550002"})
    assert len(_codes_sent(caplog, "+8613655550001")) == 1
    assert _codes_sent(caplog, "+8613655550002") == []
    assert not User.objects.filter(phone__in=["+8613655550001", "+8613655550002"]).exists()
