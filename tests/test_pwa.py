"""The site's icon and web app manifest: /favicon.ico answers on every page,
and a shopper can add the shop to the home screen (name, icons, start_url,
standalone display, theme colour)."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from PIL import Image

pytestmark = pytest.mark.django_db


def test_favicon_ico_answers_with_an_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert "max-age=86400" in response["Cache-Control"]
    icon = Image.open(io.BytesIO(response.content))
    assert icon.format == "ICO"
    assert {(16, 16), (32, 32), (48, 48)} <= set(icon.info["sizes"])


def test_the_manifest_names_the_shop_and_opens_standalone(client):
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "邻里团"
    assert manifest["short_name"] == "邻里团"
    assert manifest["start_url"] == "/"
    assert manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#ff5a1f"
    assert [(i["sizes"], i["purpose"]) for i in manifest["icons"]] == [
        ("192x192", "any"),
        ("512x512", "any"),
        ("512x512", "maskable"),
    ]


def test_every_icon_the_manifest_names_exists_with_its_size(client):
    manifest = json.loads(client.get("/manifest.webmanifest").content)
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/")
        found = finders.find(icon["src"].removeprefix("/static/"))
        assert found, icon["src"]
        with Image.open(found) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
            assert image.format == "PNG"


def test_pages_link_the_icon_the_touch_icon_and_the_manifest(client):
    page = client.get(reverse("catalog:home")).content.decode()

    assert '<link rel="icon" href="/favicon.ico"' in page
    assert '<link rel="apple-touch-icon" href="/static/img/icons/apple-touch-icon.png">' in page
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="theme-color" content="#ff5a1f">' in page
    assert finders.find("img/icons/apple-touch-icon.png")
    assert finders.find("img/icons/favicon-32.png")


def test_only_get_is_answered(client):
    assert client.post("/favicon.ico").status_code == 405
    assert client.post("/manifest.webmanifest").status_code == 405
