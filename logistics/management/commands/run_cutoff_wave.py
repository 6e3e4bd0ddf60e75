"""manage.py run_cutoff_wave --warehouse ID --date YYYY-MM-DD: build (or rebuild) a wave now."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Warehouse
from logistics.services.wave import WaveError, problem_messages, run_wave


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a date like 2026-11-26, not {value!r}") from None


class Command(BaseCommand):
    help = "Build the cutoff wave of one warehouse for one delivery date (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--warehouse", type=int, required=True, help="warehouse id")
        parser.add_argument("--date", required=True, help="delivery date, YYYY-MM-DD")

    def handle(self, *args, warehouse: int, date: str, **options):
        day = _day(date)
        found = Warehouse.objects.filter(pk=warehouse).first()
        if found is None:
            raise CommandError(f"No warehouse with id {warehouse}.")
        try:
            wave = run_wave(warehouse=found, delivery_date=day)
        except WaveError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"wave {wave.pk} {found} {day:%Y-%m-%d}: {wave.order_count} orders, "
            f"{wave.line_count} lines, {wave.unit_count} units, {wave.runs.count()} runs"
        )
        for message in problem_messages(wave):
            self.stdout.write(f"! {message}")
