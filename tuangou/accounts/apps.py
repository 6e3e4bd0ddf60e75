from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "tuangou.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from PIL import Image

        from catalog.images import MAX_PIXELS

        from .roles import sync_roles

        # Every Image.open refuses a decompression bomb (Pillow warns above
        # the limit and refuses above twice it); uploads are checked below it.
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS

        # Roles follow the permissions of every app, so sync after each migrate.
        post_migrate.connect(sync_roles, dispatch_uid="accounts.sync_roles")

        # The signed-in user is cached (user_cache): every write of a user
        # makes their entry stale, whoever wrote it (allauth, axes, the admin).
        from . import user_cache
        from .models import User

        post_save.connect(user_cache.on_user_saved, sender=User, dispatch_uid="accounts.uc.save")
        post_delete.connect(
            user_cache.on_user_deleted, sender=User, dispatch_uid="accounts.uc.delete"
        )
        for through in (User.groups.through, User.user_permissions.through):
            m2m_changed.connect(
                user_cache.on_user_relations_changed,
                sender=through,
                dispatch_uid=f"accounts.uc.m2m.{through._meta.label}",
            )

        # The admin has loaded every app's admin module by now (its own ready()
        # runs first): no admin action runs on view permission alone.
        from django.contrib import admin

        from .admin_actions import require_permission_for_actions

        require_permission_for_actions(admin.site)
