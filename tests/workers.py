"""Real Celery workers for the tests, in one place.

Two kinds:

- `celery_worker`: a solo worker in a thread of the test process
  (`celery.contrib.testing.worker.start_worker`) on the test's Redis. It reads
  the test's clock (time_machine patches the whole process) and its
  `task_postrun` signals reach the test. Modules that use it also import
  `eager_celery` (the override that turns off eager tasks).
- `WorkerProcesses` (fixture `worker_processes`, tests/reliability): real
  `celery worker` processes (prefork, one child) on a private Redis, for
  killing with SIGKILL. They run this module as their main
  (`python -m tests.workers …`), which can
  * start the worker's clock at the test's moment (`TEST_WORKER_NOW`, ISO
    datetime, ticking from there), so a task that reads "now" sees the test's
    day, never today's date;
  * pause the task just before the first statement matching a pattern
    (`TEST_WORKER_PAUSE_SQL`, a regex): the worker asks, on the task's own
    connection and inside its transaction, for a shared advisory lock that
    the test holds (`Pause`). The worker's backend waits on it, busy, like a
    statement waiting on a row lock; the test sees it in pg_stat_activity,
    kills the pool child and lets the lock go. `TEST_WORKER_PAUSE_SKIP=n`
    lets the first n matches of each process through; `TEST_WORKER_PAUSE_IDLE=1`
    waits on a second connection instead, so the task's own backend is idle in
    its transaction (it then ends as soon as the child dies).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tuangou.celery import app

ROOT = Path(__file__).resolve().parents[1]
QUEUES = "default,payments,notices,reports,cutoff"
PAUSE_KEY = 0x7475616E  # the advisory lock a paused worker asks for


# --- a worker in a thread of the test process ---------------------------------------


@pytest.fixture(autouse=True)
def eager_celery():
    """Overrides the eager fixture: the test uses a real worker."""
    app.conf.task_always_eager = False
    yield


@contextmanager
def thread_worker(django_db_blocker, *, purge: bool = True, **options):
    """A solo worker in a thread of this process, on the test's broker; the
    queues are purged first (messages of earlier runs are not this test's)
    unless `purge=False` (the test queued its own messages already)."""
    from celery.contrib.testing.worker import start_worker

    app.conf.task_always_eager = False
    if purge:
        app.control.purge()
    with (
        django_db_blocker.unblock(),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, **options)
        as worker,
    ):  # fmt: skip
        yield worker


@pytest.fixture
def celery_worker(django_db_blocker):
    with thread_worker(django_db_blocker) as worker:
        yield worker


# --- polling ------------------------------------------------------------------------


def wait_for(condition, *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition()` until it is true, failing after `timeout` seconds (no sleeps
    of fixed length in the tests: each one ends as soon as the state is reached)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def admin_connection():
    """A psycopg connection of the test's own to the test database (autocommit)."""
    from django.db import connection

    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        autocommit=True,
    )


