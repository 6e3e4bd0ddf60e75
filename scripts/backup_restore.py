#!/usr/bin/env python3
"""Back up a database, restore the backup into a new one, prove they agree.

1. pg_dump the database in custom format (-Fc: compressed, restorable table
   by table and in parallel).
2. createdb a new database and pg_restore the dump into it.
3. Compare the totals that matter in both: orders (count, payable,
   refunded, per status), payments and refunds (count and amount per
   status), order lines, the stock ledger (sum of changes, of held changes)
   and the stock rows (quantity, sold, held), commission entries (per kind)
   and accounts (settled, reserved, withdrawn), withdrawals.
4. Drop the restored database and delete the dump (unless --keep).

Exit 0 when every total is equal, 1 when one differs (each difference is
printed), 2 when a step failed (its error is printed).

usage: scripts/backup_restore.py [--database-url URL] [--dump PATH] [--keep]
The database defaults to DATABASE_URL (as the site reads it), else the
demo database postgres://postgres@127.0.0.1:5432/tuangou. Production backups
(pg_basebackup with WAL archiving) are described in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tuangou"

# name -> SQL returning rows; each must be deterministic (ORDER BY).
TOTALS: dict[str, str] = {
    "orders": "SELECT count(*), coalesce(sum(payable), 0), coalesce(sum(refunded_amount), 0)"
    " FROM orders_order",
    "orders by status": "SELECT status, count(*), sum(payable) FROM orders_order"
    " GROUP BY status ORDER BY status",
    "order lines": "SELECT count(*), coalesce(sum(quantity), 0), coalesce(sum(payable), 0),"
    " coalesce(sum(refunded_quantity), 0), coalesce(sum(handed_out_quantity), 0)"
    " FROM orders_orderline",
    "payments by status": "SELECT status, count(*), sum(amount) FROM orders_payment"
    " GROUP BY status ORDER BY status",
    "refunds by status": "SELECT status, count(*), sum(amount) FROM orders_refund"
    " GROUP BY status ORDER BY status",
    "stock ledger": "SELECT count(*), coalesce(sum(delta), 0), coalesce(sum(held_delta), 0)"
    " FROM catalog_stockledger",
    "stock rows": "SELECT count(*), coalesce(sum(quantity), 0), coalesce(sum(sold), 0),"
    " coalesce(sum(held), 0) FROM catalog_stockrecord",
    "commission entries by kind": "SELECT kind, count(*), sum(amount)"
    " FROM leaders_commissionentry GROUP BY kind ORDER BY kind",
    "commission accounts": "SELECT count(*), coalesce(sum(settled), 0),"
    " coalesce(sum(reserved), 0), coalesce(sum(withdrawn), 0) FROM leaders_commissionaccount",
    "withdrawals by status": "SELECT status, count(*), sum(amount) FROM leaders_withdrawal"
    " GROUP BY status ORDER BY status",
}


class StepFailed(Exception):
    pass


def _conninfo(url: str) -> dict[str, str]:
    parts = urlparse(url)
    if parts.scheme not in {"postgres", "postgresql"} or not parts.path.strip("/"):
        raise StepFailed(f"not a PostgreSQL database URL: {url!r}")
    return {
        "dbname": unquote(parts.path.lstrip("/")),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
    }


def _env(info: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PGHOST=info["host"], PGPORT=info["port"], PGUSER=info["user"])
    if info["password"]:
        env["PGPASSWORD"] = info["password"]
    return env


def _run(command: list[str], info: dict[str, str]) -> None:
    done = subprocess.run(command, env=_env(info), capture_output=True, text=True)
    if done.returncode != 0:
        raise StepFailed(f"{' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")


def totals(info: dict[str, str], dbname: str) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    with psycopg.connect(**{**info, "dbname": dbname}) as conn:
        for name, sql in TOTALS.items():
            found[name] = [tuple(str(value) for value in row) for row in conn.execute(sql)]
    return found


def differences(before: dict, after: dict) -> list[str]:
    return [
        f"{name}: source {before[name]} != restored {after.get(name)}"
        for name in before
        if before[name] != after.get(name)
    ]


def backup_and_verify(url: str, *, dump: Path | None = None, keep: bool = False) -> int:
    info = _conninfo(url)
    source = info["dbname"]
    restored = f"{source}_restore_{int(time.time())}"[:63]
    work = Path(tempfile.mkdtemp(prefix="tuangou-backup-"))
    dump = dump or work / f"{source}.dump"
    try:
        started = time.monotonic()
        _run(["pg_dump", "-Fc", "--no-owner", "-d", source, "-f", str(dump)], info)
        dumped = time.monotonic()
        _run(["createdb", "-T", "template0", restored], info)
        try:
            _run(["pg_restore", "--no-owner", "--exit-on-error", "-d", restored, str(dump)], info)
            done = time.monotonic()
            before, after = totals(info, source), totals(info, restored)
        finally:
            if not keep:
                _run(["dropdb", "--if-exists", restored], info)
    finally:
        if not keep and dump.parent == work:
            dump.unlink(missing_ok=True)
            work.rmdir()
    size = dump.stat().st_size if dump.exists() else None
    print(
        f"dumped {source} in {dumped - started:.1f}s"
        + (f" ({size} bytes at {dump})" if size is not None else "")
        + f", restored into {restored} in {done - dumped:.1f}s"
        + ("" if keep else " (dropped again)")
    )
    for name, rows in before.items():
        print(f"  {name}: {rows}")
    wrong = differences(before, after)
    for line in wrong:
        print(f"DIFFERENT {line}", file=sys.stderr)
    if not wrong:
        print("every total is equal in the restored database")
    return 1 if wrong else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--dump", type=Path, help="keep the dump at this path")
    parser.add_argument("--keep", action="store_true", help="keep the restored database too")
    args = parser.parse_args(argv)
    try:
        return backup_and_verify(args.database_url, dump=args.dump, keep=args.keep)
    except (StepFailed, psycopg.Error) as exc:
        print(f"backup/restore failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
