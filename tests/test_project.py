"""Project-wide rules: lint, migrations, a complete zh-hans catalogue, demo data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = sorted(
    p
    for p in ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.po")
    if ".venv" not in p.parts and "var" not in p.parts
)


def test_ruff_lint_and_format_are_clean():
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.django_db
def test_every_model_change_has_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_there_is_a_catalogue_for_the_project_and_each_app():
    """locale/ for templates/ and tuangou/, and one for each app of ours: each a
    zh_Hans catalogue that Django loads (the app's name shows in Chinese, as
    its own catalogue says)."""
    from django.apps import apps
    from django.conf import settings
    from django.utils import translation

    own = {name for name in settings.LOCAL_APPS if not name.startswith("tuangou.")}
    by_dir = {p.relative_to(ROOT).parts[0]: p for p in CATALOGUES}
    assert sorted(by_dir) == sorted({"locale", *own})
    # The project's catalogue holds tuangou.accounts' strings.
    for directory, label in [("locale", "accounts"), *((name, name) for name in sorted(own))]:
        catalogue = polib.pofile(str(by_dir[directory]))
        assert catalogue.metadata["Language"] == "zh_Hans", directory
        name = apps.get_app_config(label).verbose_name
        with translation.override("en"):
            msgid = str(name)
        entry = catalogue.find(msgid)
        assert entry is not None and entry.msgstr, f"{msgid!r} not in {directory}"
        with translation.override("zh-hans"):
            assert str(name) == entry.msgstr, directory


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_zh_hans_catalogue_is_complete(po_path):
    catalogue = polib.pofile(str(po_path))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert untranslated == [], f"untranslated in {po_path}"
    assert fuzzy == [], f"fuzzy in {po_path}"


@pytest.mark.django_db
def test_pages_are_chinese_by_default_and_english_on_request(client):
    zh = client.get("/me/")
    assert "我的" in zh.content.decode()
    en = client.get("/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert ">Me<" in en.content.decode()


@pytest.mark.django_db
def test_the_language_switch_remembers_english(client):
    assert 'name="language"' in client.get("/me/").content.decode()  # signed out too
    client.post("/i18n/setlang/", {"language": "en", "next": "/me/"})
    assert ">Me<" in client.get("/me/").content.decode()


@pytest.mark.django_db
@pytest.mark.ticking  # the demo's history is dated from now: NOON_ISH, running
def test_seed_demo_is_idempotent(clock):
    from django.apps import apps

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    counts = {m._meta.label: m.objects.count() for m in apps.get_models()}
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert {m._meta.label: m.objects.count() for m in apps.get_models()} == counts
    assert counts["accounts.User"] >= 10