# --- worker processes ---------------------------------------------------------------


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@dataclass
class WorkerProcesses:
    """Starts `celery worker` processes on the test's database and a broker."""

    broker_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    started: list[subprocess.Popen] = field(default_factory=list)

    def start(
        self,
        *,
        now=None,
        pause_sql: str | None = None,
        pause_skip: int = 0,
        pause_idle: bool = False,
    ) -> subprocess.Popen:
        from django.conf import settings
        from django.db import connection

        db = connection.settings_dict
        env = {
            **os.environ,
            "TESTING": "true",
            "DEBUG": "true",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": self.broker_url,
            "CELERY_BROKER_URL": self.broker_url,
            "CACHE_KEY_PREFIX": db["NAME"],
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT),
            "PYTHONPATH": str(ROOT),
            **self.env,
        }
        if now is not None:
            env["TEST_WORKER_NOW"] = now.isoformat()
        if pause_sql:
            env["TEST_WORKER_PAUSE_SQL"] = pause_sql
            env["TEST_WORKER_PAUSE_SKIP"] = str(pause_skip)
            env["TEST_WORKER_PAUSE_IDLE"] = "1" if pause_idle else "0"
        log = open(self.log_path, "a")  # noqa: SIM115 - the process keeps it
        self.started.append(subprocess.Popen(
            [sys.executable, "-m", "tests.workers", "-A", "tuangou", "worker",
             "--pool", "prefork", "--concurrency", "1", "-l", "info", "-Q", QUEUES,
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        log.close()
        return self.started[-1]

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def succeeded(self, task_name: str) -> list[str]:
        """The return values the log shows for `task_name` (one per successful run)."""
        pattern = re.escape(task_name) + r"\[[^\]]+\] succeeded in [0-9.]+s: (.*)"
        return re.findall(pattern, self.log())

    def kill_child(self, process: subprocess.Popen) -> int:
        """SIGKILL the worker's pool child and wait for the parent to start a new one."""
        (child,) = children(process.pid)
        os.kill(child, signal.SIGKILL)
        wait_for(
            lambda: children(process.pid) not in ([], [child]),
            timeout=30,
            what="a new pool child",
        )
        return child

    def stop(self) -> None:
        for process in self.started:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def worker_processes_on(broker_url: str, log_path: Path, **env):
    workers = WorkerProcesses(broker_url=broker_url, log_path=log_path, env=env)
    try:
        yield workers
    finally:
        workers.stop()


class Pause:
    """Holds the advisory lock that paused workers wait for (`TEST_WORKER_PAUSE_SQL`).

    `waiting()` lists the backends paused on it (this database only);
    `release()` lets them, and every later match, through."""

    def __init__(self):
        self.conn = admin_connection()
        self.conn.execute("SELECT pg_advisory_lock(%s)", [PAUSE_KEY])

    def waiting(self) -> list[int]:
        return [
            pid
            for (pid,) in self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                " AND query LIKE '%%pg_advisory_lock_shared%%'"
            )
        ]

    def lock_waiters(self, *, besides: set[int]) -> list[int]:
        """Backends of this database waiting on any lock (a row, a transaction, an
        advisory lock), but `besides`."""
        return [
            pid
            for (pid,) in self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            if pid not in besides
        ]

    def alive(self, pid: int) -> bool:
        return bool(
            self.conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
        )

    def release(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", [PAUSE_KEY])

    def close(self) -> None:
        self.conn.close()


@contextmanager
def paused():
    pause = Pause()
    try:
        yield pause
    finally:
        pause.close()


# --- the worker process's main ------------------------------------------------------


def _pause_hook(pattern: str, skip: int, *, idle: bool):
    regex = re.compile(pattern)
    seen = {"matches": 0}

    def wait(raw) -> None:
        raw.execute("SELECT pg_advisory_lock_shared(%s)", [PAUSE_KEY])
        raw.execute("SELECT pg_advisory_unlock_shared(%s)", [PAUSE_KEY])

    def wrapper(execute, sql, params, many, context):
        if regex.search(sql):
            seen["matches"] += 1
            if seen["matches"] > skip and idle:
                # On a second connection: the task's own backend stays idle in
                # its transaction, and ends as soon as the child dies.
                params_ = context["connection"].get_connection_params()
                with psycopg.connect(**params_, autocommit=True) as side:
                    wait(side)
            elif seen["matches"] > skip:
                wait(context["connection"].connection)
        return execute(sql, params, many, context)

    def install(sender, connection, **_kwargs):
        if wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.append(wrapper)

    return install


def main() -> None:
    now = os.environ.get("TEST_WORKER_NOW")
    if now:
        from datetime import datetime

        import time_machine

        time_machine.travel(datetime.fromisoformat(now), tick=True).start()
    pattern = os.environ.get("TEST_WORKER_PAUSE_SQL")
    if pattern:
        from django.db.backends.signals import connection_created

        install = _pause_hook(
            pattern,
            int(os.environ.get("TEST_WORKER_PAUSE_SKIP", "0")),
            idle=os.environ.get("TEST_WORKER_PAUSE_IDLE") == "1",
        )
        connection_created.connect(install, weak=False)
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(celery_main())


if __name__ == "__main__":
    main()
