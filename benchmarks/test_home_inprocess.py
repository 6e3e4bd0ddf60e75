"""The home and product pages in-process: CPU per request beside the bare
one-query view (issue #11, docs/benchmarks_hotpath.md "Round: home page
rendering").

Not part of the suite (testpaths is tests/) and not a test of speed: it
prints figures. Run it on the benchmark's generated shop with

    .venv/bin/pytest -p no:xdist -s benchmarks/test_home_inprocess.py

`HOME_PROFILE=anon|signed|product` also writes a cProfile (CPU clock) of
200 requests to home-<which>.prof in the temporary directory. CPU time of the process
(`time.process_time`) is reported beside wall time because the box is
usually shared: wall time then measures the neighbours.
"""

from __future__ import annotations

import cProfile
import os
import tempfile
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

WARM_UP = 30
REQUESTS = 300


def _per_request(client, url, n=REQUESTS) -> tuple[float, float]:
    """(wall ms, CPU ms) per request, warm."""
    for _ in range(WARM_UP):
        assert client.get(url).status_code == 200
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        client.get(url)
    return (
        (time.perf_counter() - wall) / n * 1000,
        (time.process_time() - cpu) / n * 1000,
    )


def test_home_and_product_pages_in_process(settings):
    from django.core.cache import cache
    from django.template.base import Template
    from django.test.utils import _TestState

    import catalog.views
    from benchmarks.shop import build_shop

    # As deployed: without the test runner's template instrumentation, with
    # the bare view's URLconf.
    Template._render = _TestState.saved_data.template_render
    settings.ROOT_URLCONF = "benchmarks.urls"
    cache.clear()
    shop = build_shop(shoppers=1, products=24)
    anonymous, signed_in = Client(), Client()
    signed_in.cookies[settings.SESSION_COOKIE_NAME] = shop.shoppers[0].session_key
    product = reverse("catalog:product", args=[shop.product_code])
    rows = []
    for name, client, url in [
        ("bare view, anonymous", anonymous, "/bench/bare/"),
        ("bare view, signed in", signed_in, "/bench/bare/"),
        ("home, anonymous", anonymous, "/"),
        ("home, signed in", signed_in, "/"),
        ("product, anonymous", anonymous, product),
        ("product, signed in", signed_in, product),
    ]:
        wall, cpu = _per_request(client, url)
        rows.append(f"{name:24s} CPU {cpu:6.2f} ms   wall {wall:6.2f} ms")

    # The template's share of the home page.
    real_render, spent = catalog.views.render, []

    def timed(*args, **kwargs):
        start = time.process_time()
        response = real_render(*args, **kwargs)
        spent.append(time.process_time() - start)
        return response

    catalog.views.render = timed
    try:
        for name, client in (("anonymous", anonymous), ("signed in", signed_in)):
            spent.clear()
            _, cpu = _per_request(client, "/")
            rows.append(
                f"home {name:10s} template CPU {sum(spent) / len(spent) * 1000:.2f} of {cpu:.2f} ms"
            )
    finally:
        catalog.views.render = real_render

    which = os.environ.get("HOME_PROFILE")
    if which in ("anon", "signed", "product"):
        client = anonymous if which == "anon" else signed_in
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(200):
            client.get(product if which == "product" else "/")
        profile.disable()
        path = Path(tempfile.gettempdir()) / f"home-{which}.prof"
        profile.dump_stats(path)
        rows.append(f"profile: {path}")
    print("\n" + "\n".join(rows))
