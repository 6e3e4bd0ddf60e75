"""requirements.lock pins every dependency pyproject.toml names (issue #15,
security 6): `make install` installs exactly the lock, `make audit` checks it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _eq, version = line.partition("==")
            pins[_name(name)] = version.split()[0]
    return pins


def test_every_dependency_of_pyproject_is_pinned_in_the_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"]]
    for extra in ("dev", "embedded"):
        wanted += project["optional-dependencies"][extra]
    locked = _locked()
    missing = sorted({_name(r) for r in wanted} - set(locked))
    assert missing == [], "run `make lock` after changing pyproject.toml"
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in locked.values())


def test_the_lock_names_no_index_and_make_installs_from_it():
    text = (ROOT / "requirements.lock").read_text()
    assert "--index-url" not in text and "--find-links" not in text
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r $(LOCK)" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    assert "scripts/audit.py" in (ROOT / ".ci" / "run").read_text()


def _run_audit(tmp_path, monkeypatch, report: dict | None) -> int:
    """scripts/audit.py with a stand-in pip-audit that writes `report`."""
    import importlib.util
    import json
    import sys

    fake = tmp_path / "pip-audit"
    body = "" if report is None else f"open(out, 'w').write({json.dumps(report)!r})"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nout = sys.argv[sys.argv.index('--output') + 1]\n{body}\n"
        "sys.exit(1)\n"
    )
    fake.chmod(0o755)
    spec = importlib.util.spec_from_file_location("audit_script", ROOT / "scripts" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "PIP_AUDIT", fake)
    monkeypatch.setattr(sys, "argv", ["audit.py", str(ROOT / "requirements.lock")])
    return module.main()


def test_the_audit_fails_on_a_vulnerability_and_never_passes_unchecked(tmp_path, monkeypatch):
    vulnerable = {
        "dependencies": [
            {
                "name": "django",
                "version": "5.2.0",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.1"]}],
            },
            {"name": "celery", "version": "5.7.0", "vulns": []},
        ]
    }
    assert _run_audit(tmp_path, monkeypatch, vulnerable) == 1
    unchecked = {
        "dependencies": [{"name": "celery", "skip_reason": "Dependency not found on PyPI"}]
    }
    assert _run_audit(tmp_path, monkeypatch, unchecked) == 3
    assert _run_audit(tmp_path, monkeypatch, None) == 3  # pip-audit could not run
    clean = {"dependencies": [{"name": "celery", "version": "5.7.0", "vulns": []}]}
    assert _run_audit(tmp_path, monkeypatch, clean) == 0
