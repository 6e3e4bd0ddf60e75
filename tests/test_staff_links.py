"""The staff pages outside the admin are reachable from the admin home, each shown
to the roles whose permission opens it, and the leader desk links 我的业绩."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401

pytestmark = pytest.mark.django_db


def _admin_home(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def test_operators_find_the_reports_the_wave_and_the_campaigns_but_not_finance(client, operator):
    html = _admin_home(client, operator)
    for name in ("analytics:dashboard", "logistics:warehouse_day", "marketing:stats"):
        assert f'href="{reverse(name)}"' in html, name
    assert reverse("leaders:finance") not in html


def test_finance_finds_the_finance_pages_and_the_reports_but_not_the_wave(client, finance):
    html = _admin_home(client, finance)
    assert f'href="{reverse("leaders:finance")}"' in html
    assert f'href="{reverse("analytics:dashboard")}"' in html
    assert reverse("logistics:warehouse_day") not in html
    for name in ("analytics:dashboard", "leaders:finance"):
        assert client.get(reverse(name)).status_code == 200, name


def test_the_leader_desk_links_my_performance(client, clock, pickup_point, leader):  # noqa: F811
    client.force_login(leader.user)
    page = client.get(reverse("leaders:home")).content.decode()
    assert f'href="{reverse("analytics:my_performance")}"' in page
    assert "我的业绩" in page
    assert client.get(reverse("analytics:my_performance")).status_code == 200
