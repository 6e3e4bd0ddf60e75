"""Demo data for the whole platform, idempotent: run it as often as you like.

Each app that has demo objects provides `<app>/demo.py` with
`seed(*, stdout) -> None`; they run in the order of settings.LOCAL_APPS so
that later apps can use what earlier ones made. A module may also have
`seed_late(*, stdout)`, run after every app's seed (marketing's orders).
"""

from __future__ import annotations

import importlib

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create or refresh the demo data (Chinese shop, leaders, orders, staff logins)."

    def handle(self, *args, **options) -> None:
        late = []
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
            if hasattr(module, "seed_late"):
                late.append(module)
        # A second pass for demo data that needs later apps' (marketing's
        # orders with coupons and points need the orders demo's shop).
        for module in late:
            with transaction.atomic():
                module.seed_late(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
