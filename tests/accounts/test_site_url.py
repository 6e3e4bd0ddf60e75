"""Share links, QR codes and share cards point where the app really runs
(issue #10, "Links that work wherever the app runs").

Development derives SITE_URL from HOST and PORT, the variables `make run`
(scripts/run.py) serves on; production must still set SITE_URL."""

from __future__ import annotations

import html
import importlib.util
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.accounts.test_settings import STRONG_KEY, _clean_env

ROOT = Path(__file__).resolve().parents[2]


def _without_site(**env: str) -> dict[str, str]:
    # Empty, not absent: a developer's .env (read without overwriting) cannot fill them in.
    clean = {**_clean_env(), "HOST": "", "PORT": "", "SITE_URL": ""}
    clean.update(env)
    return clean


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=_without_site(DJANGO_SETTINGS_MODULE="tuangou.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _site_url(**env: str) -> str:
    result = _python("from django.conf import settings; print(settings.SITE_URL)", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _run_py():
    spec = importlib.util.spec_from_file_location("tuangou_run_script", ROOT / "scripts" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"HOST": "localhost", "PORT": "9000"}, "http://localhost:9000"),
        ({"HOST": "0.0.0.0", "PORT": "8001"}, "http://127.0.0.1:8001"),  # noqa: S104
        ({"HOST": "::1"}, "http://[::1]:8000"),
        ({"PORT": "8123", "SITE_URL": "https://tuan.example.cn/"}, "https://tuan.example.cn"),
    ],
)
def test_development_links_point_at_the_host_and_port_served(env, expected):
    assert _site_url(DEBUG="true", **env) == expected


def test_a_share_link_made_on_another_port_carries_that_port():
    result = _python(
        "from leaders.sharing import absolute; print(absolute('/leader/s/lily-share-code-1/'))",
        DEBUG="true",
        PORT="8123",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:8123/leader/s/lily-share-code-1/"


def test_production_still_needs_its_site_url_whatever_the_port():
    """Absent is tested in test_settings; empty (as compose's ${SITE_URL:-}) too."""
    env = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "HOST": "0.0.0.0", "PORT": "8123"}  # noqa: S104
    result = _python("pass", SITE_URL="", **env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: SITE_URL must be set when DEBUG is off "
        "(e.g. https://tuan.example.cn)"
    )


def test_a_bad_port_or_site_url_stops_start_up_with_one_line():
    port = _python("pass", DEBUG="true", PORT="eighty")
    assert port.returncode == 1
    assert port.stderr.strip() == (
        "Tuangou configuration error: PORT is invalid: 'eighty' (a port number such as 8000)"
    )
    site = _python("pass", DEBUG="true", SITE_URL="tuan.example.cn")
    assert site.returncode == 1
    assert site.stderr.strip() == (
        "Tuangou configuration error: SITE_URL must start with http:// or https://, "
        "not 'tuan.example.cn'"
    )


# --- make run ---------------------------------------------------------------------------


def test_make_run_hands_host_and_port_to_every_process():
    run = _run_py()
    env: dict[str, str] = {}

    run.site_env(env, "127.0.0.1", "8001")

    assert env == {"HOST": "127.0.0.1", "PORT": "8001"}


def test_make_run_on_every_interface_links_to_the_lan_address_and_accepts_it():
    run = _run_py()
    env: dict[str, str] = {}

    run.site_env(env, "0.0.0.0", "8001")  # noqa: S104

    lan = run._lan_address()
    assert env["SITE_URL"] == f"http://{lan}:8001"
    assert env["ALLOWED_HOSTS"] == f"127.0.0.1,localhost,{lan}"
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", lan)


def test_make_run_keeps_a_site_url_given_on_purpose():
    run = _run_py()
    env = {"SITE_URL": "https://demo.example.cn", "ALLOWED_HOSTS": "demo.example.cn"}

    run.site_env(env, "0.0.0.0", "8001")  # noqa: S104

    assert env["SITE_URL"] == "https://demo.example.cn"
    assert env["ALLOWED_HOSTS"] == "demo.example.cn"


# --- for real: a dev server on another port ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, cookie: str = "") -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    # Only http:// URLs of the dev server this test started.
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.django_db(transaction=True)
def test_the_leaders_share_link_on_port_8xxx_opens_on_that_server(leader_user, tmp_path):
    """`make run` with another PORT: the leader desk's share link carries that
    port, and opening it reaches the same server (before: 127.0.0.1:8000, dead)."""
    from tests.leaders.factories import CommunityFactory, LeaderFactory, PickupPointFactory

    leader = LeaderFactory(user=leader_user, real_name="王丽", share_code="lily-share-code-1")
    PickupPointFactory(leader=leader, community=CommunityFactory(name="幸福里小区"))
    client = Client()
    client.force_login(leader_user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    db = settings.DATABASES["default"]
    port = str(_free_port())
    env = _without_site(
        DEBUG="true",
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        REDIS_URL=settings.REDIS_URL,
        MEDIA_ROOT=str(tmp_path / "media"),
        PRIVATE_MEDIA_ROOT=str(tmp_path / "private"),
    )
    _run_py().site_env(env, "127.0.0.1", port)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", int(port)), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.1)
        status, page = _get(f"http://127.0.0.1:{port}/leader/", cookie)
        assert status == 200, page[:500]
        share_url = html.unescape(re.search(r'value="([^"]+)"[^>]*data-share-url', page).group(1))
        assert share_url == f"http://127.0.0.1:{port}/leader/s/lily-share-code-1/"

        opened, landing = _get(share_url)
        assert opened == 200, landing[:500]
    finally:
        server.terminate()
        server.wait(timeout=10)
