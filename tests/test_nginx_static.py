"""deploy/nginx.conf serves the collected static files itself.

nginx runs with the deployed configuration; only the port, the volumes and
the app's address are substituted. The app's address is a closed port: a
request nginx passed on to Python would answer 502, so a 200 here proves the
file never went through the app.
"""

import gzip
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CSS = b"body{color:#e4393c}" * 200  # long enough for gzip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx_static(tmp_path):
    if NGINX is None:
        pytest.fail("nginx is not installed (Debian package nginx-light; .ci/run installs it)")
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "app.3f2a9c1b7d4e.css").write_bytes(CSS)
    (static / "css" / "app.3f2a9c1b7d4e.css.gz").write_bytes(gzip.compress(CSS))
    (static / "css" / "app.css").write_bytes(CSS)
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    port, closed = _free_port(), _free_port()
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("http://web:8000", f"http://127.0.0.1:{closed}"),
        ("/data/static/", f"{static}/"),
        ("/data/media/", f"{tmp_path}/media/"),
        ("/data/private/", f"{tmp_path}/private/"),
    ]:
        assert old in conf, old
        conf = conf.replace(old, new)
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
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(process.stdout.read().decode())
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def _get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - local nginx
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_hashed_static_file_is_served_by_nginx_cached_for_a_year(nginx_static):
    status, headers, body = _get(f"{nginx_static}/static/css/app.3f2a9c1b7d4e.css")
    assert status == 200
    assert body == CSS
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Type"] == "text/css"


def test_the_precompressed_file_is_sent_to_a_client_that_accepts_gzip(nginx_static):
    status, headers, body = _get(
        f"{nginx_static}/static/css/app.3f2a9c1b7d4e.css", **{"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == CSS


def test_an_unhashed_name_is_served_but_cached_briefly(nginx_static):
    status, headers, body = _get(f"{nginx_static}/static/css/app.css")
    assert status == 200
    assert body == CSS
    assert headers["Cache-Control"] == "max-age=3600"
    assert "immutable" not in headers["Cache-Control"]


def test_a_missing_static_file_is_nginx_404_not_the_app(nginx_static):
    assert _get(f"{nginx_static}/static/css/nope.css")[0] == 404
    # Anything else goes to the app, which is down here: 502 proves the static
    # answers above never needed it.
    assert _get(f"{nginx_static}/")[0] == 502
