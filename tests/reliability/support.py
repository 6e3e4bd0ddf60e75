"""Fault-injection helpers of the reliability tests (issue #15).

`own_redis` starts a private redis-server on a spare port (never the shared
one on 6379, which other suites use), points the cache and the Celery
broker at it, and lets a test stop and start it again.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field

import redis


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


def wait_for(condition, *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition()` until it is true, failing after `timeout` seconds (no sleeps
    of fixed length in the tests: each one ends as soon as the state is reached)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
