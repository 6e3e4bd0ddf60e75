# ruff: noqa: F811 - pytest fixtures imported from tests.leaders.conftest
"""Error pages (400, 403, 404, 500, CSRF) in the site's layout, in Chinese,
with a way back; never Django's bare English pages. The 500 page renders
without a request context and without the database."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousOperation
from django.template import loader
from django.test import Client
from django.urls import path, reverse

from tests.leaders.conftest import community, leader, pickup_point  # noqa: F401 - fixtures


def _boom(request):
    raise RuntimeError("a bug in a view")


def _suspicious(request):
    raise SuspiciousOperation("tampered")


# This module doubles as the urlconf of the 500/400 tests.
urlpatterns = [path("boom/", _boom), path("suspicious/", _suspicious)]


def _assert_site_layout(page: str) -> None:
    assert '<html lang="zh-hans">' in page
    assert '<header class="topbar">' in page
    assert 'href="/" data-home>返回首页</a>' in page
    assert "data-back>返回上一页</a>" in page
    assert 'rel="manifest"' in page and "/static/css/app.css" in page


@pytest.mark.django_db
def test_a_leader_opening_the_finance_pages_gets_the_sites_403_in_chinese(
    client, leader, leader_user
):
    client.force_login(leader_user)
    response = client.get(reverse("leaders:finance"))
    page = response.content.decode()

    assert response.status_code == 403
    _assert_site_layout(page)
    assert "<h1>您没有权限访问这个页面</h1>" in page
    assert "当前登录：幸福里团长小王。" in page
    assert 'class="tabbar"' in page  # the site's own navigation, a way on
    assert "403 Forbidden" not in page


@pytest.mark.django_db
def test_an_unknown_address_gets_the_sites_404_in_chinese(client):
    response = client.get("/no-such-page/")
    page = response.content.decode()

    assert response.status_code == 404
    _assert_site_layout(page)
    assert "<h1>页面不存在</h1>" in page
    assert "Not Found" not in page


def test_the_500_page_renders_without_a_request_or_the_database():
    # No django_db mark: any query while rendering would raise here.
    page = loader.get_template("500.html").render()

    _assert_site_layout(page)
    assert "<h1>出错了</h1>" in page
    assert "服务器开小差了" in page


def test_a_view_that_raises_answers_the_sites_500_in_chinese(settings):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)

    response = client.get("/boom/")
    page = response.content.decode()

    assert response.status_code == 500
    _assert_site_layout(page)
    assert "<h1>出错了</h1>" in page
    assert "Server Error" not in page and "a bug in a view" not in page


def test_a_suspicious_request_answers_the_sites_400_in_chinese(settings):
    settings.ROOT_URLCONF = __name__
    response = Client().get("/suspicious/")
    page = response.content.decode()

    assert response.status_code == 400
    _assert_site_layout(page)
    assert "<h1>请求有误</h1>" in page
    assert "tampered" not in page


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_gets_a_chinese_page_that_says_why():
    response = Client(enforce_csrf_checks=True).post("/i18n/setlang/", {"language": "en"})
    page = response.content.decode()

    assert response.status_code == 403
    _assert_site_layout(page)
    assert "<h1>页面已过期</h1>" in page
    assert "CSRF verification failed" not in page
