"""Notices that leave the app: SMS and WeChat template messages, chosen per kind,
sent only after commit, only to shoppers who signed in with WeChat."""

from __future__ import annotations

import json
import logging

import pytest
import responses
from allauth.socialaccount.models import SocialAccount
from django.db import transaction

from orders.messaging import (
    CHANNELS,
    TEMPLATE_SEND_URL,
    TOKEN_URL,
    TemplateMessage,
    WechatTemplateMessageProvider,
    send_notice,
)
from orders.models import Notice
from orders.notices import notify

from .pickup_support import paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def wechat_shopper(shopper):
    SocialAccount.objects.create(
        user=shopper, provider="weixin", uid="unionid-1", extra_data={"openid": "o-SHOPPER-1"}
    )
    return shopper


@pytest.fixture
def templates(settings):
    settings.WECHAT_TEMPLATE_IDS = {"ready": "TPL-READY-001"}
    settings.SITE_URL = "https://tuan.example.cn"


def _wechat_payloads(caplog) -> list[dict]:
    prefix = "WeChat template message "
    return [
        json.loads(r.getMessage()[len(prefix) :])
        for r in caplog.records
        if r.name == "tuangou.wechat" and r.getMessage().startswith(prefix)
    ]


def _sms(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tuangou.sms"]


def test_a_ready_notice_goes_to_a_wechat_shopper_as_a_template_message_after_commit(
    clock, wechat_shopper, point, sku, templates, caplog, django_capture_on_commit_callbacks
):
    order = paid_order(wechat_shopper, point, (sku, 1))
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(order=order, kind="ready", point="幸福里便利店", code="123456")
        assert _wechat_payloads(caplog) == []  # nothing before commit
        assert _sms(caplog) == []
    assert len(callbacks) == 1
    callbacks[0]()
    (payload,) = _wechat_payloads(caplog)
    assert payload == {
        "touser": "o-SHOPPER-1",
        "template_id": "TPL-READY-001",
        "url": f"https://tuan.example.cn/orders/o/{order.code}/",
        "data": {
            "character_string1": {"value": order.number},
            "thing2": {"value": "待取货"},
            "thing3": {"value": "幸福里便利店"},
            "character_string4": {"value": "123456"},
        },
    }
    assert len(_sms(caplog)) == 1  # ready also goes by SMS


def test_long_texts_are_cut_to_what_wechat_accepts(
    clock, wechat_shopper, point, sku, settings, caplog, django_capture_on_commit_callbacks
):
    settings.WECHAT_TEMPLATE_IDS = {"cancelled": "TPL-CANCELLED"}
    order = paid_order(wechat_shopper, point, (sku, 1))
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        notify(order=order, kind="cancelled", reason="x" * 40)  # typed words, not a code
    (payload,) = _wechat_payloads(caplog)
    body = payload["data"]["thing3"]["value"]
    assert len(body) == 20 and body.endswith("…")


def test_a_rolled_back_notice_sends_nothing(
    clock, wechat_shopper, point, sku, templates, caplog, django_capture_on_commit_callbacks
):
    order = paid_order(wechat_shopper, point, (sku, 1))
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notify(order=order, kind="ready", point="幸福里便利店", code="123456")
        raise RuntimeError("the sign-off failed")
    assert callbacks == []
    assert _wechat_payloads(caplog) == []
    assert not Notice.objects.filter(kind="ready").exists()


def test_a_shopper_without_wechat_gets_only_the_sms(
    clock, shopper, point, sku, templates, caplog, django_capture_on_commit_callbacks
):
    order = paid_order(shopper, point, (sku, 1))
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        notify(order=order, kind="ready", point="幸福里便利店", code="123456")
    assert _wechat_payloads(caplog) == []
    assert len(_sms(caplog)) == 1


def test_a_kind_without_a_template_id_stays_out_of_wechat(
    clock, wechat_shopper, point, sku, templates, caplog, django_capture_on_commit_callbacks
):
    order = paid_order(wechat_shopper, point, (sku, 1))
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        notify(order=order, kind="uncollected", point="幸福里便利店")
    assert CHANNELS["uncollected"] == frozenset({"wechat"})
    assert _wechat_payloads(caplog) == []
    assert _sms(caplog) == []


def test_in_app_only_kinds_enqueue_nothing(
    clock, wechat_shopper, point, sku, templates, django_capture_on_commit_callbacks
):
    order = paid_order(wechat_shopper, point, (sku, 1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(order=order, kind="completed")
    assert callbacks == []


def test_a_notice_sent_twice_goes_out_once(
    clock, wechat_shopper, point, sku, templates, caplog, django_capture_on_commit_callbacks
):
    order = paid_order(wechat_shopper, point, (sku, 1))
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        notice = notify(order=order, kind="ready", point="幸福里便利店", code="123456")
    assert send_notice(notice_id=notice.pk) == []
    assert len(_wechat_payloads(caplog)) == 1
    assert len(_sms(caplog)) == 1


@responses.activate
def test_the_real_provider_gets_a_token_once_and_posts_the_template_body(settings):
    settings.WECHAT_APP_ID = "wx-app"
    settings.WECHAT_APP_SECRET = "app-secret"
    responses.get(TOKEN_URL, json={"access_token": "TOKEN-1", "expires_in": 7200})
    responses.post(TEMPLATE_SEND_URL, json={"errcode": 0, "errmsg": "ok", "msgid": 1})
    message = TemplateMessage(
        touser="o-1", template_id="TPL", url="https://x/", data={"thing2": {"value": "待取货"}}
    )
    provider = WechatTemplateMessageProvider()
    provider.send(message)
    provider.send(message)
    token_calls = [c for c in responses.calls if c.request.url.startswith(TOKEN_URL)]
    send_calls = [c for c in responses.calls if c.request.url.startswith(TEMPLATE_SEND_URL)]
    assert len(token_calls) == 1
    assert "appid=wx-app" in token_calls[0].request.url
    assert len(send_calls) == 2
    assert "access_token=TOKEN-1" in send_calls[0].request.url
    assert json.loads(send_calls[0].request.body) == message.payload()


@pytest.mark.django_db
def test_bulk_reminders_send_one_outside_message_per_shopper(
    clock, shopper, point, sku, django_capture_on_commit_callbacks, monkeypatch
):
    from orders.notices import notify_many
    from orders.services.checkout import Want, place_order
    from orders.tasks import send_notice_task

    first = place_order(user=shopper, wants=[Want(sku.pk, 1)], pickup_point=point)
    second = place_order(user=shopper, wants=[Want(sku.pk, 2)], pickup_point=point)
    sent: list[int] = []
    monkeypatch.setattr(send_notice_task, "delay", lambda pk: sent.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        notices = notify_many(orders=[first, second], kind="uncollected", point=point.name)
    assert len(notices) == 2
    assert sent == [notices[0].pk]
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notify_many(orders=[first, second], kind="ready", point="x", code="1", channels=False)
    assert sent == []
