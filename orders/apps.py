from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        checks.register(check_order_settings, checks.Tags.compatibility)
        from .segments import register_segments

        register_segments()  # marketing's "inactive for N days" reads paid orders


def check_order_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A bad uncollected deadline stops start-up instead of failing in the nightly task."""
    from .services.pickup import uncollected_rule

    try:
        uncollected_rule()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="orders.E001")]
    return []
