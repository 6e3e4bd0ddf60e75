"""A neighbour who has never used the shop opens a leader's link, signs in by
SMS code (the account is made on the way) and comes back bound to the point."""

from __future__ import annotations

import logging
import re

import pytest
from django.urls import reverse

from leaders.models import BindingSource, ShopperBinding
from tuangou.accounts.models import User

pytestmark = pytest.mark.django_db


def test_a_new_neighbour_signs_in_from_a_share_link_and_is_bound(client, pickup_point, caplog):
    caplog.set_level(logging.INFO, logger="tuangou.sms")
    link = reverse("leaders:share_shop", args=[pickup_point.leader.share_code])
    landing = client.get(link)
    assert landing.status_code == 200
    login_href = re.search(r'href="([^"]*login/code/[^"]*)"', landing.content.decode()).group(1)
    sent = client.post(login_href.replace("&amp;", "&"), {"phone": "13644443333"})
    assert sent.status_code == 302
    code = re.findall(r"code=(\d{6})", caplog.text)[-1]
    signed_in = client.post(sent["Location"], {"code": code})
    assert signed_in["Location"] == link
    client.get(link)
    user = User.objects.get(phone="+8613644443333")
    binding = ShopperBinding.objects.get(user=user)
    assert binding.pickup_point == pickup_point
    assert binding.source == BindingSource.SHARE_LINK
