"""Rebuild the analytics facts of a date range: `manage.py rebuild_facts --start 2026-09-01
--end 2026-11-30` (or `--days 14` for the closed days up to yesterday, like the nightly job).

Idempotent (analytics.facts.rebuild_facts); a long range is rebuilt a month at a
time, each builder committing its own range, so reports keep answering meanwhile.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from analytics.facts import MAX_RANGE_DAYS, rebuild_facts, rebuild_shopper_spans
from tuangou.timeutils import local_today

CHUNK_DAYS = 31


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = "Rebuild the analytics fact tables for a range of days (Shanghai), idempotently."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--start", help="first day, YYYY-MM-DD")
        parser.add_argument("--end", help="last day, YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--days", type=int, help="the last N closed days instead of --start")

    def handle(self, *args, **options) -> None:
        yesterday = local_today() - timedelta(days=1)
        end = _day(options["end"]) if options["end"] else yesterday
        if options["days"]:
            if options["days"] < 1:
                raise CommandError("--days must be at least 1")
            start = end - timedelta(days=options["days"] - 1)
        elif options["start"]:
            start = _day(options["start"])
        else:
            raise CommandError("give --start or --days")
        if end < start:
            raise CommandError("the end is before the start")
        if (end - start).days + 1 > MAX_RANGE_DAYS * 4:
            raise CommandError("a range of at most a few years, please")
        totals: dict[str, int] = {}
        chunked = (end - start).days + 1 > CHUNK_DAYS
        first = start
        while first <= end:
            last = min(end, first + timedelta(days=CHUNK_DAYS - 1))
            # Several chunks: the shopper spans once at the end, not once a chunk.
            for name, n in rebuild_facts(start=first, end=last, spans=not chunked).items():
                totals[name] = totals.get(name, 0) + n
            first = last + timedelta(days=1)
        if chunked:
            rebuild_shopper_spans(t0=date.min, t1=date.max)
        rows = ", ".join(f"{name} {n}" for name, n in totals.items())
        self.stdout.write(f"facts rebuilt for {start}..{end}: {rows}")
