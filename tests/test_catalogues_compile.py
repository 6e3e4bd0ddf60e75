"""Every catalogue compiles with msgfmt's checks, as compilemessages runs it on a
fresh clone (a .mo left over from an earlier build would hide a broken .po)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = sorted(
    p for p in ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.po") if ".venv" not in p.parts
)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_catalogue_passes_msgfmt_checks(po, tmp_path):
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-domain", "-o", str(tmp_path / "x.mo"), str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
