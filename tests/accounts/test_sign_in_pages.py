"""The shopper's SMS sign-in pages: never a 500, the words Chinese apps use."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db

SENT_AT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai


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


def _code(caplog, phone: str) -> str:
    return [
        m.group(1)
        for r in caplog.records
        if r.name == "tuangou.sms" and phone in r.getMessage()
        for m in [re.search(r"code=(\d{6})\b", r.getMessage())]
        if m
    ][-1]


def _request_code(client, phone: str = "13800000001"):
    response = client.post(reverse("account_request_login_code"), {"phone": phone})
    assert response.status_code == 302, response.content.decode()[:1000]
    return client.get(response["Location"])


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_code_page_says_验证码_and_shows_the_number_as_people_write_it(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    page = _request_code(client)
    html = page.content.decode()
    assert _messages(page) == ["验证码已发送"]
    assert "验证码已发送至 <strong>138 0000 0001</strong>" in html
    assert '<label for="id_code">验证码</label>' in html
    assert 'placeholder="6位验证码"' in html
    assert 'autocomplete="one-time-code"' in html
    assert ">重新获取验证码</button>" in html
    assert ">更换手机号</button>" in html
    assert "+86138" not in html
    # allauth's machine words: 代码 (code), 请求码 (request code), 发送登录代码给我
    assert "代码" not in html.replace("验证码", "")
    assert "请求码" not in html


def test_the_request_page_says_获取验证码(client):
    html = client.get(reverse("account_request_login_code")).content.decode()
    assert '<button class="btn btn-primary btn-block" type="submit">获取验证码</button>' in html
    assert "发送登录代码给我" not in html
    assert "请求码" not in html


def test_a_wrong_code_says_验证码错误或已过期_under_the_code_field(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    _request_code(client)
    wrong = f"{(int(_code(caplog, '+8613800000001')) + 1) % 1000000:06d}"
    response = client.post(reverse("account_confirm_login_code"), {"code": wrong})
    assert response.status_code == 200
    assert _field_errors(response.content.decode(), "code") == ["验证码错误或已过期。"]
    assert "_auth_user_id" not in client.session


def test_an_empty_code_asks_for_the_code(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    _request_code(client)
    response = client.post(reverse("account_confirm_login_code"), {"code": ""})
    assert _field_errors(response.content.decode(), "code") == ["请输入验证码。"]


def _resend_wait(html: str) -> int:
    return int(re.search(r'data-resend-wait="(\d+)"', html).group(1))


def test_the_resend_button_counts_down_the_minute_the_server_enforces(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    with time_machine.travel(SENT_AT, tick=False) as clock:
        page = _request_code(client)
        html = page.content.decode()
        assert _resend_wait(html) == 60
        assert 'data-wait-text="{s}秒后重新获取"' in html
        assert '<script src="/static/js/sms_countdown.js" defer></script>' in html
        confirm_url = reverse("account_confirm_login_code")
        clock.shift(45)
        assert _resend_wait(client.get(confirm_url).content.decode()) == 15
        clock.shift(15)
        assert _resend_wait(client.get(confirm_url).content.decode()) == 0


def _resend(client):
    return client.post(reverse("account_confirm_login_code"), {"action": "resend"})


def test_pressing_resend_after_the_minute_sends_a_new_code_that_signs_in(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    with time_machine.travel(SENT_AT, tick=False) as clock:
        _request_code(client)
        first = _code(caplog, "+8613800000001")
        # The first code's 5 minutes would end at +300 s; the new one has its own.
        clock.shift(250)
        resent = _resend(client)
        assert resent.status_code == 302
        assert resent["Location"] == reverse("account_confirm_login_code")
        assert len([m for m in _sms_records(caplog) if "+8613800000001" in m]) == 2
        second = _code(caplog, "+8613800000001")
        clock.shift(100)
        if second != first:
            stale = client.post(reverse("account_confirm_login_code"), {"code": first})
            assert _field_errors(stale.content.decode(), "code") == ["验证码错误或已过期。"]
        response = client.post(reverse("account_confirm_login_code"), {"code": second})
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(shopper.pk)


def test_pressing_resend_too_early_without_js_explains_and_sends_nothing(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    with time_machine.travel(SENT_AT, tick=False) as clock:
        _request_code(client)
        first = _code(caplog, "+8613800000001")
        clock.shift(20)
        early = _resend(client)
        assert early["Location"] == reverse("account_confirm_login_code")
        page = client.get(early["Location"])
        assert _messages(page) == ["验证码获取过于频繁，请一分钟后再试。"]
        assert _resend_wait(page.content.decode()) == 40
        assert len([m for m in _sms_records(caplog) if "+8613800000001" in m]) == 1
        # The first code still works.
        response = client.post(reverse("account_confirm_login_code"), {"code": first})
        assert client.session["_auth_user_id"] == str(shopper.pk)
        assert response.status_code == 302


def test_another_number_can_be_entered_after_a_code_was_sent(client, shopper, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    _request_code(client)
    # allauth sends the phone form back to the pending code page...
    assert client.get(reverse("account_request_login_code"))["Location"] == reverse(
        "account_confirm_login_code"
    )
    # ...until 更换手机号 drops the pending code.
    changed = client.post(reverse("account_change_login_phone"))
    assert changed["Location"] == reverse("account_request_login_code")
    assert client.get(reverse("account_request_login_code")).status_code == 200
    page = _request_code(client, "13800000002")
    assert "138 0000 0002" in page.content.decode()
    # A number without an account gets a code, not an account (until it is entered).
    assert not User.objects.filter(phone="+8613800000002").exists()


@pytest.mark.parametrize(
    ("nickname", "phone", "message"),
    [
        ("张阿姨", "+8613800000001", "登录成功，欢迎你，张阿姨！"),
        ("", "+8613800000001", "登录成功，欢迎你，138****0001！"),
    ],
)
def test_the_signed_in_message_names_the_person_never_the_username(
    client, make_user, caplog, nickname, phone, message
):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    make_user("shopper", phone, nickname)
    _request_code(client, phone)
    response = client.post(
        reverse("account_confirm_login_code"), {"code": _code(caplog, phone)}, follow=True
    )
    assert client.session["_auth_user_id"]
    assert _messages(response) == [message]
    assert "shopper" not in response.content.decode()


def test_a_person_with_neither_nickname_nor_phone_gets_no_name(make_user):
    from tuangou.accounts.models import public_name

    user = make_user("u8x7k2q", None, "")
    assert public_name(user) == ""
    assert user.public_name == ""


def test_the_staff_page_speaks_of_staff_and_sends_shoppers_to_the_code_page(client):
    html = client.get(reverse("account_login")).content.decode()
    assert "<h1>员工登录</h1>" in html
    assert '<label for="id_login">手机号或邮箱</label>' in html
    assert f'<a href="{reverse("account_request_login_code")}">手机号验证码登录</a>' in html
    assert "发送登录代码给我" not in html


def test_the_signup_page_asks_for_a_phone_only(client):
    html = client.get(reverse("account_signup")).content.decode()
    assert 'name="phone"' in html
    assert 'name="email"' not in html
    assert ">获取验证码</button>" in html


def test_a_staff_password_error_is_shown_on_the_page(client, operator):
    response = client.post(reverse("account_login"), {"login": "13900000101", "password": "x"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert '<ul class="errorlist">' in response.content.decode()
