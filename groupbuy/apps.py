from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupbuyConfig(AppConfig):
    name = "groupbuy"
    verbose_name = _("Groupbuy")
