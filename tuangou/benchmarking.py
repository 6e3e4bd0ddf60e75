"""Where a benchmark command runs (manage.py bench_facts, bench_wave): in a throwaway
database of its own, or in place inside one transaction rolled back at the end.

- `in_own_database(name, run, keep=…, stdout=…)`: CREATE DATABASE `name` (dropped
  first if left over), point the default connection at it, migrate, call `run()`,
  then point the connection back and DROP it (unless `keep`). The name must be
  letters, digits and _, and not the configured database (CommandError).
- `in_place(run, keep=…, stdout=…)`: call `run()` inside one transaction of the
  configured database, rolled back at the end unless `keep`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction


class _Rollback(Exception):
    pass


def in_place(run: Callable[[], None], *, keep: bool, stdout) -> None:
    """run() inside one transaction, rolled back at the end unless keep."""
    try:
        with transaction.atomic():
            run()
            if not keep:
                raise _Rollback
    except _Rollback:
        stdout.write("rolled back: nothing left in the database")


def _admin(settings_dict: dict):
    """An autocommit connection to the server's `postgres` database (CREATE/DROP DATABASE)."""
    return psycopg.connect(
        dbname="postgres",
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        autocommit=True,
    )


def in_own_database(name: str, run: Callable[[], None], *, keep: bool, stdout) -> None:
    """run() in a new, migrated database `name`, dropped afterwards unless keep."""
    if not name.replace("_", "").isalnum():
        raise CommandError("--database must be letters, digits and _")
    wrapper = connections[DEFAULT_DB_ALIAS]
    original = wrapper.settings_dict["NAME"]
    if name == original:
        raise CommandError("--database must not be the configured database")
    wrapper.close()
    # The name was checked above (letters, digits and _ only).
    with _admin(wrapper.settings_dict) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    wrapper.settings_dict["NAME"] = name
    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        stdout.write(f"database {name} migrated in {time.perf_counter() - started:.1f} s")
        run()
    finally:
        wrapper.close()
        wrapper.settings_dict["NAME"] = original
        if not keep:
            with _admin(wrapper.settings_dict) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            stdout.write(f"database {name} dropped")
