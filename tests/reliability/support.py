"""Fault-injection helpers of the reliability tests (issue #15).

`own_redis` starts a private redis-server on a spare port (never the shared
one on 6379, which other suites use), points the cache and the Celery
broker at it, and lets a test stop and start it again.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
import redis

from tests.workers import wait_for  # noqa: F401 - the reliability tests import it here


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrivateRedis:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def queued(self, queue: str) -> list[dict]:
        """The task messages waiting in one Celery queue (kombu's Redis list)."""
        import json

        client = redis.Redis(port=self.port)
        return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]


class RecordingSms:
    """An SMS provider that remembers what it sent (read by the tests)."""

    sent: list[tuple[str, str]] = []

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None:
        RecordingSms.sent.append((phone, template))


@contextmanager
def backend_killed_before(pattern: str, *, using: str = "default"):
    """Terminate this connection's PostgreSQL backend (pg_terminate_backend,
    from a second connection) just before the first statement matching
    `pattern` runs: the work pauses at that known point, its server process
    is killed, and the statement then meets a dead connection, as it would
    after a crash or failover of the database. Yields the SQL it stopped at
    (empty if the pattern was never reached)."""
    from django.db import connections

    wrapper_conn = connections[using]
    stopped: list[str] = []

    def wrapper(execute, sql, params, many, context):
        if not stopped and re.search(pattern, sql):
            stopped.append(sql)
            pid = context["connection"].connection.info.backend_pid
            db = wrapper_conn.settings_dict
            with psycopg.connect(
                dbname=db["NAME"],
                user=db["USER"],
                password=db["PASSWORD"] or None,
                host=db["HOST"] or "127.0.0.1",
                port=db["PORT"] or 5432,
                autocommit=True,
            ) as admin:
                assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
                deadline = time.monotonic() + 10
                while admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]
                ).fetchone():
                    assert time.monotonic() < deadline, "the backend did not end"
                    time.sleep(0.01)
        return execute(sql, params, many, context)

    with wrapper_conn.execute_wrapper(wrapper):
        yield stopped
