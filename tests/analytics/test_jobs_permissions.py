"""Every analytics URL refuses the anonymous, shoppers and leaders (new URLs are
covered automatically: the list comes from analytics' URLconf)."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, reverse

from analytics import urls as analytics_urls

pytestmark = pytest.mark.django_db

# Pages made for leaders themselves (their own numbers): refused to shoppers only.
LEADER_PAGES = {"my_performance"}
# A leader's page by id: another leader's id is "not found" for a leader (404).
LEADER_BY_ID = {"leader"}
# A POST to a GET-only page may be refused by its method check first (405).
POST_REFUSALS = {302, 403, 405}
SAMPLE_ARGS = {"string": "x7Hq2", "int": 999_999, "slug": "x", "path": "x", "uuid": "0" * 32}


def _patterns(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p.url_patterns, prefix)
        elif isinstance(p, URLPattern) and p.name:
            yield p


def analytics_urls_with_sample_args() -> list[tuple[str, str]]:
    urls = []
    for pattern in _patterns(analytics_urls.urlpatterns):
        converters = pattern.pattern.converters
        kwargs = {
            name: SAMPLE_ARGS[type(conv).__name__.replace("Converter", "").lower()]
            for name, conv in converters.items()
        }
        urls.append((pattern.name, reverse(f"analytics:{pattern.name}", kwargs=kwargs)))
    return urls


URLS = analytics_urls_with_sample_args()


def test_the_list_holds_every_report_job_url():
    names = {name for name, _url in URLS}
    assert {"jobs", "job", "job_cancel", "job_download"} <= names


@pytest.mark.parametrize(("name", "url"), URLS)
def test_the_anonymous_are_sent_to_sign_in(client, name, url):
    response = client.get(url)
    assert response.status_code == 302, name
    assert "login" in response["Location"], name
    assert client.post(url).status_code in POST_REFUSALS, name


@pytest.mark.parametrize(("name", "url"), URLS)
def test_shoppers_are_refused(client, shopper, name, url):
    client.force_login(shopper)
    assert client.get(url).status_code == 403, name
    assert client.post(url).status_code in POST_REFUSALS - {302}, name


@pytest.mark.parametrize(("name", "url"), [(n, u) for n, u in URLS if n not in LEADER_PAGES])
def test_leaders_are_refused_on_staff_pages(client, leader, name, url):
    client.force_login(leader.user)
    assert client.get(url).status_code == (404 if name in LEADER_BY_ID else 403), name
    assert client.post(url).status_code in POST_REFUSALS - {302}, name
