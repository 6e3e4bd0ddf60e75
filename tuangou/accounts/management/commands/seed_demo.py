"""Demo data for the whole platform, idempotent: run it as often as you like.

Each app that has demo objects provides `<app>/demo.py` with
`seed(*, stdout) -> None`; they run in the order of settings.LOCAL_APPS so
that later apps can use what earlier ones made.
"""

from __future__ import annotations

import importlib

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create or refresh the demo data (Chinese shop, leaders, orders, staff logins)."

    def handle(self, *args, **options) -> None:
        for app in settings.LOCAL_APPS:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            with transaction.atomic():
                module.seed(stdout=self.stdout)
            self.stdout.write(f"  seeded {app}")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
