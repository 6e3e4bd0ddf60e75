from __future__ import annotations

from datetime import time

from django.db import models
from django.utils.translation import gettext_lazy as _


class Warehouse(models.Model):
    """A city warehouse: everything ordered before its cutoff leaves it next morning."""

    name = models.CharField(_("name"), max_length=60)
    city = models.CharField(_("city"), max_length=30)
    address = models.CharField(_("address"), max_length=200)
    cutoff_time = models.TimeField(_("daily cutoff"), default=time(23, 0))
    pickup_time = models.TimeField(_("earliest pickup next day"), default=time(10, 0))
    is_default = models.BooleanField(_("default warehouse"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["pk"]
        constraints = [
            # At most one default: the storefront falls back to it before a
            # shopper has chosen a pickup point.
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="catalog_one_default_warehouse",
            )
        ]

    def __str__(self) -> str:
        return f"{self.city} · {self.name}"
