#!/usr/bin/env python3
"""Run the test suite on other days: proof that no test depends on the real date.

`make test-faketime` (or `scripts/faketime_suite.py [pytest args]`) runs the
whole suite three times under libfaketime (Debian package `faketime`), each
time with the machine's clock moved to:

  month-end   the last day of this month, 23:58 in Shanghai: the run crosses
              midnight into the next month;
  new-year    31 December of this year, 23:30 in Shanghai (15:30 UTC): after
              the 23:00 cutoff, the last evening of the year;
  year-later  a year from now.

Every process of the run sees the moved clock (pytest, its xdist workers, the
live server, Chromium, an in-process Celery worker); PostgreSQL and Redis are
servers of their own and keep the real time, so no code may compare the
database's now() with Python's. The clock is moved by an offset (FAKETIME
"+N" seconds), so processes started later in the run agree with the first.
Only the wall clock moves: the monotonic clock stays real
(FAKETIME_DONT_FAKE_MONOTONIC=1), else with libfaketime 0.9.10 every timed
wait (a lock, an Event, a queue) would last as long as the offset; Python's
time.sleep gets a shim for that mode (scripts/faketime/sitecustomize.py) and
Chromium keeps a moved monotonic clock (tests/conftest.py), which it needs.

  scripts/faketime_suite.py                  # the three moments, the whole suite
  scripts/faketime_suite.py -m "not browser" # pytest arguments are passed on
  FAKETIME_AT="2027-03-01 00:05" scripts/faketime_suite.py   # one moment of your own (Shanghai)

Prints a line per moment with pytest's counts and exits 1 if any run failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
PYTEST = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup"]


def moments(now: datetime) -> list[tuple[str, datetime]]:
    """The three moments, from `now` (aware)."""
    local = now.astimezone(SHANGHAI)
    next_month = (local.date().replace(day=28) + timedelta(days=4)).replace(day=1)
    month_end = next_month - timedelta(days=1)
    try:
        year_later = now.replace(year=now.year + 1)
    except ValueError:  # 29 February
        year_later = now.replace(year=now.year + 1, day=28)
    return [
        ("month-end", datetime.combine(month_end, time(23, 58), tzinfo=SHANGHAI)),
        ("new-year", datetime.combine(date(local.year, 12, 31), time(23, 30), tzinfo=SHANGHAI)),
        ("year-later", year_later),
    ]


def run_at(label: str, moment: datetime, args: list[str]) -> tuple[int, str]:
    offset = round((moment - datetime.now(UTC)).total_seconds())
    shown = moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M %a")
    print(f"\n=== {label}: {shown} Shanghai (clock {offset:+d} s) ===", flush=True)
    # `faketime -f` preloads libfaketime for pytest and everything it starts.
    command = ["faketime", "-f", f"{offset:+d}", *PYTEST, *args]
    # Python's time.sleep needs a shim then (scripts/faketime/sitecustomize.py),
    # and Chromium its monotonic clock moved after all (tests/conftest.py).
    pythonpath = os.pathsep.join(
        p for p in (str(ROOT / "scripts" / "faketime"), os.environ.get("PYTHONPATH")) if p
    )
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": pythonpath}
    summary = "no summary"
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as run:
        assert run.stdout is not None
        for line in run.stdout:
            sys.stdout.write(line)
            if re.search(r"\d+ (passed|failed|errors?)\b", line):
                summary = line.strip().strip("=").strip()
    return run.returncode, f"{label:<11} {shown}  {summary}"


def main(args: list[str]) -> int:
    if shutil.which("faketime") is None:
        print("faketime is not installed: sudo apt-get install faketime", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    chosen = os.environ.get("FAKETIME_AT")
    if chosen:
        at = datetime.fromisoformat(chosen).replace(tzinfo=SHANGHAI)
        plan = [("chosen", at)]
    else:
        plan = moments(now)
    results = [run_at(label, moment, args) for label, moment in plan]
    print("\nThe suite on other days:")
    for code, line in results:
        print(f"  {'ok  ' if code == 0 else 'FAIL'} {line}")
    return 0 if all(code == 0 for code, _line in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
