# ruff: noqa: F811 - pytest fixtures imported from tests.orders.conftest
"""The private files module (tuangou/private_files.py), its settings, and the
nginx of deploy/nginx.conf really handing out a statement on the app's word."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.accounts.test_settings import _manage
from tests.leaders.money import november  # noqa: F401 - fixture
from tests.orders.conftest import (  # noqa: F401 - fixtures
    clock,
    community,
    egg_sku,
    leader,
    other_community,
    other_leader,
    other_pickup_point,
    pickup_point,
    point,
    sku,
)
from tuangou.private_files import (
    PrivateName,
    new_private_name,
    public_media_path_is_private,
)

ROOT = Path(__file__).resolve().parents[1]


# --- names ------------------------------------------------------------------------------


def test_private_names_are_random_and_keep_only_a_known_extension(settings):
    names = [new_private_name("statements", ".PDF") for _ in range(200)]

    assert len(set(names)) == 200
    assert all(re.fullmatch(r"statements/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", n) for n in names)
    tokens = [n.rsplit("/", 1)[1][:32] for n in names]
    # No shared prefix a guesser could walk: the first 8 hex digits differ everywhere.
    assert len({t[:8] for t in tokens}) == 200
    assert new_private_name("exports", ".php").endswith(".bin")
    assert PrivateName("orders/claims")(None, "../../etc/passwd.JPG").startswith("orders/claims/")
    assert PrivateName("orders/claims")(None, "../../etc/passwd.JPG").endswith(".jpg")
    assert "passwd" not in PrivateName("orders/claims")(None, "passwd.jpg")


@pytest.mark.parametrize(
    ("path", "private"),
    [
        ("statements/2026/11/statement-1-20261001.pdf", True),
        ("orders/claims/2026/11/abc.jpg", True),
        ("leaders/applications/2026/11/storefront.jpg", True),
        ("catalog/products/a/b.jpg", False),
        ("leaders/points/2026/11/x.jpg", False),
        ("catalog/../statements/2026/11/x.pdf", True),
        ("../private/statements/x.pdf", True),
    ],
)
def test_media_paths_where_private_files_used_to_be_are_refused(path, private):
    assert public_media_path_is_private(path) is private


def test_public_pictures_stay_public_under_media(client, settings):
    for name in ("catalog/products/ab/cd/original.jpg", "leaders/points/2026/11/point.jpg"):
        path = Path(settings.MEDIA_ROOT) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff\xd8\xff picture")

        response = client.get(f"/media/{name}")

        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"\xff\xd8\xff picture"


# --- settings ---------------------------------------------------------------------------


def test_private_files_may_not_live_inside_public_media(tmp_path):
    result = _manage(
        "check",
        DEBUG="true",
        MEDIA_ROOT=str(tmp_path / "media"),
        PRIVATE_MEDIA_ROOT=str(tmp_path / "media" / "private"),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: PRIVATE_MEDIA_ROOT must lie outside MEDIA_ROOT: "
        "private files are never public"
    )


def test_the_accel_prefix_must_be_an_internal_path_outside_media():
    result = _manage("check", DEBUG="true", PRIVATE_MEDIA_ACCEL_PREFIX="/media/private/")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: PRIVATE_MEDIA_ACCEL_PREFIX must be an internal nginx "
        "path like /_private/"
    )


def test_compose_gives_the_app_and_nginx_the_same_private_folder_and_prefix():
    """docker-compose.yml and deploy/nginx.conf agree (a mismatch would 404
    every statement in production)."""
    compose = (ROOT / "docker-compose.yml").read_text()
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()

    assert "PRIVATE_MEDIA_ROOT: /data/private" in compose
    assert "PRIVATE_MEDIA_ACCEL_PREFIX: /_private/" in compose
    assert "- private:/data/private\n" in compose
    assert "- private:/data/private:ro\n" in compose
    block = re.search(r"location /_private/ \{(.*?)\}", nginx, re.S).group(1)
    assert "internal;" in block and "alias /data/private/;" in block
    assert "/data/private" not in nginx.split("location /_private/")[0]


# --- nginx, for real --------------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx(live_server, settings, tmp_path):
    """deploy/nginx.conf in front of the live server, the volumes mapped onto
    the test's folders: only these substitutions, the rest as deployed."""
    if NGINX is None:
        pytest.fail("nginx is not installed (Debian package nginx-light; .ci/run installs it)")
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    port = _free_port()
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("http://web:8000", live_server.url),
        ("/data/media/", f"{settings.MEDIA_ROOT}/"),
        ("/data/private/", f"{settings.PRIVATE_MEDIA_ROOT}/"),
    ]:
        assert old in conf, old
        conf = conf.replace(old, new)
    Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
    run = tmp_path / "nginx"
    run.mkdir()
    (run / "nginx.conf").write_text(
        "daemon off;\nworker_processes 1;\nuser root;\n"
        f"pid {run}/nginx.pid;\nerror_log {run}/error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n  include /etc/nginx/mime.types;\n  access_log off;\n"
        f"  client_body_temp_path {run}/body;\n  proxy_temp_path {run}/proxy;\n"
        f"  fastcgi_temp_path {run}/fcgi;\n  uwsgi_temp_path {run}/uwsgi;\n"
        f"  scgi_temp_path {run}/scgi;\n{conf}\n}}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(run), "-c", str(run / "nginx.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(process.stdout.read().decode())
            time.sleep(0.05)
    yield base
    process.terminate()
    process.wait(timeout=10)


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _get(url: str, cookie: str = "") -> tuple[int, dict, bytes]:
    # Only http:// URLs of the local nginx started above.
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True)
def test_nginx_sends_a_statement_only_when_the_app_says_so(
    nginx, settings, november, leader_user, other_leader, other_leader_user
):
    from tests.leaders.test_statements import pdf_text

    settings.PRIVATE_MEDIA_ACCEL_PREFIX = "/_private/"
    mine = november
    leftover = Path(settings.MEDIA_ROOT) / "statements/2026/11/statement-1-20261001.pdf"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(mine.statement.read())
    mine.statement.close()
    url = nginx + reverse("leaders:money_statement_pdf", args=[mine.code])
    lily, ming = _session_cookie(leader_user), _session_cookie(other_leader_user)

    status, headers, body = _get(url, lily)
    assert status == 200
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith('attachment; filename="statement-')
    assert "X-Accel-Redirect" not in headers
    assert "王丽" in pdf_text(body) and mine.verification_code in pdf_text(body)

    refused = [
        _get(url, ming),  # another leader: the app answers 404, nginx sends nothing
        _get(f"{nginx}/_private/{mine.statement.name}"),  # internal: never from outside
        _get(f"{nginx}/_private/{mine.statement.name}", lily),
        _get(f"{nginx}/media/{mine.statement.name}"),
        _get(f"{nginx}/media/statements/2026/11/statement-1-20261001.pdf"),  # a leftover
    ]
    assert [r[0] for r in refused] == [404, 404, 404, 404, 404]
    assert all(b"%PDF" not in r[2] for r in refused)
