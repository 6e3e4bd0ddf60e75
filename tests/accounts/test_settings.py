"""Bad settings stop start-up with one readable line; production passes check --deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3Q9-production-secret-" + "x7" * 20


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "DATABASE_URL",
            "TESTING",
            "PYTEST_XDIST_WORKER",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _manage("check", DEBUG="false")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: SECRET_KEY must be set when DEBUG is off"
    )


def test_it_refuses_a_malformed_database_url():
    result = _manage("check", DEBUG="true", DATABASE_URL="mysql//nonsense")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Tuangou configuration error: DATABASE_URL")


def test_it_refuses_a_database_that_is_not_postgresql():
    result = _manage("check", DEBUG="true", DATABASE_URL="sqlite:///tmp/x.db")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: DATABASE_URL must point at PostgreSQL (postgres://...), "
        "not sqlite://"
    )


def test_it_refuses_a_weak_production_secret_key():
    result = _manage("check", DEBUG="false", SECRET_KEY="short")
    assert result.returncode == 1
    assert "SECRET_KEY is too weak" in result.stderr


def test_production_settings_pass_check_deploy_with_nothing_silenced():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="tuangou.example.cn",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout
