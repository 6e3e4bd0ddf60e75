#!/usr/bin/env python3
"""pip-audit over the locked dependencies (make audit; .ci/run).

Exit 0: every locked package was checked and none has a known vulnerability.
Exit 1: known vulnerabilities (listed, with the fixed versions).
Exit 3: the audit could not be done: pip-audit asks PyPI's JSON API
        (https://pypi.org/pypi/<name>/<version>/json) for each pinned version;
        without it (no network, or an index mirror that does not serve that
        API) nothing is checked, and a run that checked nothing must never
        pass as clean. The packages not checked are listed.

usage: scripts/audit.py [requirements.lock]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP_AUDIT = Path(sys.executable).parent / "pip-audit"


def main() -> int:
    lock = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "requirements.lock")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        run = subprocess.run(
            [
                str(PIP_AUDIT),
                "--requirement",
                str(lock),
                "--no-deps",  # the lock pins every package; nothing to resolve
                "--disable-pip",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(report),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists():
            print(run.stderr.strip(), file=sys.stderr)
            print(
                "AUDIT NOT DONE: pip-audit could not run (see above; it needs PyPI's JSON API).",
                file=sys.stderr,
            )
            return 3
        dependencies = json.loads(report.read_text())["dependencies"]

    vulnerable = [d for d in dependencies if d.get("vulns")]
    unchecked = [d for d in dependencies if d.get("skip_reason")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    if vulnerable:
        print(f"{len(vulnerable)} locked package(s) with known vulnerabilities.", file=sys.stderr)
        return 1
    if unchecked:
        for dep in unchecked:
            print(f"  not checked: {dep['skip_reason']}", file=sys.stderr)
        print(
            f"AUDIT NOT DONE: {len(unchecked)} of {len(dependencies)} locked packages could not"
            " be checked: PyPI's vulnerability data (its JSON API per version) is not"
            " reachable from here.",
            file=sys.stderr,
        )
        return 3
    print(f"{len(dependencies)} locked packages checked: no known vulnerabilities.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
