#!/usr/bin/env python3
"""Make sure PostgreSQL and Redis answer before tests or the dev server run.

`services.py ensure` : start the machine's PostgreSQL/Redis if they are down
                        (Debian's pg_ctlcluster, redis-server), or say exactly
                        what to run, and exit 1.
`services.py status` : print what answers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/tuangou"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def postgres_target() -> tuple[str, int]:
    url = urlparse(os.environ.get("DATABASE_URL", DEFAULT_DB))
    return url.hostname or "127.0.0.1", url.port or 5432


def redis_target() -> tuple[str, int]:
    url = urlparse(os.environ.get("REDIS_URL", DEFAULT_REDIS))
    return url.hostname or "127.0.0.1", url.port or 6379


def postgres_up() -> bool:
    return _answers(*postgres_target())


def redis_up() -> bool:
    return _answers(*redis_target())


def _wait(check, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def start_postgres() -> bool:
    clusters = Path("/etc/postgresql")
    if not shutil.which("pg_ctlcluster") or not clusters.is_dir():
        return False
    for version in sorted(p.name for p in clusters.iterdir()):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
        )
    return _wait(postgres_up)


def start_redis() -> bool:
    if not shutil.which("redis-server"):
        return False
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=False,
    )
    return _wait(redis_up)


def ensure() -> int:
    ok = True
    if not postgres_up() and not start_postgres():
        host, port = postgres_target()
        print(
            f"PostgreSQL does not answer at {host}:{port}. Start it, e.g.\n"
            "  sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
            "or install it: sudo apt-get install postgresql",
            file=sys.stderr,
        )
        ok = False
    if not redis_up() and not start_redis():
        host, port = redis_target()
        print(
            f"Redis does not answer at {host}:{port}. Start it, e.g.\n"
            "  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 "
            '--save "" --appendonly no\n'
            "or install it: sudo apt-get install redis-server",
            file=sys.stderr,
        )
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "ensure":
        sys.exit(ensure())
    print(
        f"postgresql: {'up' if postgres_up() else 'down'}; redis: {'up' if redis_up() else 'down'}"
    )
