"""Bad settings stop start-up with one readable line; production passes check --deploy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3Q9-production-secret-" + "x7" * 20


def _clean_env() -> dict[str, str]:
    return {
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
            "SITE_URL",
            "SMS_PROVIDER",
            "SMS_LOG_IN_PRODUCTION",
            "EMAIL_URL",
            "EMAIL_LOG_IN_PRODUCTION",
            "WECHAT_APP_ID",
            "WECHAT_APP_SECRET",
            "WECHAT_LOGIN_SANDBOX",
            "STATIC_ROOT",
        }
    }


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = _clean_env()
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


def test_production_needs_its_site_url():
    result = _manage("check", DEBUG="false", SECRET_KEY=STRONG_KEY)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: SITE_URL must be set when DEBUG is off "
        "(e.g. https://tuan.example.cn)"
    )


def test_production_refuses_to_log_sms_codes_unless_told_to():
    result = _manage(
        "check", DEBUG="false", SECRET_KEY=STRONG_KEY, SITE_URL="https://tuangou.example.cn"
    )
    assert result.returncode == 1
    assert "SMS_PROVIDER writes codes to the log" in result.stderr


def test_production_static_files_are_built_with_a_manifest(tmp_path):
    """What the Dockerfile does: collectstatic with DEBUG off, then hashed names resolve."""
    prod = {
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "SITE_URL": "https://tuangou.example.cn",
        "SMS_LOG_IN_PRODUCTION": "true",
        "EMAIL_LOG_IN_PRODUCTION": "true",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    built = _manage("collectstatic", "--noinput", "-v0", **prod)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()
    resolved = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from django.templatetags.static import static; print(static('css/app.css'))",
        ],
        cwd=ROOT,
        env={**_clean_env(), **prod, "DJANGO_SETTINGS_MODULE": "tuangou.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resolved.returncode == 0, resolved.stderr
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", resolved.stdout.strip())


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
        SITE_URL="https://tuangou.example.cn",
        SMS_LOG_IN_PRODUCTION="true",
        EMAIL_URL="smtp+tls://ops:pw@smtp.example.cn:587",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_code_only_commands_run_on_a_fresh_checkout_without_secrets():
    result = _manage("makemigrations", "--check", "--dry-run", DEBUG="false")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "SITE_URL": "https://tuangou.example.cn",
    "SMS_LOG_IN_PRODUCTION": "true",
}


def _setting(name: str, **env: str) -> subprocess.CompletedProcess:
    """Print one setting as the web process would see it with this environment."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; "
            f"print(repr(getattr(settings, {name!r}, None)))",
        ],
        cwd=ROOT,
        env={**_clean_env(), **env, "DJANGO_SETTINGS_MODULE": "tuangou.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_development_prints_mail_to_the_console_instead_of_calling_localhost_smtp():
    result = _setting("EMAIL_BACKEND", DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "'django.core.mail.backends.console.EmailBackend'"


def test_production_refuses_to_write_mail_to_the_log_unless_told_to():
    result = _manage("check", **PRODUCTION)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: EMAIL_URL is not set (mail would go to the log); "
        "set it or EMAIL_LOG_IN_PRODUCTION=true"
    )
    told = _setting("EMAIL_BACKEND", **PRODUCTION, EMAIL_LOG_IN_PRODUCTION="true")
    assert told.returncode == 0, told.stderr
    assert told.stdout.strip() == "'django.core.mail.backends.console.EmailBackend'"


def test_production_sends_mail_through_the_smtp_server_of_email_url():
    env = {**PRODUCTION, "EMAIL_URL": "smtp+tls://ops:pw@smtp.example.cn:587"}
    result = _setting("EMAIL_HOST", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "'smtp.example.cn'"
    assert _setting("EMAIL_USE_TLS", **env).stdout.strip() == "True"
    assert _setting("EMAIL_BACKEND", **env).stdout.strip() == (
        "'django.core.mail.backends.smtp.EmailBackend'"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("pigeon://loft", "EMAIL_URL is invalid: Invalid email schema pigeon"),
        ("smtp://", "EMAIL_URL needs a host, e.g. smtp+tls://user:password@smtp.example.cn:587"),
    ],
)
def test_a_malformed_email_url_stops_start_up(url, reason):
    result = _manage("check", DEBUG="true", EMAIL_URL=url)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Tuangou configuration error: {reason}"


def test_development_signs_in_with_the_wechat_sandbox_and_production_does_not():
    expr = "SOCIALACCOUNT_PROVIDERS"
    dev = _setting(expr, DEBUG="true")
    assert dev.returncode == 0, dev.stderr
    assert "'SANDBOX': True" in dev.stdout
    assert "'client_id': 'wxsandbox0000demo'" in dev.stdout
    prod = _setting(expr, **PRODUCTION, EMAIL_LOG_IN_PRODUCTION="true")
    assert prod.returncode == 0, prod.stderr
    assert prod.stdout.strip() == "{}"
    told = _setting(expr, **PRODUCTION, EMAIL_LOG_IN_PRODUCTION="true", WECHAT_LOGIN_SANDBOX="true")
    assert "'SANDBOX': True" in told.stdout
    real = _setting(expr, DEBUG="true", WECHAT_APP_ID="wx-real", WECHAT_APP_SECRET="s")
    assert "SANDBOX" not in real.stdout
    assert "'client_id': 'wx-real'" in real.stdout


def test_the_wechat_sandbox_and_a_real_appid_exclude_each_other():
    result = _manage(
        "check",
        DEBUG="true",
        WECHAT_LOGIN_SANDBOX="true",
        WECHAT_APP_ID="wx",
        WECHAT_APP_SECRET="s",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Tuangou configuration error: WECHAT_LOGIN_SANDBOX=true and WECHAT_APP_ID "
        "exclude each other: pick one"
    )
